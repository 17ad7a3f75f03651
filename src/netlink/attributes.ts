/**
 * Netlink attributes (struct nlattr, include/uapi/linux/netlink.h): encode and decode.
 *
 * Wire format: u16 nla_len (header + payload, unpadded), u16 nla_type (low 14 bits the type,
 * NLA_F_NESTED 0x8000, NLA_F_NET_BYTEORDER 0x4000), then the payload padded to NLA_ALIGNTO (4).
 * All integers are host byte order (little-endian on every platform this package supports) except
 * the explicit be16/be32 kinds.
 *
 * Contract:
 * - `parseAttributes` reads at most `[offset, end)` of its input, never throws, keeps attributes of
 *   unknown types (callers skip what they do not know) and reports a malformed tail with
 *   `truncated: true` instead of reading past it. At most MAX_ATTRIBUTES are returned.
 * - Payloads returned are views into the input (no copies).
 * - The typed readers (`readU8`…) return undefined when the payload is too short for the kind.
 * - `emitAttributes` writes a complete, padded attribute stream; `attributesLength` is its size.
 */

export const NLA_HDRLEN = 4;
export const NLA_ALIGNTO = 4;
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;
/** Bound on attributes decoded from one stream (a netlink message is at most 64 KiB anyway). */
export const MAX_ATTRIBUTES = 4096;

export function nlaAlign(length: number): number {
  return (length + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);
}

/** One decoded attribute. `payload` is a view into the decoded buffer. */
export interface NlAttr {
  /** The attribute type with the NESTED / NET_BYTEORDER flag bits removed. */
  type: number;
  nested: boolean;
  netByteOrder: boolean;
  payload: Uint8Array;
}

export interface ParsedAttributes {
  attrs: NlAttr[];
  /** True when the stream ended in a malformed or cut attribute (the rest was ignored). */
  truncated: boolean;
}

/** Decodes the attribute stream in `buf[offset, end)`. Never throws, never reads past `end`. */
export function parseAttributes(buf: Uint8Array, offset = 0, end = buf.length): ParsedAttributes {
  const attrs: NlAttr[] = [];
  const limit = Math.min(end, buf.length);
  let pos = Math.max(0, offset);
  while (pos + NLA_HDRLEN <= limit) {
    if (attrs.length >= MAX_ATTRIBUTES) return { attrs, truncated: true };
    const len = buf[pos]! | (buf[pos + 1]! << 8);
    const rawType = buf[pos + 2]! | (buf[pos + 3]! << 8);
    if (len < NLA_HDRLEN || pos + len > limit) return { attrs, truncated: true };
    attrs.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      netByteOrder: (rawType & NLA_F_NET_BYTEORDER) !== 0,
      payload: buf.subarray(pos + NLA_HDRLEN, pos + len),
    });
    pos += nlaAlign(len);
  }
  // Leftover bytes too short for a header are malformed (padding of the last one is skipped above).
  return { attrs, truncated: pos < limit };
}

/** Decodes the attributes nested inside `attr`'s payload. */
export function parseNested(attr: NlAttr): ParsedAttributes {
  return parseAttributes(attr.payload);
}

/** The first attribute of `type`, or undefined. */
export function findAttr(attrs: readonly NlAttr[], type: number): NlAttr | undefined {
  for (const a of attrs) if (a.type === type) return a;
  return undefined;
}

function view(p: Uint8Array): DataView {
  return new DataView(p.buffer, p.byteOffset, p.byteLength);
}

export function readU8(a: NlAttr | undefined): number | undefined {
  return a && a.payload.length >= 1 ? a.payload[0] : undefined;
}
export function readU16(a: NlAttr | undefined): number | undefined {
  return a && a.payload.length >= 2 ? view(a.payload).getUint16(0, true) : undefined;
}
export function readU32(a: NlAttr | undefined): number | undefined {
  return a && a.payload.length >= 4 ? view(a.payload).getUint32(0, true) : undefined;
}
export function readS32(a: NlAttr | undefined): number | undefined {
  return a && a.payload.length >= 4 ? view(a.payload).getInt32(0, true) : undefined;
}
export function readU64(a: NlAttr | undefined): bigint | undefined {
  return a && a.payload.length >= 8 ? view(a.payload).getBigUint64(0, true) : undefined;
}
export function readBe16(a: NlAttr | undefined): number | undefined {
  return a && a.payload.length >= 2 ? view(a.payload).getUint16(0, false) : undefined;
}
export function readBe32(a: NlAttr | undefined): number | undefined {
  return a && a.payload.length >= 4 ? view(a.payload).getUint32(0, false) : undefined;
}
/** An unsigned host-order integer of whatever width (1, 2 or 4 bytes) the sender used. */
export function readUint(a: NlAttr | undefined): number | undefined {
  if (!a) return undefined;
  if (a.payload.length >= 4) return readU32(a);
  if (a.payload.length >= 2) return readU16(a);
  return readU8(a);
}
/** A NUL-terminated (or unterminated) string; UTF-8. */
export function readString(a: NlAttr | undefined): string | undefined {
  if (!a) return undefined;
  let end = a.payload.indexOf(0);
  if (end < 0) end = a.payload.length;
  return new TextDecoder().decode(a.payload.subarray(0, end));
}

