/**
 * The `mptcp_pm` generic netlink family, version 1 (include/uapi/linux/mptcp_pm.h, generated from
 * Documentation/netlink/specs/mptcp_pm.yaml): command and attribute numbers, endpoint flags, and
 * the nested address attribute (MPTCP_PM_ATTR_ADDR / MPTCP_PM_ATTR_ADDR_REMOTE) codec.
 *
 * Contract: pure. `encodePmAddress` throws PmAddressError for text that is not an IPv4/IPv6
 * address (a caller bug or bad user input, caught before any I/O); `decodePmAddress` never throws
 * and returns undefined when the family or address attribute is missing or malformed.
 * Ports in address attributes are u16 host order (the kernel converts); in events they are be16.
 */
import { formatIpv4, formatIpv6, writeIpv4, writeIpv6 } from '../wire/ip-address.js';
import {
  type AttrInput,
  binaryAttr,
  findAttr,
  NLA_F_NESTED,
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  type NlAttr,
  nestedAttr,
  parseAttributes,
  readS32,
  readU16,
  readU32,
  readU8,
  s32Attr,
  u16Attr,
  u32Attr,
  u8Attr,
} from './attributes.js';

export const MPTCP_PM_NAME = 'mptcp_pm';
export const MPTCP_PM_VER = 1;
export const MPTCP_PM_CMD_GRP_NAME = 'mptcp_pm_cmds';
export const MPTCP_PM_EV_GRP_NAME = 'mptcp_pm_events';

export const MPTCP_PM_CMD = {
  ADD_ADDR: 1,
  DEL_ADDR: 2,
  GET_ADDR: 3,
  FLUSH_ADDRS: 4,
  SET_LIMITS: 5,
  GET_LIMITS: 6,
  SET_FLAGS: 7,
  ANNOUNCE: 8,
  REMOVE: 9,
  SUBFLOW_CREATE: 10,
  SUBFLOW_DESTROY: 11,
} as const;

/** Top-level command attributes. */
export const MPTCP_PM_ATTR = {
  ADDR: 1,
  RCV_ADD_ADDRS: 2,
  SUBFLOWS: 3,
  TOKEN: 4,
  LOC_ID: 5,
  ADDR_REMOTE: 6,
} as const;

/** Attributes nested in ADDR / ADDR_REMOTE. */
export const MPTCP_PM_ADDR_ATTR = {
  FAMILY: 1,
  ID: 2,
  ADDR4: 3,
  ADDR6: 4,
  PORT: 5,
  FLAGS: 6,
  IF_IDX: 7,
} as const;

export const MPTCP_PM_ADDR_FLAG = {
  signal: 1,
  subflow: 2,
  backup: 4,
  fullmesh: 8,
  implicit: 16,
} as const;
export type EndpointFlagName = keyof typeof MPTCP_PM_ADDR_FLAG;
export const ENDPOINT_FLAG_NAMES = Object.keys(MPTCP_PM_ADDR_FLAG) as EndpointFlagName[];

export const AF_INET = 2;
export const AF_INET6 = 10;

