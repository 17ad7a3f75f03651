/**
 * DSS mapping bookkeeping for the decoder: which payload bytes each mapping covered, and whether the
 * mappings of one sender form a contiguous data sequence space.
 *
 * Definitions (RFC 8684 §3.3.1; Linux net/mptcp):
 * - The subflow sequence number of a mapping is relative to the subflow's initial sequence number:
 *   relative SSN = TCP seq − ISN (mod 2^32), so the first payload byte has relative SSN 1. Linux keeps
 *   the ISN as `subflow->ssn_offset` (the SYN's or SYN/ACK's seq, subflow.c) and maps
 *   `map_subflow_seq = mpext->subflow_seq + ssn_offset`.
 * - When the DATA_FIN flag is set, the Data-Level Length counts the DATA_FIN (one data sequence
 *   number, no payload byte): a mapping of length L with F set covers L − 1 payload bytes. A DATA_FIN
 *   sent without data has SSN 0 and length 1 (Linux `mptcp_write_data_fin`, options.c).
 * - Length 0 is the infinite mapping (fallback, §3.7): nothing to check, not counted.
 * - The first data sequence number a side sends is IDSN(its key) + 1 (§3.1). 32-bit DSNs are expanded
 *   against that start (valid for the first 4 GiB of a connection).
 *
 * A mapping is "mismatched" when a segment attributed to it lies (partly) outside it, when the
 * captured segments do not cover all its payload bytes, when its DSN range starts after a gap in
 * its sender's data sequence space, or when it carries a DSS checksum the payload does not give.
 */

import { dssChecksumOfChunks } from '../wire/index.js';

const MASK64 = (1n << 64n) - 1n;
/** How many earlier mappings of a direction are searched for a retransmitted segment. */
const MAX_MAPPING_LOOKBACK = 256;

export interface MappingState {
  dsn: bigint;
  dsn64: boolean;
  /** Relative subflow sequence number of the first byte (see module header). */
  ssn: number;
  /** Data-level length (DATA_FIN included). */
  length: number;
  dataFin: boolean;
  /** DSS checksum from the option, when checksums are in use. */
  checksum?: number;
  /** The 64-bit DSN (expanded from 32 bits against the sender's IDSN), set by checkContinuity. */
  fullDsn?: bigint;
  /** Payload captured for the mapping: [from, to) offsets within its payload and the bytes. */
  covered: [number, number, Uint8Array][];
  problems: string[];
  /** Where the mapping was seen, for problem messages ("a:p -> b:p"). */
  where: string;
}

/** Payload bytes a mapping covers on the subflow. */
export function payloadBytes(m: MappingState): number {
  return m.dataFin ? m.length - 1 : m.length;
}

/** One direction of one subflow. */
export class Direction {
  isn: number | undefined;
  bytes = 0;
  readonly mappings: MappingState[] = [];
  private readonly byKey = new Map<string, MappingState>();
  private current: MappingState | undefined;
  /** Payload segments no mapping accounted for. */
  unmappedSegments = 0;

  constructor(readonly where: string) {}

  /** Registers a mapping from a DSS option (or an MP_CAPABLE with data); returns the one kept. */
  addMapping(
    dsn: bigint,
    dsn64: boolean,
    ssn: number,
    length: number,
    dataFin: boolean,
    checksum?: number,
  ): MappingState | undefined {
    if (length === 0) return undefined; // infinite mapping
    const key = `${dsn}:${ssn}:${length}:${dataFin}`;
    let m = this.byKey.get(key);
    if (!m) {
      m = { dsn, dsn64, ssn, length, dataFin, checksum, covered: [], problems: [], where: this.where };
      this.byKey.set(key, m);
      this.mappings.push(m);
    }
    if (payloadBytes(m) > 0) this.current = m;
    return m;
  }

