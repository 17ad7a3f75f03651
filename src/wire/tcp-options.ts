/**
 * The options area of a TCP header (RFC 9293 §3.1): a sequence of `kind` bytes, EOL (0) ending the
 * list, NOP (1) a single byte of padding, every other option `kind, length, body`.
 *
 * Contract:
 * - `parseTcpOptions(buf)`: `buf` is exactly the options area (header bytes 20 … dataOffset).
 *   EOL ends the walk (what follows is padding); NOPs are skipped. MPTCP options (kind 30) are
 *   parsed with `parseMptcpOption` (a known subtype of an unexpected length becomes `unknown`);
 *   other options are `{ kind, data }` with `data` the body after kind and length (a view).
 *   Errors: a length byte missing or running past the end → `truncated`; a length < 2 (or an
 *   MPTCP option of length 2) → `bad-length`. `length` in the result is the number of bytes
 *   walked (up to and including EOL, else all of `buf`). Never throws.
 * - `emitTcpOptions(opts, out, offset)` / `encodeTcpOptions(opts)` write the options followed by
 *   NOP padding to a multiple of 4 bytes (at most 40 bytes in all, else `WireError('too-large')`).
 */
import { emitMptcpOption, encodedLength, parseMptcpOption } from './mptcp-option.js';
import { type MptcpOption, type ParseResult, TCPOPT_MPTCP, WireError } from './types.js';

export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WINDOW_SCALE = 3;
export const TCPOPT_SACK_PERMITTED = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;
/** The options area is at most 40 bytes (data offset ≤ 15 words). */
export const TCP_MAX_OPTIONS_BYTES = 40;

export type TcpOption = { kind: 30; mptcp: MptcpOption } | { kind: number; data: Uint8Array };

/** True for the MPTCP variant of TcpOption. */
export function isMptcpTcpOption(o: TcpOption): o is { kind: 30; mptcp: MptcpOption } {
  return 'mptcp' in o;
}

/** The MPTCP options among parsed TCP options, in order. */
export function mptcpOptionsOf(opts: readonly TcpOption[]): MptcpOption[] {
  const out: MptcpOption[] = [];
  for (const o of opts) if ('mptcp' in o) out.push(o.mptcp);
  return out;
}

/** Walks a TCP options area (see the module contract). */
export function parseTcpOptions(buf: Uint8Array): ParseResult<TcpOption[]> {
  const opts: TcpOption[] = [];
  let i = 0;
  while (i < buf.length) {
    const kind = buf[i]!;
    if (kind === TCPOPT_EOL) return { ok: true, value: opts, length: i + 1 };
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= buf.length) {
      return { ok: false, error: new WireError('truncated', `TCP option ${kind} has no length byte`, i) };
    }
    const len = buf[i + 1]!;
    if (len < 2) {
      return {
        ok: false,
        error: new WireError('bad-length', `TCP option ${kind} has length ${len} < 2`, i + 1),
      };
    }
    if (i + len > buf.length) {
      return {
        ok: false,
        error: new WireError(
          'truncated',
          `TCP option ${kind} of length ${len} runs past the options area`,
          i + 1,
        ),
      };
    }
    if (kind === TCPOPT_MPTCP) {
      const r = parseMptcpOption(buf.subarray(i, i + len));
      if (!r.ok) {
        return { ok: false, error: new WireError(r.error.code, r.error.message, i + r.error.offset) };
      }
      opts.push({ kind: TCPOPT_MPTCP, mptcp: r.value });
    } else {
      opts.push({ kind, data: buf.subarray(i + 2, i + len) });
    }
    i += len;
  }
  return { ok: true, value: opts, length: i };
}

function optionLength(o: TcpOption): number {
  if ('mptcp' in o) return encodedLength(o.mptcp);
  if (o.kind === TCPOPT_EOL || o.kind === TCPOPT_NOP) return 1;
  return 2 + o.data.length;
}

/** Bytes the options take once padded with NOPs to a multiple of 4. */
export function tcpOptionsEncodedLength(opts: readonly TcpOption[]): number {
  let n = 0;
  for (const o of opts) n += optionLength(o);
  return (n + 3) & ~3;
}

/** Writes `opts` then NOP padding to a multiple of 4 at `offset`; returns the bytes written. */
export function emitTcpOptions(opts: readonly TcpOption[], out: Uint8Array, offset: number): number {
  const total = tcpOptionsEncodedLength(opts);
  if (total > TCP_MAX_OPTIONS_BYTES) {
    throw new WireError('too-large', `TCP options need ${total} bytes, more than ${TCP_MAX_OPTIONS_BYTES}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + total > out.length) {
    throw new WireError('too-large', `TCP options of ${total} bytes do not fit at offset ${offset}`, offset);
  }
  let p = offset;
  for (const o of opts) {
    if ('mptcp' in o) {
      p += emitMptcpOption(o.mptcp, out, p);
    } else if (o.kind === TCPOPT_EOL || o.kind === TCPOPT_NOP) {
      out[p++] = o.kind;
    } else {
      if ((o.kind & 0xff) !== o.kind)
        throw new WireError('bad-value', `TCP option kind ${o.kind} not in 0…255`);
      out[p] = o.kind;
      out[p + 1] = 2 + o.data.length;
      out.set(o.data, p + 2);
      p += 2 + o.data.length;
    }
  }
  while (p < offset + total) out[p++] = TCPOPT_NOP;
  return total;
}

/** `opts` padded to a multiple of 4 in a new buffer. */
export function encodeTcpOptions(opts: readonly TcpOption[]): Uint8Array {
  const out = new Uint8Array(tcpOptionsEncodedLength(opts));
  emitTcpOptions(opts, out, 0);
  return out;
}