/** Flag names for a flags word; unknown bits appear as hex ("0x40"). */
export function endpointFlagNames(flags: number): string[] {
  const names: string[] = [];
  let rest = flags >>> 0;
  for (const name of ENDPOINT_FLAG_NAMES) {
    const bit = MPTCP_PM_ADDR_FLAG[name];
    if (rest & bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  for (let bit = 1; rest !== 0 && bit !== 0; bit = (bit << 1) >>> 0) {
    if (rest & bit) {
      names.push(`0x${bit.toString(16)}`);
      rest = (rest & ~bit) >>> 0;
    }
  }
  return names;
}

/** The flags word for a list of names or a number. */
export function endpointFlags(flags: number | readonly EndpointFlagName[] | undefined): number {
  if (flags === undefined) return 0;
  if (typeof flags === 'number') return flags >>> 0;
  let v = 0;
  for (const f of flags) v |= MPTCP_PM_ADDR_FLAG[f];
  return v;
}

/** A path-manager address: an endpoint, or a local/remote address of a userspace-PM command. */
export interface PmAddress {
  /** 4 or 6. */
  family: 4 | 6;
  addr: string;
  /** Endpoint / address id (u8). */
  id?: number;
  port?: number;
  /** MPTCP_PM_ADDR_FLAG_* bits. */
  flags?: number;
  /** Interface index (0: any). */
  ifindex?: number;
}

/** Input to `encodePmAddress`: family is inferred from the address text. */
export interface PmAddressInput {
  addr?: string;
  id?: number;
  port?: number;
  flags?: number;
  ifindex?: number;
}

export class PmAddressError extends Error {
  override readonly name = 'PmAddressError';
}

/** The family (4/6) and network-order bytes of an address text; throws PmAddressError. */
export function addressBytes(addr: string): { family: 4 | 6; bytes: Uint8Array } {
  const b4 = new Uint8Array(4);
  if (writeIpv4(addr, b4, 0)) return { family: 4, bytes: b4 };
  const b6 = new Uint8Array(16);
  if (writeIpv6(addr, b6, 0)) return { family: 6, bytes: b6 };
  throw new PmAddressError(`not an IPv4 or IPv6 address: '${addr}'`);
}

function checkRange(name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw new PmAddressError(`${name} must be an integer 0..${max}, got ${v}`);
  return v;
}

/** Encodes a nested address attribute of type `attrType` (MPTCP_PM_ATTR_ADDR by default). */
export function encodePmAddress(input: PmAddressInput, attrType: number = MPTCP_PM_ATTR.ADDR): AttrInput {
  const children: AttrInput[] = [];
  if (input.addr !== undefined) {
    const { family, bytes } = addressBytes(input.addr);
    children.push(u16Attr(MPTCP_PM_ADDR_ATTR.FAMILY, family === 4 ? AF_INET : AF_INET6));
    children.push(binaryAttr(family === 4 ? MPTCP_PM_ADDR_ATTR.ADDR4 : MPTCP_PM_ADDR_ATTR.ADDR6, bytes));
  }
  if (input.id !== undefined) children.push(u8Attr(MPTCP_PM_ADDR_ATTR.ID, checkRange('id', input.id, 255)));
  if (input.port !== undefined)
    children.push(u16Attr(MPTCP_PM_ADDR_ATTR.PORT, checkRange('port', input.port, 65535)));
  if (input.flags !== undefined) children.push(u32Attr(MPTCP_PM_ADDR_ATTR.FLAGS, input.flags));
  if (input.ifindex !== undefined) children.push(s32Attr(MPTCP_PM_ADDR_ATTR.IF_IDX, input.ifindex));
  return nestedAttr(attrType, children);
}

/** Bound on the bytes `writePmAddress` writes (IPv6 with every field). */
export const PM_ADDRESS_MAX_BYTES = 4 + 8 + 20 + 8 + 8 + 8 + 8;
const addrScratch = new Uint8Array(16);

/**
 * Writes the same nested address attribute as `encodePmAddress(input, attrType)` at `offset` of
 * `out` (which has room for PM_ADDRESS_MAX_BYTES) without intermediate objects; returns the end
 * offset. Throws PmAddressError as encodePmAddress does. For the hot path (SUBFLOW_CREATE).
 */
export function writePmAddress(
  out: Uint8Array,
  offset: number,
  input: PmAddressInput,
  attrType: number = MPTCP_PM_ATTR.ADDR,
): number {
  let pos = offset + NLA_HDRLEN;
  if (input.addr !== undefined) {
    let family: 4 | 6;
    if (writeIpv4(input.addr, addrScratch, 0)) family = 4;
    else if (writeIpv6(input.addr, addrScratch, 0)) family = 6;
    else throw new PmAddressError(`not an IPv4 or IPv6 address: '${input.addr}'`);
    pos = writeAttrHeader(out, pos, MPTCP_PM_ADDR_ATTR.FAMILY, 2);
    writeU32(out, pos, family === 4 ? AF_INET : AF_INET6); // u16 + 2 bytes of zero padding
    pos += 4;
    const n = family === 4 ? 4 : 16;
    pos = writeAttrHeader(out, pos, family === 4 ? MPTCP_PM_ADDR_ATTR.ADDR4 : MPTCP_PM_ADDR_ATTR.ADDR6, n);
    out.set(n === 4 ? addrScratch.subarray(0, 4) : addrScratch, pos);
    pos += n;
  }
  if (input.id !== undefined) {
    const id = checkRange('id', input.id, 255);
    pos = writeAttrHeader(out, pos, MPTCP_PM_ADDR_ATTR.ID, 1);
    writeU32(out, pos, id);
    pos += 4;
  }
  if (input.port !== undefined) {
    const port = checkRange('port', input.port, 65535);
    pos = writeAttrHeader(out, pos, MPTCP_PM_ADDR_ATTR.PORT, 2);
    writeU32(out, pos, port);
    pos += 4;
  }
  if (input.flags !== undefined) {
    pos = writeAttrHeader(out, pos, MPTCP_PM_ADDR_ATTR.FLAGS, 4);
    writeU32(out, pos, input.flags >>> 0);
    pos += 4;
  }
  if (input.ifindex !== undefined) {
    pos = writeAttrHeader(out, pos, MPTCP_PM_ADDR_ATTR.IF_IDX, 4);
    writeU32(out, pos, input.ifindex | 0);
    pos += 4;
  }
  writeAttrHeader(out, offset, (attrType & NLA_TYPE_MASK) | NLA_F_NESTED, pos - offset - NLA_HDRLEN);
  return pos;
}

/** struct nlattr with a payload of `payloadLen` bytes at `pos`; returns the payload offset. */
function writeAttrHeader(out: Uint8Array, pos: number, type: number, payloadLen: number): number {
  const l = NLA_HDRLEN + payloadLen;
  out[pos] = l & 0xff;
  out[pos + 1] = l >> 8;
  out[pos + 2] = type & 0xff;
  out[pos + 3] = type >> 8;
  return pos + NLA_HDRLEN;
}

/** Host-order (little-endian) u32; smaller values leave zero bytes as attribute padding. */
function writeU32(out: Uint8Array, pos: number, v: number): void {
  out[pos] = v & 0xff;
  out[pos + 1] = (v >>> 8) & 0xff;
  out[pos + 2] = (v >>> 16) & 0xff;
  out[pos + 3] = (v >>> 24) & 0xff;
}

/** Decodes a nested address attribute. */
export function decodePmAddress(attr: NlAttr | undefined): PmAddress | undefined {
  if (!attr) return undefined;
  const { attrs } = parseAttributes(attr.payload);
  const af = readU16(findAttr(attrs, MPTCP_PM_ADDR_ATTR.FAMILY));
  let family: 4 | 6;
  let addr: string;
  if (af === AF_INET) {
    const a = findAttr(attrs, MPTCP_PM_ADDR_ATTR.ADDR4);
    if (!a || a.payload.length < 4) return undefined;
    family = 4;
    addr = formatIpv4(a.payload, 0);
  } else if (af === AF_INET6) {
    const a = findAttr(attrs, MPTCP_PM_ADDR_ATTR.ADDR6);
    if (!a || a.payload.length < 16) return undefined;
    family = 6;
    addr = formatIpv6(a.payload, 0);
  } else {
    return undefined;
  }
  const out: PmAddress = { family, addr };
  const id = readU8(findAttr(attrs, MPTCP_PM_ADDR_ATTR.ID));
  if (id !== undefined) out.id = id;
  const port = readU16(findAttr(attrs, MPTCP_PM_ADDR_ATTR.PORT));
  if (port !== undefined && port !== 0) out.port = port;
  const flags = readU32(findAttr(attrs, MPTCP_PM_ADDR_ATTR.FLAGS));
  out.flags = flags ?? 0;
  const ifindex = readS32(findAttr(attrs, MPTCP_PM_ADDR_ATTR.IF_IDX));
  if (ifindex !== undefined && ifindex !== 0) out.ifindex = ifindex;
  return out;
}

/** Limits of the in-kernel path manager (per network namespace). */
export interface PmLimits {
  /** MPTCP_PM_ATTR_SUBFLOWS: max additional subflows per connection. */
  subflows: number;
  /** MPTCP_PM_ATTR_RCV_ADD_ADDRS: max ADD_ADDR accepted per connection. */
  addAddrAccepted: number;
}

/** Decodes GET_LIMITS reply attributes. */
export function decodeLimits(attrs: readonly NlAttr[]): PmLimits {
  return {
    subflows: readU32(findAttr(attrs, MPTCP_PM_ATTR.SUBFLOWS)) ?? 0,
    addAddrAccepted: readU32(findAttr(attrs, MPTCP_PM_ATTR.RCV_ADD_ADDRS)) ?? 0,
  };
}

/** SET_LIMITS attributes (only the given ones). */
export function encodeLimits(limits: Partial<PmLimits>): AttrInput[] {
  const out: AttrInput[] = [];
  if (limits.addAddrAccepted !== undefined)
    out.push(u32Attr(MPTCP_PM_ATTR.RCV_ADD_ADDRS, limits.addAddrAccepted));
  if (limits.subflows !== undefined) out.push(u32Attr(MPTCP_PM_ATTR.SUBFLOWS, limits.subflows));
  return out;
}