  /** Accounts a payload segment at TCP sequence `seq`; `own` is the mapping carried by the segment. */
  addPayload(seq: number, payload: Uint8Array, own: MappingState | undefined, problems: string[]): void {
    const len = payload.length;
    this.bytes += len;
    if (this.isn === undefined) {
      this.unmappedSegments++;
      return;
    }
    const rel = (seq - this.isn) >>> 0;
    const offsetIn = (m: MappingState): number => (rel - m.ssn) >>> 0;
    const fits = (m: MappingState): boolean => offsetIn(m) + len <= payloadBytes(m);
    let m = own && payloadBytes(own) > 0 ? own : undefined;
    if (m && !fits(m)) {
      m.problems.push(
        `${this.where}: segment at ssn ${rel}+${len} outside its mapping ssn ${m.ssn}+${payloadBytes(m)}`,
      );
      return;
    }
    if (!m && this.current && fits(this.current)) m = this.current;
    for (
      let i = this.mappings.length - 1;
      !m && i >= Math.max(0, this.mappings.length - MAX_MAPPING_LOOKBACK);
      i--
    ) {
      const cand = this.mappings[i]!;
      if (payloadBytes(cand) > 0 && fits(cand)) m = cand;
    }
    if (!m) {
      this.unmappedSegments++;
      if (this.mappings.length > 0)
        problems.push(`${this.where}: payload at ssn ${rel}+${len} matches no mapping`);
      return;
    }
    const off = offsetIn(m);
    m.covered.push([off, off + len, payload]);
  }
}

/**
 * The mapping's payload in order, each byte once (retransmitted copies are dropped), or undefined
 * when the captured segments do not cover it all; in that case a problem is recorded.
 */
export function checkCoverage(m: MappingState): Uint8Array[] | undefined {
  const want = payloadBytes(m);
  const spans = [...m.covered].sort((a, b) => a[0] - b[0]);
  const chunks: Uint8Array[] = [];
  let end = 0;
  for (const [from, to, bytes] of spans) {
    if (from > end) break;
    if (to > end) {
      chunks.push(bytes.subarray(end - from));
      end = to;
    }
  }
  if (end < want) {
    m.problems.push(`${m.where}: mapping ssn ${m.ssn}+${want}: only ${end} leading payload bytes captured`);
    return undefined;
  }
  return chunks;
}

/**
 * Checks that the mappings one side sent form a contiguous data sequence space starting at `start`
 * (IDSN + 1 of the sender's key), or at the lowest DSN seen when the key is unknown.
 */
export function checkContinuity(mappings: MappingState[], start: bigint | undefined): void {
  if (mappings.length === 0) return;
  const base =
    start ??
    mappings
      .filter((m) => m.dsn64)
      .reduce<bigint | undefined>((a, m) => (a === undefined || m.dsn < a ? m.dsn : a), undefined);
  if (base === undefined) return;
  const rel = (m: MappingState): bigint =>
    m.dsn64
      ? (m.dsn - base) & MASK64
      : BigInt((Number(m.dsn & 0xffffffffn) - Number(base & 0xffffffffn)) >>> 0);
  const sorted = mappings.map((m) => ({ m, r: rel(m) })).sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0));
  let covered = 0n;
  for (const { m, r } of sorted) {
    m.fullDsn = (base + r) & MASK64;
    if (r > covered) {
      m.problems.push(
        `${m.where}: DSN gap: mapping starts ${r - covered} bytes after the data sequence space seen so far`,
      );
    }
    const end = r + BigInt(m.length);
    if (end > covered) covered = end;
  }
}

/**
 * Recomputes the DSS checksum of a fully captured mapping (RFC 8684 §3.3.1: pseudo-header of the
 * 64-bit DSN, relative SSN, data-level length, then the payload); undefined when the option carried
 * no checksum or the 64-bit DSN is not known. A wrong checksum is recorded as a problem.
 *
 * A DATA_FIN-only mapping (no payload) is not checked: Linux fills its checksum from a stale field
 * (`mptcp_write_data_fin` does not reset `ext->csum`, options.c) and its receiver consumes such a
 * mapping before `validate_data_csum` (subflow.c), so captures of Linux peers carry arbitrary values.
 */
export function checkChecksum(
  m: MappingState,
  chunks: readonly Uint8Array[],
): 'verified' | 'failed' | undefined {
  if (m.checksum === undefined || m.fullDsn === undefined || payloadBytes(m) === 0) return undefined;
  const want = dssChecksumOfChunks(m.fullDsn, m.ssn, m.length, chunks);
  if (want === m.checksum) return 'verified';
  m.problems.push(
    `${m.where}: mapping ssn ${m.ssn}+${payloadBytes(m)}: DSS checksum 0x${m.checksum.toString(16)}, payload gives 0x${want.toString(16)}`,
  );
  return 'failed';
}
