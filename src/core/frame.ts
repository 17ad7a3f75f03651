/**
 * Userspace MPTCP framing: how RFC 8684 options travel in-band over an ordinary TCP subflow.
 * See docs/protocol.md for the full description.
 *
 * A subflow byte stream is: PREAMBLE (8 bytes, once, each direction) then frames.
 *
 *   PREAMBLE  = 0x89 'M' 'P' 'T' 'C' 'P' VERSION 0x0A
 *   frame     = header (14 bytes) ‖ options (optionsLength bytes) ‖ payload (payloadLength bytes)
 *   header    = optionsLength u8 ‖ flags u8 ‖ payloadLength u32 ‖ window u32 ‖ subflowAck u32  (big-endian)
 *
 * The options area is a TCP options area (RFC 9293 §3.1): MPTCP options (kind 30, RFC 8684 §3) and the
 * timestamps option (kind 8, RFC 7323 §3) in microseconds, which gives each subflow an RTT estimate.
 * `window` is the data-level receive window (RFC 8684 §3.3.4), relative to the DATA_ACK, in bytes.
 * `subflowAck` plays the part of the TCP header's acknowledgement number on a subflow: the relative
 * subflow sequence number (RFC 8684 §3.3.1) of the next payload byte expected on this subflow. Only it
 * tells a subflow's own progress apart from data-level progress held back by another subflow.
 *
 * The decoder is incremental and bounded: it never holds more than one partial frame
 * (≤ FRAME_HEADER_BYTES + MAX_OPTIONS_BYTES + MAX_PAYLOAD_BYTES). Payloads are views into the input;
 * a payload split over several input chunks is delivered as a list of views (`payloadParts`), not
 * copied.
 * Version 2 widened payloadLength from 16 to 32 bits: a frame may carry more than a DSS mapping's
 * 16-bit data-level length, its mapping then says length 0 ("the whole payload"; see
 * docs/protocol.md). Fewer, larger frames cost less per byte on fast subflows.
 */
import { parseMptcpOption } from '../wire/mptcp-option.js';
import { emitMptcpOption, encodedLength } from '../wire/mptcp-option.js';
import type { MptcpOption } from '../wire/types.js';
import { TCPOPT_MPTCP } from '../wire/types.js';

export const FRAMING_VERSION = 2;
export const PREAMBLE = Uint8Array.of(0x89, 0x4d, 0x50, 0x54, 0x43, 0x50, FRAMING_VERSION, 0x0a);
export const PREAMBLE_BYTES = PREAMBLE.length;
export const FRAME_HEADER_BYTES = 14;
/** Options area bound (one byte of length). */
export const MAX_OPTIONS_BYTES = 255;
/** The largest payload a frame may carry (bytes); a larger payloadLength is a protocol violation. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
/**
 * A DSS mapping's data-level length is 16 bits (RFC 8684 §3.3): a frame with a larger payload maps it
 * with length 0, which our framing defines as "the frame's whole payload".
 */
export const MAX_MAPPED_BYTES = 65535;
export const MAX_FRAME_BYTES = FRAME_HEADER_BYTES + MAX_OPTIONS_BYTES + MAX_PAYLOAD_BYTES;

/** TCP timestamps option kind (RFC 7323). Values here are microseconds modulo 2^32. */
export const TCPOPT_TIMESTAMP = 8;

/** Frame header flag bits (ours; no RFC counterpart). */
export const FrameFlag = {
  /** The sender asks for an immediate acknowledgement on this subflow (a liveness probe). */
  ACK_NOW: 0x01,
} as const;

export interface Frame {
  flags: number;
  window: number;
  subflowAck: number;
  options: MptcpOption[];
  /** TCP timestamps option, if present: TSval and TSecr in µs modulo 2^32. */
  tsVal?: number;
  tsEcr?: number;
  /**
   * The payload when it arrived in one socket read; when it was split over several reads, its first
   * piece (never empty when payloadLength > 0), and `payloadParts` holds every piece in order.
   * Pieces are views of the input chunks: a split payload is not copied.
   */
  payload: Uint8Array;
  payloadParts?: Uint8Array[];
  /** Total payload bytes (the sum of the pieces). */
  payloadLength: number;
}

