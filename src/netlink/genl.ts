/**
 * Generic netlink (include/uapi/linux/genetlink.h): the 4-byte genlmsghdr (u8 cmd, u8 version,
 * u16 reserved) that follows the nlmsghdr, and the nlctrl family (GENL_ID_CTRL) used to resolve a
 * family name into its id and multicast groups (CTRL_CMD_GETFAMILY).
 *
 * Contract: pure. `parseGenl` never throws (undefined when the payload is shorter than the genl
 * header); `parseFamilyReply` never throws (undefined when the reply lacks id or name).
 */
import {
  type AttrInput,
  attributesLength,
  findAttr,
  type NlAttr,
  parseAttributes,
  readString,
  readU16,
  readU32,
  stringAttr,
  writeAttributes,
} from './attributes.js';
import { emitMessage, NLM_F_ACK, NLM_F_REQUEST, type NetlinkHeader } from './message.js';

export const GENL_HDRLEN = 4;
const OFF_CMD = 0;
const OFF_VERSION = 1;

export const GENL_ID_CTRL = 0x10;
export const CTRL_VERSION = 2;
export const CTRL_CMD_NEWFAMILY = 1;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_HDRSIZE = 4;
export const CTRL_ATTR_MAXATTR = 5;
export const CTRL_ATTR_OPS = 6;
export const CTRL_ATTR_MCAST_GROUPS = 7;
export const CTRL_ATTR_MCAST_GRP_NAME = 1;
export const CTRL_ATTR_MCAST_GRP_ID = 2;

export interface GenlMessage {
  cmd: number;
  version: number;
  attrs: NlAttr[];
  /** The attribute stream was malformed at its end. */
  truncated: boolean;
}

/** Decodes the payload of a generic netlink message (after nlmsghdr). */
export function parseGenl(payload: Uint8Array): GenlMessage | undefined {
  if (payload.length < GENL_HDRLEN) return undefined;
  const { attrs, truncated } = parseAttributes(payload, GENL_HDRLEN);
  return { cmd: payload[OFF_CMD]!, version: payload[OFF_VERSION]!, attrs, truncated };
}

/** Encodes genlmsghdr + attributes (the payload of a netlink message). */
export function emitGenlPayload(cmd: number, version: number, attrs: readonly AttrInput[]): Uint8Array {
  const out = new Uint8Array(GENL_HDRLEN + attributesLength(attrs));
  out[OFF_CMD] = cmd;
  out[OFF_VERSION] = version;
  writeAttributes(attrs, out, GENL_HDRLEN);
  return out;
}

/** A complete generic netlink request. `flags` defaults to REQUEST|ACK. */
export function emitGenlRequest(
  header: Omit<NetlinkHeader, 'flags'> & { flags?: number },
  cmd: number,
  version: number,
  attrs: readonly AttrInput[],
): Uint8Array {
  return emitMessage(
    { ...header, flags: header.flags ?? NLM_F_REQUEST | NLM_F_ACK },
    emitGenlPayload(cmd, version, attrs),
  );
}

/** CTRL_CMD_GETFAMILY request for `name` (the payload; the message type is GENL_ID_CTRL). */
export function emitGetFamilyPayload(name: string): Uint8Array {
  return emitGenlPayload(CTRL_CMD_GETFAMILY, CTRL_VERSION, [stringAttr(CTRL_ATTR_FAMILY_NAME, name)]);
}

export interface GenlFamily {
  id: number;
  name: string;
  version: number;
  maxAttr: number;
  /** Multicast group name → group id (the number to join with NETLINK_ADD_MEMBERSHIP). */
  groups: Map<string, number>;
}

/** Decodes a CTRL_CMD_NEWFAMILY reply payload. */
export function parseFamilyReply(payload: Uint8Array): GenlFamily | undefined {
  const msg = parseGenl(payload);
  if (!msg) return undefined;
  const id = readU16(findAttr(msg.attrs, CTRL_ATTR_FAMILY_ID));
  const name = readString(findAttr(msg.attrs, CTRL_ATTR_FAMILY_NAME));
  if (id === undefined || name === undefined) return undefined;
  const groups = new Map<string, number>();
  const list = findAttr(msg.attrs, CTRL_ATTR_MCAST_GROUPS);
  if (list) {
    for (const entry of parseAttributes(list.payload).attrs) {
      const inner = parseAttributes(entry.payload).attrs;
      const gname = readString(findAttr(inner, CTRL_ATTR_MCAST_GRP_NAME));
      const gid = readU32(findAttr(inner, CTRL_ATTR_MCAST_GRP_ID));
      if (gname !== undefined && gid !== undefined) groups.set(gname, gid);
    }
  }
  return {
    id,
    name,
    version: readU32(findAttr(msg.attrs, CTRL_ATTR_VERSION)) ?? 0,
    maxAttr: readU32(findAttr(msg.attrs, CTRL_ATTR_MAXATTR)) ?? 0,
    groups,
  };
}
