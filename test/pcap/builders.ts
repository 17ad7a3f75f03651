/**
 * Hand-made capture files and packets for the reader tests: every byte is written here from the
 * format specifications, independently of the reader under test.
 */

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

class Writer {
  private readonly bytes: number[] = [];
  constructor(private readonly le: boolean) {}
  u8(v: number): this {
    this.bytes.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    const b = [(v >>> 8) & 0xff, v & 0xff];
    this.bytes.push(...(this.le ? b.reverse() : b));
    return this;
  }
  u32(v: number): this {
    const b = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    this.bytes.push(...(this.le ? b.reverse() : b));
    return this;
  }
  raw(b: Uint8Array | number[]): this {
    this.bytes.push(...b);
    return this;
  }
  pad4(): this {
    while (this.bytes.length % 4) this.bytes.push(0);
    return this;
  }
  get length(): number {
    return this.bytes.length;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

export interface PcapRecord {
  sec: number;
  frac: number;
  data: Uint8Array;
  origLen?: number;
}

export function pcapFile(opts: {
  le: boolean;
  nanos?: boolean;
  linkType: number;
  records: PcapRecord[];
}): Uint8Array {
  const w = new Writer(opts.le);
  w.u32(opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(2)
    .u16(4)
    .u32(0)
    .u32(0)
    .u32(262144)
    .u32(opts.linkType);
  for (const r of opts.records) {
    w.u32(r.sec)
      .u32(r.frac)
      .u32(r.data.length)
      .u32(r.origLen ?? r.data.length)
      .raw(r.data);
  }
  return w.done();
}

function block(le: boolean, type: number, body: (w: Writer) => void): Uint8Array {
  const inner = new Writer(le);
  body(inner);
  inner.pad4();
  const bodyBytes = inner.done();
  const total = bodyBytes.length + 12;
  return new Writer(le).u32(type).u32(total).raw(bodyBytes).u32(total).done();
}

export function shb(le: boolean): Uint8Array {
  return block(le, 0x0a0d0d0a, (w) => {
    w.u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff);
  });
}

export function idb(
  le: boolean,
  linkType: number,
  opts: { tsresol?: number; snapLen?: number } = {},
): Uint8Array {
  return block(le, 1, (w) => {
    w.u16(linkType)
      .u16(0)
      .u32(opts.snapLen ?? 0);
    if (opts.tsresol !== undefined) {
      w.u16(9).u16(1).u8(opts.tsresol).pad4();
      w.u16(0).u16(0);
    }
  });
}

/** Enhanced Packet Block; `units` is the 64-bit timestamp in the interface's resolution. */
export function epb(
  le: boolean,
  ifId: number,
  units: bigint,
  data: Uint8Array,
  origLen?: number,
): Uint8Array {
  return block(le, 6, (w) => {
    w.u32(ifId)
      .u32(Number(units >> 32n))
      .u32(Number(units & 0xffffffffn))
      .u32(data.length)
      .u32(origLen ?? data.length)
      .raw(data)
      .pad4();
    // One comment option then the end of options, to exercise option skipping.
    w.u16(1).u16(3).raw([0x68, 0x69, 0x21]).pad4().u16(0).u16(0);
  });
}

export function spb(le: boolean, data: Uint8Array): Uint8Array {
  return block(le, 3, (w) => {
    w.u32(data.length).raw(data);
  });
}

/** A block of a type the reader skips (Name Resolution Block, type 4). */
export function nrb(le: boolean): Uint8Array {
  return block(le, 4, (w) => {
    w.u16(0).u16(0);
  });
}

/** IPv4 + TCP packet with the given TCP header bytes (options included) and payload. */
export function ipv4Tcp(
  src: number[],
  dst: number[],
  tcp: Uint8Array,
  payload: Uint8Array = new Uint8Array(),
): Uint8Array {
  const total = 20 + tcp.length + payload.length;
  const ip = Uint8Array.from([0x45, 0, total >> 8, total & 0xff, 0, 1, 0x40, 0, 64, 6, 0, 0, ...src, ...dst]);
  return concat([ip, tcp, payload]);
}

/** IPv6 + (optional hop-by-hop extension header) + TCP. */
export function ipv6Tcp(src: number[], dst: number[], tcp: Uint8Array, withHopByHop = false): Uint8Array {
  const ext = withHopByHop ? Uint8Array.from([6, 0, 1, 4, 0, 0, 0, 0]) : new Uint8Array();
  const payloadLen = ext.length + tcp.length;
  const hdr = Uint8Array.from([
    0x60,
    0,
    0,
    0,
    payloadLen >> 8,
    payloadLen & 0xff,
    withHopByHop ? 0 : 6,
    64,
    ...src,
    ...dst,
  ]);
  return concat([hdr, ext, tcp]);
}

/** A minimal 20-byte TCP header (+ options, padded to 4 by the caller). */
export function tcpHeader(
  srcPort: number,
  dstPort: number,
  seq: number,
  flags: number,
  options: number[] = [],
): Uint8Array {
  const len = 20 + options.length;
  if (len % 4) throw new Error('options must be padded to 4 bytes');
  return Uint8Array.from([
    srcPort >> 8,
    srcPort & 0xff,
    dstPort >> 8,
    dstPort & 0xff,
    (seq >>> 24) & 0xff,
    (seq >>> 16) & 0xff,
    (seq >>> 8) & 0xff,
    seq & 0xff,
    0,
    0,
    0,
    0,
    (len / 4) << 4,
    flags,
    0xff,
    0xff,
    0,
    0,
    0,
    0,
    ...options,
  ]);
}

export function ethernet(etherType: number, payload: Uint8Array, vlan?: number): Uint8Array {
  const macs = new Uint8Array(12).fill(0xaa);
  const tag = vlan === undefined ? [] : [0x81, 0x00, vlan >> 8, vlan & 0xff];
  return concat([macs, Uint8Array.from([...tag, etherType >> 8, etherType & 0xff]), payload]);
}

/** Linux cooked v1 (LINKTYPE_LINUX_SLL, 16-byte header). */
export function sll1(etherType: number, payload: Uint8Array): Uint8Array {
  const h = Uint8Array.from([0, 4, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, etherType >> 8, etherType & 0xff]);
  return concat([h, payload]);
}

/** Linux cooked v2 (LINKTYPE_LINUX_SLL2, 20-byte header). */
export function sll2(etherType: number, payload: Uint8Array): Uint8Array {
  const h = Uint8Array.from([
    etherType >> 8,
    etherType & 0xff,
    0,
    0,
    0,
    0,
    0,
    3,
    0,
    1,
    4,
    6,
    1,
    2,
    3,
    4,
    5,
    6,
    0,
    0,
  ]);
  return concat([h, payload]);
}
