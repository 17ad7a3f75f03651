/**
 * The DSS checksum (RFC 8684 §3.3.1): the 16-bit one's complement of the one's complement sum of
 * a pseudo-header — 64-bit DSN, 32-bit relative subflow sequence number, 16-bit data-level length,
 * 16 zero bits — followed by the mapped payload (padded with a zero byte when odd). The DSN is
 * always the full 64-bit value, whatever width the DSS option carries (as Linux
 * `__mptcp_make_csum`). Pure functions; never throw for in-range inputs.
 */

/** One's complement sum (folded to 16 bits) of `bytes` as big-endian words, continuing `sum`. */
function addBytes(sum: number, bytes: Uint8Array, oddFirst: boolean): number {
  let s = sum;
  let i = 0;
  const n = bytes.length;
  // A chunk that starts in the middle of a 16-bit word contributes its first byte as a low byte.
  if (oddFirst && n > 0) {
    s += bytes[0]!;
    i = 1;
  }
  const end = n - ((n - i) & 1);
  for (; i < end; i += 2) s += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < n) s += bytes[i]! << 8;
  // Fold: s stays far below 2^53 for any payload under 2^36 bytes.
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

function pseudoHeaderSum(dsn: bigint, ssn: number, dataLevelLength: number): number {
  const d = BigInt.asUintN(64, dsn);
  const hi = Number(d >> 32n);
  const lo = Number(d & 0xffffffffn);
  return (
    (hi >>> 16) +
    (hi & 0xffff) +
    (lo >>> 16) +
    (lo & 0xffff) +
    (ssn >>> 16) +
    (ssn & 0xffff) +
    (dataLevelLength & 0xffff)
  );
}

/** The DSS checksum of a mapping whose payload is `payload` (the value to put in the option). */
export function dssChecksum(dsn: bigint, ssn: number, dataLevelLength: number, payload: Uint8Array): number {
  return ~addBytes(pseudoHeaderSum(dsn, ssn, dataLevelLength), payload, false) & 0xffff;
}

/** The DSS checksum of a mapping whose payload arrives in several chunks (any lengths). */
export function dssChecksumOfChunks(
  dsn: bigint,
  ssn: number,
  dataLevelLength: number,
  chunks: readonly Uint8Array[],
): number {
  let s = pseudoHeaderSum(dsn, ssn, dataLevelLength);
  let odd = false;
  for (const c of chunks) {
    s = addBytes(s, c, odd);
    if (c.length & 1) odd = !odd;
  }
  return ~s & 0xffff;
}

/**
 * Whether a received checksum is right: the sum over pseudo-header (checksum field included) and
 * payload must be 0xffff, as Linux `__mptcp_check_data_csum` checks.
 */
export function dssChecksumValid(
  dsn: bigint,
  ssn: number,
  dataLevelLength: number,
  payload: Uint8Array,
  checksum: number,
): boolean {
  return (
    addBytes(pseudoHeaderSum(dsn, ssn, dataLevelLength) + (checksum & 0xffff), payload, false) === 0xffff
  );
}
