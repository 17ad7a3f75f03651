/**
 * The TCP header (RFC 9293 §3.1): 20 fixed bytes, then options up to the data offset.
 *
 * Contract:
 * - `parseTcpHeader(buf)`: `buf` starts at the TCP header (the IP header already stripped).
 *   Errors: fewer than 20 bytes, or fewer than the data offset says → `truncated`; a data offset
 *   < 5 words → `bad-length`; malformed options → the options error (offset relative to `buf`).
 *   `length` and `payloadOffset` are the header length in bytes. Never throws.
 * - The ACK *number* is `ack`; the ACK *flag* is `ackFlag` (both cannot be called `ack`).
 * - `emitTcpHeader` / `encodeTcpHeader` write a header (checksum as given, normally 0 for the
 *   caller to fill) with its options padded to a multiple of 4.
 */
import { emitTcpOptions, parseTcpOptions, type TcpOption, tcpOptionsEncodedLength } from './tcp-options.js';
import { type ParseResult, WireError } from './types.js';

export const TCP_HEADER_MIN_BYTES = 20;
const OFF_SRC_PORT = 0;
const OFF_DST_PORT = 2;
const OFF_SEQ = 4;
const OFF_ACK = 8;
const OFF_DATA_OFFSET = 12; // high nibble: header length in 32-bit words; low nibble: reserved + AE
const OFF_FLAGS = 13;
const OFF_WINDOW = 14;
const OFF_CHECKSUM = 16;
const OFF_URGENT = 18;

/** Flag bits of byte 13 (RFC 9293 §3.1; ECE/CWR from RFC 3168). */
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

export interface TcpHeader {
  srcPort: number;
  dstPort: number;
  /** Sequence number (unsigned 32 bits). */
  seq: number;
  /** Acknowledgment number (unsigned 32 bits); meaningful when `ackFlag`. */
  ack: number;
  /** Header length in bytes (data offset × 4). */
  dataOffset: number;
  /** The 12 bits after the data offset: 4 reserved/AE bits then CWR ECE URG ACK PSH RST SYN FIN. */
  flags: number;
  syn: boolean;
  ackFlag: boolean;
  fin: boolean;
  rst: boolean;
  psh: boolean;
  urg: boolean;
  window: number;
  checksum: number;
  urgentPointer: number;
  options: TcpOption[];
  /** Where the payload starts in `buf` (equals `dataOffset`). */
  payloadOffset: number;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Parses a TCP header (see the module contract). */
export function parseTcpHeader(buf: Uint8Array): ParseResult<TcpHeader> {
  if (buf.length < TCP_HEADER_MIN_BYTES) {
    return {
      ok: false,
      error: new WireError('truncated', `TCP header of ${buf.length} bytes < 20`, buf.length),
    };
  }
  const dataOffset = (buf[OFF_DATA_OFFSET]! >> 4) * 4;
  if (dataOffset < TCP_HEADER_MIN_BYTES) {
    return {
      ok: false,
      error: new WireError('bad-length', `TCP data offset ${dataOffset} < 20`, OFF_DATA_OFFSET),
    };
  }
  if (dataOffset > buf.length) {
    return {
      ok: false,
      error: new WireError(
        'truncated',
        `TCP data offset ${dataOffset} > ${buf.length} bytes`,
        OFF_DATA_OFFSET,
      ),
    };
  }
  const r = parseTcpOptions(buf.subarray(TCP_HEADER_MIN_BYTES, dataOffset));
  if (!r.ok) {
    return {
      ok: false,
      error: new WireError(r.error.code, r.error.message, TCP_HEADER_MIN_BYTES + r.error.offset),
    };
  }
  const flagByte = buf[OFF_FLAGS]!;
  return {
    ok: true,
    value: {
      srcPort: u16(buf, OFF_SRC_PORT),
      dstPort: u16(buf, OFF_DST_PORT),
      seq: u32(buf, OFF_SEQ),
      ack: u32(buf, OFF_ACK),
      dataOffset,
      flags: ((buf[OFF_DATA_OFFSET]! & 0x0f) << 8) | flagByte,
      syn: (flagByte & TcpFlag.SYN) !== 0,
      ackFlag: (flagByte & TcpFlag.ACK) !== 0,
      fin: (flagByte & TcpFlag.FIN) !== 0,
      rst: (flagByte & TcpFlag.RST) !== 0,
      psh: (flagByte & TcpFlag.PSH) !== 0,
      urg: (flagByte & TcpFlag.URG) !== 0,
      window: u16(buf, OFF_WINDOW),
      checksum: u16(buf, OFF_CHECKSUM),
      urgentPointer: u16(buf, OFF_URGENT),
      options: r.value,
      payloadOffset: dataOffset,
    },
    length: dataOffset,
  };
}

/** What `emitTcpHeader` needs; omitted numbers are 0. */
export interface TcpHeaderInit {
  srcPort: number;
  dstPort: number;
  seq?: number;
  ack?: number;
  /** The 12 flag bits (see TcpFlag). */
  flags: number;
  window?: number;
  checksum?: number;
  urgentPointer?: number;
  options?: readonly TcpOption[];
}

/** Header length in bytes for `h` (20 + padded options). */
export function tcpHeaderEncodedLength(h: TcpHeaderInit): number {
  return TCP_HEADER_MIN_BYTES + tcpOptionsEncodedLength(h.options ?? []);
}

function check(v: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw new WireError('bad-value', `TCP ${what} ${v} not in 0…${max}`);
  return v;
}

/** Writes a TCP header at `offset`; returns its length in bytes. */
export function emitTcpHeader(h: TcpHeaderInit, out: Uint8Array, offset: number): number {
  const len = tcpHeaderEncodedLength(h);
  const src = check(h.srcPort, 0xffff, 'source port');
  const dst = check(h.dstPort, 0xffff, 'destination port');
  const seq = check(h.seq ?? 0, 0xffffffff, 'sequence number');
  const ack = check(h.ack ?? 0, 0xffffffff, 'acknowledgment number');
  const flags = check(h.flags, 0xfff, 'flags');
  const window = check(h.window ?? 0, 0xffff, 'window');
  const checksum = check(h.checksum ?? 0, 0xffff, 'checksum');
  const urgent = check(h.urgentPointer ?? 0, 0xffff, 'urgent pointer');
  if (!Number.isInteger(offset) || offset < 0 || offset + len > out.length) {
    throw new WireError('too-large', `TCP header of ${len} bytes does not fit at offset ${offset}`, offset);
  }
  emitTcpOptions(h.options ?? [], out, offset + TCP_HEADER_MIN_BYTES);
  const o = offset;
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint16(o + OFF_SRC_PORT, src);
  dv.setUint16(o + OFF_DST_PORT, dst);
  dv.setUint32(o + OFF_SEQ, seq);
  dv.setUint32(o + OFF_ACK, ack);
  out[o + OFF_DATA_OFFSET] = ((len / 4) << 4) | (flags >> 8);
  out[o + OFF_FLAGS] = flags & 0xff;
  dv.setUint16(o + OFF_WINDOW, window);
  dv.setUint16(o + OFF_CHECKSUM, checksum);
  dv.setUint16(o + OFF_URGENT, urgent);
  return len;
}

/** A TCP header in a new buffer. */
export function encodeTcpHeader(h: TcpHeaderInit): Uint8Array {
  const out = new Uint8Array(tcpHeaderEncodedLength(h));
  emitTcpHeader(h, out, 0);
  return out;
}
