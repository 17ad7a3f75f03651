/**
 * Netlink messages (struct nlmsghdr, include/uapi/linux/netlink.h): framing, NLMSG_ERROR with
 * extended ACK, NLMSG_DONE and multi-part replies.
 *
 * Wire format: u32 nlmsg_len (header included), u16 nlmsg_type, u16 nlmsg_flags, u32 nlmsg_seq,
 * u32 nlmsg_pid, then the payload; messages in one datagram are each padded to NLMSG_ALIGNTO (4).
 * Host byte order (little-endian).
 *
 * Contract:
 * - `parseMessages` splits one received datagram into messages; it never throws, never reads past
 *   its input, and reports a malformed tail with `truncated: true`. Payloads are views.
 * - `parseErrorPayload` decodes an NLMSG_ERROR payload (error 0 is an ACK) including the extended
 *   ACK TLVs (NLMSGERR_ATTR_MSG text, NLMSGERR_ATTR_OFFS) when NLM_F_ACK_TLVS is set; undefined
 *   when the payload is too short to be one.
 * - `emitMessage` frames a payload; `encodedLength` is the size it produces.
 */
import { findAttr, parseAttributes, readString, readU32 } from './attributes.js';

export const NLMSG_HDRLEN = 16;
export const NLMSG_ALIGNTO = 4;

// Header field offsets.
const OFF_LEN = 0;
const OFF_TYPE = 4;
const OFF_FLAGS = 6;
const OFF_SEQ = 8;
const OFF_PID = 12;

// Control message types.
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
/** Types below this are control messages; families start here. */
export const NLMSG_MIN_TYPE = 0x10;

// Flags.
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
/** On NLMSG_ERROR: the original request payload was not echoed (NETLINK_CAP_ACK). */
export const NLM_F_CAPPED = 0x100;
/** On NLMSG_ERROR: extended ACK TLVs follow. */
export const NLM_F_ACK_TLVS = 0x200;

// Extended ACK TLVs (enum nlmsgerr_attrs).
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;
export const NLMSGERR_ATTR_COOKIE = 3;
export const NLMSGERR_ATTR_POLICY = 4;
export const NLMSGERR_ATTR_MISS_TYPE = 5;
export const NLMSGERR_ATTR_MISS_NEST = 6;

export function nlmsgAlign(length: number): number {
  return (length + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
}

export interface NetlinkHeader {
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

export interface NetlinkMessage extends NetlinkHeader {
  /** The bytes after the 16-byte header, up to nlmsg_len. A view into the datagram. */
  payload: Uint8Array;
}

export interface ParsedMessages {
  messages: NetlinkMessage[];
  /** True when the datagram ended in a malformed or cut message (the rest was ignored). */
  truncated: boolean;
}

function dv(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Splits a datagram into netlink messages. Never throws. */
export function parseMessages(buf: Uint8Array): ParsedMessages {
  const messages: NetlinkMessage[] = [];
  const n = buf.length;
  let pos = 0;
  // Plain byte reads (host order = little-endian): no DataView per datagram.
  while (pos + NLMSG_HDRLEN <= n) {
    const len = u32le(buf, pos + OFF_LEN);
    if (len < NLMSG_HDRLEN || pos + len > n) return { messages, truncated: true };
    messages.push({
      type: buf[pos + OFF_TYPE]! | (buf[pos + OFF_TYPE + 1]! << 8),
      flags: buf[pos + OFF_FLAGS]! | (buf[pos + OFF_FLAGS + 1]! << 8),
      seq: u32le(buf, pos + OFF_SEQ),
      pid: u32le(buf, pos + OFF_PID),
      payload: buf.subarray(pos + NLMSG_HDRLEN, pos + len),
    });
    pos += nlmsgAlign(len);
  }
  return { messages, truncated: pos < n };
}

function u32le(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Size of the message `emitMessage` produces for a payload of `payloadLength` bytes. */
export function encodedLength(payloadLength: number): number {
  return NLMSG_HDRLEN + payloadLength;
}

/** Frames `payload` with a netlink header (nlmsg_len set). */
export function emitMessage(header: NetlinkHeader, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(encodedLength(payload.length));
  const d = dv(out);
  d.setUint32(OFF_LEN, out.length, true);
  d.setUint16(OFF_TYPE, header.type, true);
  d.setUint16(OFF_FLAGS, header.flags, true);
  d.setUint32(OFF_SEQ, header.seq >>> 0, true);
  d.setUint32(OFF_PID, header.pid >>> 0, true);
  out.set(payload, NLMSG_HDRLEN);
  return out;
}

/** A decoded NLMSG_ERROR (struct nlmsgerr + extended ACK). */
export interface NetlinkErrorPayload {
  /** 0 for an ACK, else a positive errno (the kernel sends it negated). */
  errno: number;
  /** Header of the request this answers. */
  request: NetlinkHeader;
  /** NLMSGERR_ATTR_MSG: the kernel's human-readable reason, when it gave one. */
  extackMessage?: string;
  /** NLMSGERR_ATTR_OFFS: offset in the request of the offending attribute. */
  extackOffset?: number;
}

const NLMSGERR_LEN = 4 + NLMSG_HDRLEN;

/** Decodes an NLMSG_ERROR payload; `flags` are the NLMSG_ERROR message's own flags. */
export function parseErrorPayload(payload: Uint8Array, flags: number): NetlinkErrorPayload | undefined {
  if (payload.length < NLMSGERR_LEN) return undefined;
  const d = dv(payload);
  const result: NetlinkErrorPayload = {
    // 0 - x, not -x: no minus zero for a success (V8 deoptimizes code specialised to integers).
    errno: 0 - d.getInt32(0, true),
    request: {
      type: d.getUint16(4 + OFF_TYPE, true),
      flags: d.getUint16(4 + OFF_FLAGS, true),
      seq: d.getUint32(4 + OFF_SEQ, true),
      pid: d.getUint32(4 + OFF_PID, true),
    },
  };
  if (flags & NLM_F_ACK_TLVS) {
    // Without NLM_F_CAPPED the whole original request follows the header copy.
    const requestLen = d.getUint32(4 + OFF_LEN, true);
    const tlvStart = flags & NLM_F_CAPPED ? NLMSGERR_LEN : 4 + nlmsgAlign(requestLen);
    if (tlvStart <= payload.length) {
      const { attrs } = parseAttributes(payload, tlvStart);
      const msg = readString(findAttr(attrs, NLMSGERR_ATTR_MSG));
      if (msg !== undefined) result.extackMessage = msg;
      const offs = readU32(findAttr(attrs, NLMSGERR_ATTR_OFFS));
      if (offs !== undefined) result.extackOffset = offs;
    }
  }
  return result;
}

/** Encodes an NLMSG_ERROR payload (capped, with TLVs when a message is given): for tests. */
export function emitErrorPayload(
  errno: number,
  request: NetlinkHeader & { len: number },
  tlvs?: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(NLMSGERR_LEN + (tlvs?.length ?? 0));
  const d = dv(out);
  d.setInt32(0, -errno, true);
  d.setUint32(4 + OFF_LEN, request.len, true);
  d.setUint16(4 + OFF_TYPE, request.type, true);
  d.setUint16(4 + OFF_FLAGS, request.flags, true);
  d.setUint32(4 + OFF_SEQ, request.seq, true);
  d.setUint32(4 + OFF_PID, request.pid, true);
  if (tlvs) out.set(tlvs, NLMSGERR_LEN);
  return out;
}
