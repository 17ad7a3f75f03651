/**
 * Link-layer headers → where the IP packet starts. Pure; never throws; a packet whose link header
 * is truncated or carries something other than IPv4/IPv6 gives `null`.
 *
 * Link types (https://www.tcpdump.org/linktypes.html):
 * - ETHERNET 1: 14-byte header, EtherType at 12; 802.1Q / 802.1ad tags (4 bytes each) skipped.
 * - NULL 0: BSD loopback, 4-byte address family in the capturing host's byte order.
 * - RAW 101, IPV4 228, IPV6 229: the packet is the IP packet.
 * - LINUX_SLL 113 (cooked v1): 16-byte header, protocol (EtherType) at 14.
 * - LINUX_SLL2 276 (cooked v2): 20-byte header, protocol (EtherType) at 0.
 */

export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERNET_HEADER_BYTES = 14;
const VLAN_TAG_BYTES = 4;
/** At most this many stacked VLAN tags are skipped. */
const MAX_VLAN_TAGS = 4;
const SLL_HEADER_BYTES = 16;
const SLL_PROTOCOL_OFFSET = 14;
const SLL2_HEADER_BYTES = 20;
const NULL_HEADER_BYTES = 4;
/** AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS). */
const BSD_AF_INET = 2;
const BSD_AF_INET6 = new Set([24, 28, 30]);

export interface LinkPayload {
  /** IP version of the packet that starts at `offset`. */
  ipVersion: 4 | 6;
  offset: number;
}

function byEtherType(etherType: number, offset: number): LinkPayload | null {
  if (etherType === ETHERTYPE_IPV4) return { ipVersion: 4, offset };
  if (etherType === ETHERTYPE_IPV6) return { ipVersion: 6, offset };
  return null;
}

function byVersionNibble(data: Uint8Array, offset: number): LinkPayload | null {
  if (data.length <= offset) return null;
  const v = data[offset]! >> 4;
  return v === 4 || v === 6 ? { ipVersion: v, offset } : null;
}

/** Where the IPv4/IPv6 packet starts in a frame of the given link type, or null. */
export function linkPayload(linkType: number, data: Uint8Array): LinkPayload | null {
  const be16 = (at: number): number => (data[at]! << 8) | data[at + 1]!;
  switch (linkType) {
    case LinkType.ETHERNET: {
      if (data.length < ETHERNET_HEADER_BYTES) return null;
      let at = 12;
      let etherType = be16(at);
      for (
        let tags = 0;
        (etherType === ETHERTYPE_VLAN || etherType === ETHERTYPE_QINQ) && tags < MAX_VLAN_TAGS;
        tags++
      ) {
        at += VLAN_TAG_BYTES;
        if (data.length < at + 2) return null;
        etherType = be16(at);
      }
      return byEtherType(etherType, at + 2);
    }
    case LinkType.LINUX_SLL:
      if (data.length < SLL_HEADER_BYTES) return null;
      return byEtherType(be16(SLL_PROTOCOL_OFFSET), SLL_HEADER_BYTES);
    case LinkType.LINUX_SLL2:
      if (data.length < SLL2_HEADER_BYTES) return null;
      return byEtherType(be16(0), SLL2_HEADER_BYTES);
    case LinkType.RAW:
      return byVersionNibble(data, 0);
    case LinkType.IPV4: {
      const p = byVersionNibble(data, 0);
      return p?.ipVersion === 4 ? p : null;
    }
    case LinkType.IPV6: {
      const p = byVersionNibble(data, 0);
      return p?.ipVersion === 6 ? p : null;
    }
    case LinkType.NULL: {
      if (data.length < NULL_HEADER_BYTES) return null;
      // Host byte order of the capturing machine: accept either.
      const le = data[0]! | (data[1]! << 8);
      const be = be16(2);
      const family = le !== 0 ? le : be;
      if (family === BSD_AF_INET) return { ipVersion: 4, offset: NULL_HEADER_BYTES };
      if (BSD_AF_INET6.has(family)) return { ipVersion: 6, offset: NULL_HEADER_BYTES };
      return null;
    }
    default:
      return null;
  }
}