/** A frame whose header and options are decoded and whose payload is still arriving. */
interface PartialFrame {
  frame: Frame;
  parts: Uint8Array[];
  remaining: number;
}

export type FrameErrorCode = 'bad-preamble' | 'bad-version' | 'bad-options' | 'too-large';

export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(
    readonly code: FrameErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What the start of a subflow's byte stream says about its peer. */
export type PreambleVerdict = 'mptcp' | 'not-mptcp' | 'need-more';

/** Compares the first bytes of a stream with PREAMBLE (the version byte included). */
export function checkPreamble(bytes: Uint8Array): PreambleVerdict {
  const n = Math.min(bytes.length, PREAMBLE_BYTES);
  for (let i = 0; i < n; i++) if (bytes[i] !== PREAMBLE[i]) return 'not-mptcp';
  return n < PREAMBLE_BYTES ? 'need-more' : 'mptcp';
}

/** Input for encodeFrameHeader. */
export interface FrameHead {
  flags: number;
  window: number;
  subflowAck: number;
  options: readonly MptcpOption[];
  tsVal?: number;
  tsEcr?: number;
  payloadLength: number;
}

const TIMESTAMP_OPTION_BYTES = 10;

/**
 * Encodes the header and options of a frame into one buffer; the payload is written after it by the
 * caller (without copying). Throws FrameError('too-large') when the options or payload exceed the bounds.
 */
export function encodeFrameHeader(head: FrameHead): Uint8Array {
  let optionsLength = head.tsVal === undefined ? 0 : TIMESTAMP_OPTION_BYTES;
  for (const opt of head.options) optionsLength += encodedLength(opt);
  if (optionsLength > MAX_OPTIONS_BYTES)
    throw new FrameError('too-large', `options area of ${optionsLength} bytes`);
  if (head.payloadLength > MAX_PAYLOAD_BYTES)
    throw new FrameError('too-large', `payload of ${head.payloadLength} bytes`);
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + optionsLength);
  out[0] = optionsLength;
  out[1] = head.flags;
  out.writeUInt32BE(head.payloadLength, 2);
  out.writeUInt32BE(Math.min(head.window, 0xffffffff) >>> 0, 6);
  out.writeUInt32BE(head.subflowAck >>> 0, 10);
  let offset = FRAME_HEADER_BYTES;
  if (head.tsVal !== undefined) {
    out[offset] = TCPOPT_TIMESTAMP;
    out[offset + 1] = TIMESTAMP_OPTION_BYTES;
    out.writeUInt32BE(head.tsVal >>> 0, offset + 2);
    out.writeUInt32BE((head.tsEcr ?? 0) >>> 0, offset + 6);
    offset += TIMESTAMP_OPTION_BYTES;
  }
  for (const opt of head.options) offset += emitMptcpOption(opt, out, offset);
  return out;
}

/** Parses an options area into `frame` (MPTCP options and the timestamps option; others are skipped). */
function parseOptionsArea(area: Uint8Array, frame: Frame): void {
  let i = 0;
  while (i < area.length) {
    const kind = area[i]!;
    if (kind === 0) break; // EOL
    if (kind === 1) {
      i++; // NOP
      continue;
    }
    if (i + 1 >= area.length) throw new FrameError('bad-options', `option ${kind} truncated at ${i}`);
    const len = area[i + 1]!;
    if (len < 2 || i + len > area.length)
      throw new FrameError('bad-options', `option ${kind} has bad length ${len}`);
    if (kind === TCPOPT_MPTCP) {
      const r = parseMptcpOption(area.subarray(i, i + len));
      if (!r.ok) throw new FrameError('bad-options', r.error.message);
      frame.options.push(r.value);
    } else if (kind === TCPOPT_TIMESTAMP && len === TIMESTAMP_OPTION_BYTES) {
      const dv = new DataView(area.buffer, area.byteOffset + i + 2, 8);
      frame.tsVal = dv.getUint32(0);
      frame.tsEcr = dv.getUint32(4);
    }
    i += len;
  }
}

/**
 * Incremental frame decoder for one direction of one subflow. Feed it socket chunks; take frames out.
 * It expects the preamble first unless constructed with `expectPreamble: false` (the listener has
 * already consumed it).
 */
