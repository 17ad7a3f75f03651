/**
 * Capture-file reader: classic pcap and pcapng, from bytes already in memory.
 *
 * Why not an npm package: the ones that exist (pcap-parser, pcap-ng-parser) are stream-based,
 * unmaintained, read one of the two formats each, and do not bound record sizes or report the
 * offset of malformed input. This reader is ~250 lines, synchronous and allocation-light (packet
 * bytes are views into the input).
 *
 * Formats (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap and draft-ietf-opsawg-pcapng):
 * - pcap: both byte orders, microsecond (magic a1b2c3d4) and nanosecond (a1b23c4d) timestamps.
 * - pcapng: Section Header Blocks in either byte order (several sections allowed), Interface
 *   Description Blocks (link type, if_tsresol, if_tsoffset per interface), Enhanced Packet Blocks,
 *   Simple Packet Blocks and the obsolete Packet Block; every other block type is skipped.
 *
 * Contract:
 * - `readPackets` yields the packets in file order and throws only `PcapError` (with the byte
 *   offset of the bad record or block). Packets before the problem have been yielded by then.
 * - Every length read from the file is checked against the bytes left before it is used; a record
 *   may hold at most MAX_PACKET_BYTES and a pcapng block at most MAX_BLOCK_BYTES. Every loop
 *   advances by at least one header, so any input terminates.
 */
import { PcapError } from './errors.js';

/** Largest packet record accepted, in bytes (libpcap's MAXIMUM_SNAPLEN). */
export const MAX_PACKET_BYTES = 262_144;
/** Largest pcapng block accepted, in bytes. */
export const MAX_BLOCK_BYTES = 16 * 1024 * 1024;

/** pcap global header: magic 0, version 4, thiszone 8, sigfigs 12, snaplen 16, linktype 20. */
const PCAP_HEADER_BYTES = 24;
/** pcap record header: ts_sec 0, ts_frac 4, incl_len 8, orig_len 12. */
const PCAP_RECORD_HEADER_BYTES = 16;
const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
const PCAP_MAGIC_NANOS = 0xa1b23c4d;

const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_IDB = 0x00000001;
const PCAPNG_OPB = 0x00000002;
const PCAPNG_SPB = 0x00000003;
const PCAPNG_EPB = 0x00000006;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** Block type (4) + block total length (4) + trailing block total length (4). */
const PCAPNG_BLOCK_OVERHEAD = 12;
const OPT_ENDOFOPT = 0;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;
/** Default if_tsresol: 10^-6 s. */
const DEFAULT_TSRESOL = 6;

export type CaptureFormat = 'pcap' | 'pcapng';

export interface CapturedPacket {
  /** Position of the packet among the packets of the file, from 0. */
  index: number;
  /** Byte offset of the packet's record (pcap) or block (pcapng) in the file. */
  offset: number;
  /** LINKTYPE_* of the packet's interface (https://www.tcpdump.org/linktypes.html). */
  linkType: number;
  /** Capture time, microseconds since the Unix epoch (truncated from finer resolutions); 0 for a
   *  pcapng Simple Packet Block, which has no timestamp. */
  tsMicros: number;
  /** The captured bytes (a view into the input); may be shorter than `origLen`. */
  data: Uint8Array;
  /** Length of the packet on the wire, in bytes. */
  origLen: number;
}

/** Tells the format from the first bytes; throws PcapError when it is neither. */
export function captureFormat(buf: Uint8Array): CaptureFormat {
  if (buf.length < 4) throw new PcapError(`file too short (${buf.length} bytes) for a capture header`, 0);
  const dv = view(buf);
  const be = dv.getUint32(0, false);
  const le = dv.getUint32(0, true);
  if (be === PCAPNG_SHB) return 'pcapng';
  if (
    le === PCAP_MAGIC_MICROS ||
    le === PCAP_MAGIC_NANOS ||
    be === PCAP_MAGIC_MICROS ||
    be === PCAP_MAGIC_NANOS
  ) {
    return 'pcap';
  }
  throw new PcapError(`not a pcap or pcapng file (magic 0x${be.toString(16).padStart(8, '0')})`, 0);
}