/** An attribute to encode: a type, its payload bytes or nested children. */
export interface AttrInput {
  type: number;
  payload?: Uint8Array;
  children?: readonly AttrInput[];
  netByteOrder?: boolean;
}

function bytes(n: number, fill: (v: DataView) => void): Uint8Array {
  const out = new Uint8Array(n);
  fill(new DataView(out.buffer));
  return out;
}

export const u8Attr = (type: number, v: number): AttrInput => ({ type, payload: Uint8Array.of(v & 0xff) });
export const u16Attr = (type: number, v: number): AttrInput => ({
  type,
  payload: bytes(2, (d) => d.setUint16(0, v, true)),
});
export const u32Attr = (type: number, v: number): AttrInput => ({
  type,
  payload: bytes(4, (d) => d.setUint32(0, v >>> 0, true)),
});
export const s32Attr = (type: number, v: number): AttrInput => ({
  type,
  payload: bytes(4, (d) => d.setInt32(0, v | 0, true)),
});
export const be16Attr = (type: number, v: number): AttrInput => ({
  type,
  payload: bytes(2, (d) => d.setUint16(0, v, false)),
});
export const be32Attr = (type: number, v: number): AttrInput => ({
  type,
  payload: bytes(4, (d) => d.setUint32(0, v >>> 0, false)),
});
/** A NUL-terminated string attribute (NLA_NUL_STRING / NLA_STRING as the kernel expects). */
export const stringAttr = (type: number, s: string): AttrInput => {
  const text = new TextEncoder().encode(s);
  const payload = new Uint8Array(text.length + 1);
  payload.set(text);
  return { type, payload };
};
export const binaryAttr = (type: number, payload: Uint8Array): AttrInput => ({ type, payload });
export const nestedAttr = (type: number, children: readonly AttrInput[]): AttrInput => ({ type, children });

function payloadLength(a: AttrInput): number {
  return a.children ? attributesLength(a.children) : (a.payload?.length ?? 0);
}

/** Bytes `emitAttributes(attrs)` will produce (padding included). */
export function attributesLength(attrs: readonly AttrInput[]): number {
  let n = 0;
  for (const a of attrs) n += nlaAlign(NLA_HDRLEN + payloadLength(a));
  return n;
}

/** Writes `attrs` at `offset` of `out` (which must have room); returns the end offset. */
export function writeAttributes(attrs: readonly AttrInput[], out: Uint8Array, offset: number): number {
  let pos = offset;
  for (const a of attrs) {
    const len = NLA_HDRLEN + payloadLength(a);
    if (len > 0xffff) throw new RangeError(`netlink attribute ${a.type} too long (${len} bytes)`);
    const type =
      (a.type & NLA_TYPE_MASK) | (a.children ? NLA_F_NESTED : 0) | (a.netByteOrder ? NLA_F_NET_BYTEORDER : 0);
    out[pos] = len & 0xff;
    out[pos + 1] = len >> 8;
    out[pos + 2] = type & 0xff;
    out[pos + 3] = type >> 8;
    if (a.children) writeAttributes(a.children, out, pos + NLA_HDRLEN);
    else if (a.payload) out.set(a.payload, pos + NLA_HDRLEN);
    const padded = nlaAlign(len);
    out.fill(0, pos + len, pos + padded);
    pos += padded;
  }
  return pos;
}

/** Encodes an attribute stream. */
export function emitAttributes(attrs: readonly AttrInput[]): Uint8Array {
  const out = new Uint8Array(attributesLength(attrs));
  writeAttributes(attrs, out, 0);
  return out;
}