export class FrameDecoder {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Bytes needed before the pending chunks can make progress (avoids re-concatenating a partial frame). */
  private needBytes = 0;
  private preambleSeen: boolean;
  private partial: PartialFrame | undefined;

  constructor(expectPreamble = true) {
    this.preambleSeen = !expectPreamble;
  }

  /** Bytes held for a partial frame (bounded by MAX_FRAME_BYTES + one input chunk). */
  get bufferedBytes(): number {
    return this.pendingBytes + (this.partial ? this.partial.frame.payloadLength - this.partial.remaining : 0);
  }

  /**
   * Consumes a chunk and returns every complete frame it completes. Throws FrameError on a protocol
   * violation; the caller resets the subflow (the decoder is then unusable).
   */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    const partial = this.partial;
    if (partial) {
      const take = Math.min(partial.remaining, chunk.length);
      if (take > 0) partial.parts.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      partial.remaining -= take;
      if (partial.remaining > 0) return frames;
      this.partial = undefined;
      const frame = partial.frame;
      frame.payload = partial.parts[0]!;
      if (partial.parts.length > 1) frame.payloadParts = partial.parts;
      frames.push(frame);
      if (take === chunk.length) return frames;
      chunk = chunk.subarray(take);
    }
    let buf: Uint8Array;
    if (this.pendingBytes === 0) buf = chunk;
    else {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.needBytes) return frames;
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let offset = 0;
    if (!this.preambleSeen) {
      if (buf.length < PREAMBLE_BYTES) {
        if (checkPreamble(buf) === 'not-mptcp')
          throw new FrameError('bad-preamble', 'peer did not send the MPTCP preamble');
        this.keep(buf, PREAMBLE_BYTES);
        return frames;
      }
      if (checkPreamble(buf) !== 'mptcp') {
        const sameMagic = checkPreamble(buf.subarray(0, PREAMBLE_BYTES - 2)) !== 'not-mptcp';
        throw sameMagic
          ? new FrameError('bad-version', `unsupported framing version ${buf[PREAMBLE_BYTES - 2]}`)
          : new FrameError('bad-preamble', 'peer did not send the MPTCP preamble');
      }
      this.preambleSeen = true;
      offset = PREAMBLE_BYTES;
    }
    while (buf.length - offset >= FRAME_HEADER_BYTES) {
      const optionsLength = buf[offset]!;
      const payloadLength = u32At(buf, offset + 2);
      if (payloadLength > MAX_PAYLOAD_BYTES)
        throw new FrameError('too-large', `payload of ${payloadLength} bytes (at most ${MAX_PAYLOAD_BYTES})`);
      const payloadAt = offset + FRAME_HEADER_BYTES + optionsLength;
      const total = FRAME_HEADER_BYTES + optionsLength + payloadLength;
      const available = buf.length - offset;
      if (available < total && buf.length < payloadAt) {
        // Header or options incomplete: keep the bytes (at most one header and options area).
        this.keep(buf.subarray(offset), total - payloadLength);
        return frames;
      }
      const end = Math.min(offset + total, buf.length);
      const frame: Frame = {
        flags: buf[offset + 1]!,
        window: u32At(buf, offset + 6),
        subflowAck: u32At(buf, offset + 10),
        options: [],
        payload: payloadAt === end ? EMPTY : buf.subarray(payloadAt, end),
        payloadLength,
      };
      if (optionsLength > 0) parseOptionsArea(buf.subarray(offset + FRAME_HEADER_BYTES, payloadAt), frame);
      if (available < total) {
        // The payload continues in the next chunks: collect views of them.
        const parts = frame.payload.length > 0 ? [frame.payload] : [];
        this.partial = { frame, parts, remaining: total - available };
        return frames;
      }
      frames.push(frame);
      offset += total;
    }
    if (offset < buf.length) this.keep(buf.subarray(offset), FRAME_HEADER_BYTES);
    return frames;
  }

  private keep(rest: Uint8Array, needBytes: number): void {
    this.pending.push(rest);
    this.pendingBytes += rest.length;
    this.needBytes = needBytes;
  }
}

function u32At(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

const EMPTY = new Uint8Array(0);