/** Yields every packet of a pcap or pcapng file. Throws PcapError only. */
export function* readPackets(buf: Uint8Array): Generator<CapturedPacket> {
  if (captureFormat(buf) === 'pcap') yield* readPcap(buf);
  else yield* readPcapng(buf);
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function* readPcap(buf: Uint8Array): Generator<CapturedPacket> {
  if (buf.length < PCAP_HEADER_BYTES) {
    throw new PcapError(`pcap header truncated (${buf.length} of ${PCAP_HEADER_BYTES} bytes)`, 0);
  }
  const dv = view(buf);
  const magicLe = dv.getUint32(0, true);
  const le = magicLe === PCAP_MAGIC_MICROS || magicLe === PCAP_MAGIC_NANOS;
  const nanos = (le ? magicLe : dv.getUint32(0, false)) === PCAP_MAGIC_NANOS;
  const major = dv.getUint16(4, le);
  if (major !== 2) throw new PcapError(`unsupported pcap version ${major}`, 4);
  // The low 16 bits are the link type; the upper bits may carry FCS information.
  const linkType = dv.getUint32(20, le) & 0xffff;
  let off = PCAP_HEADER_BYTES;
  let index = 0;
  while (off < buf.length) {
    if (buf.length - off < PCAP_RECORD_HEADER_BYTES) {
      throw new PcapError(`record header truncated (${buf.length - off} of 16 bytes)`, off);
    }
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const inclLen = dv.getUint32(off + 8, le);
    const origLen = dv.getUint32(off + 12, le);
    if (inclLen > MAX_PACKET_BYTES) {
      throw new PcapError(`record length ${inclLen} exceeds ${MAX_PACKET_BYTES} bytes`, off);
    }
    const start = off + PCAP_RECORD_HEADER_BYTES;
    if (buf.length - start < inclLen) {
      throw new PcapError(`record truncated (${buf.length - start} of ${inclLen} bytes)`, off);
    }
    const tsMicros = sec * 1e6 + (nanos ? Math.floor(frac / 1000) : frac);
    yield { index, offset: off, linkType, tsMicros, data: buf.subarray(start, start + inclLen), origLen };
    index++;
    off = start + inclLen;
  }
}

interface PcapngInterface {
  linkType: number;
  snapLen: number;
  /** if_tsresol byte: bit 7 clear → 10^-n s, set → 2^-n s. */
  tsresol: number;
  /** if_tsoffset, seconds. */
  tsoffset: bigint;
}

function* readPcapng(buf: Uint8Array): Generator<CapturedPacket> {
  const dv = view(buf);
  let le = true;
  let interfaces: PcapngInterface[] = [];
  let off = 0;
  let index = 0;
  while (off < buf.length) {
    if (buf.length - off < PCAPNG_BLOCK_OVERHEAD) {
      throw new PcapError(`block header truncated (${buf.length - off} bytes left)`, off);
    }
    const type = dv.getUint32(off, le);
    if (type === PCAPNG_SHB) {
      // The byte-order magic follows the length; the length must be read in the section's order.
      if (buf.length - off < 16) throw new PcapError('section header block truncated', off);
      const bom = dv.getUint32(off + 8, true);
      if (bom === PCAPNG_BYTE_ORDER_MAGIC) le = true;
      else if (dv.getUint32(off + 8, false) === PCAPNG_BYTE_ORDER_MAGIC) le = false;
      else throw new PcapError(`bad byte-order magic 0x${bom.toString(16)}`, off + 8);
      interfaces = [];
    }
    const total = dv.getUint32(off + 4, le);
    if (total < PCAPNG_BLOCK_OVERHEAD || total % 4 !== 0) {
      throw new PcapError(`bad block length ${total}`, off + 4);
    }
    if (total > MAX_BLOCK_BYTES)
      throw new PcapError(`block length ${total} exceeds ${MAX_BLOCK_BYTES}`, off + 4);
    if (buf.length - off < total) {
      throw new PcapError(`block truncated (${buf.length - off} of ${total} bytes)`, off);
    }
    if (dv.getUint32(off + total - 4, le) !== total) {
      throw new PcapError('trailing block length differs from the leading one', off + total - 4);
    }
    const body = off + 8;
    const bodyLen = total - PCAPNG_BLOCK_OVERHEAD;
    if (type === PCAPNG_SHB) {
      if (bodyLen < 16) throw new PcapError('section header block too short', off);
      const major = dv.getUint16(body + 4, le);
      if (major !== 1) throw new PcapError(`unsupported pcapng version ${major}`, body + 4);
    } else if (type === PCAPNG_IDB) {
      if (bodyLen < 8) throw new PcapError('interface description block too short', off);
      const iface: PcapngInterface = {
        linkType: dv.getUint16(body, le),
        snapLen: dv.getUint32(body + 4, le),
        tsresol: DEFAULT_TSRESOL,
        tsoffset: 0n,
      };
      readOptions(dv, body + 8, body + bodyLen, le, (code, at, len) => {
        if (code === IF_TSRESOL && len >= 1) iface.tsresol = dv.getUint8(at);
        if (code === IF_TSOFFSET && len >= 8) iface.tsoffset = dv.getBigInt64(at, le);
      });
      interfaces.push(iface);
    } else if (type === PCAPNG_EPB || type === PCAPNG_OPB) {
      if (bodyLen < 20) throw new PcapError('packet block too short', off);
      // EPB: interface u32; OPB: interface u16 + drops u16. Then ts high, ts low, caplen, origlen.
      const ifId = type === PCAPNG_EPB ? dv.getUint32(body, le) : dv.getUint16(body, le);
      const iface = interfaces[ifId];
      if (!iface) throw new PcapError(`packet on undeclared interface ${ifId}`, body);
      const units = (BigInt(dv.getUint32(body + 4, le)) << 32n) | BigInt(dv.getUint32(body + 8, le));
      const capLen = dv.getUint32(body + 12, le);
      const origLen = dv.getUint32(body + 16, le);
      if (capLen > MAX_PACKET_BYTES)
        throw new PcapError(`packet length ${capLen} exceeds ${MAX_PACKET_BYTES}`, body + 12);
      if (capLen > bodyLen - 20) throw new PcapError(`packet length ${capLen} overruns its block`, body + 12);
      const start = body + 20;
      yield {
        index,
        offset: off,
        linkType: iface.linkType,
        tsMicros: toMicros(units, iface),
        data: buf.subarray(start, start + capLen),
        origLen,
      };
      index++;
    } else if (type === PCAPNG_SPB) {
      if (bodyLen < 4) throw new PcapError('simple packet block too short', off);
      const iface = interfaces[0];
      if (!iface) throw new PcapError('simple packet block without an interface', off);
      const origLen = dv.getUint32(body, le);
      let capLen = Math.min(origLen, bodyLen - 4);
      if (iface.snapLen > 0) capLen = Math.min(capLen, iface.snapLen);
      if (capLen > MAX_PACKET_BYTES)
        throw new PcapError(`packet length ${capLen} exceeds ${MAX_PACKET_BYTES}`, body);
      const start = body + 4;
      yield {
        index,
        offset: off,
        linkType: iface.linkType,
        tsMicros: 0,
        data: buf.subarray(start, start + capLen),
        origLen,
      };
      index++;
    }
    off += total;
  }
}

/** Walks pcapng options in [from, end); stops at opt_endofopt or at the first one that overruns. */
function readOptions(
  dv: DataView,
  from: number,
  end: number,
  le: boolean,
  onOption: (code: number, at: number, len: number) => void,
): void {
  let at = from;
  while (end - at >= 4) {
    const code = dv.getUint16(at, le);
    const len = dv.getUint16(at + 2, le);
    if (code === OPT_ENDOFOPT) return;
    if (len > end - at - 4) throw new PcapError(`option ${code} overruns its block`, at);
    onOption(code, at + 4, len);
    at += 4 + ((len + 3) & ~3);
  }
}

function toMicros(units: bigint, iface: PcapngInterface): number {
  const exp = iface.tsresol & 0x7f;
  let micros: bigint;
  if (iface.tsresol & 0x80) micros = (units * 1_000_000n) >> BigInt(exp);
  else if (exp <= 6) micros = units * 10n ** BigInt(6 - exp);
  else micros = units / 10n ** BigInt(exp - 6);
  return Number(micros + iface.tsoffset * 1_000_000n);
}
