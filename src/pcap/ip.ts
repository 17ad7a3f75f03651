/**
 * IPv4 / IPv6 headers → addresses, upper-layer protocol and payload. Pure; never throws; a header
 * that is truncated, inconsistent, or a non-first fragment gives `{ skip: reason }`.
 *
 * - IPv4 (RFC 791): IHL ≥ 5; the payload ends at Total Length (or at the captured bytes when the
 *   capture was cut short). Fragments (MF set or offset ≠ 0) are skipped: no reassembly.
 * - IPv6 (RFC 8200): fixed 40-byte header; Hop-by-Hop (0), Routing (43), Destination Options (60),
 *   Fragment (44, first fragment without MF only) and AH (51, RFC 4302) extension headers are
 *   skipped to reach the upper layer; ESP (50) and jumbograms (Payload Length 0) are not decoded.
 */
import { formatIpv4, formatIpv6 } from '../wire/ip-address.js';

const IPV4_MIN_HEADER_BYTES = 20;
const IPV6_HEADER_BYTES = 40;
const IPV4_FLAG_MF = 0x2000;
const IPV4_FRAGMENT_OFFSET_MASK = 0x1fff;
const NH_HOP_BY_HOP = 0;
const NH_ROUTING = 43;
const NH_FRAGMENT = 44;
const NH_AH = 51;
const NH_DEST_OPTIONS = 60;
/** At most this many IPv6 extension headers are walked. */
const MAX_IPV6_EXTENSION_HEADERS = 8;

export interface IpPacket {
  version: 4 | 6;
  src: string;
  dst: string;
  /** Upper-layer protocol number (6 = TCP). */
  protocol: number;
  /** The upper-layer bytes (a view into the input). */
  payload: Uint8Array;
}

export type IpParseResult = IpPacket | { skip: string };

export function parseIp(data: Uint8Array, offset: number, version: 4 | 6): IpParseResult {
  const pkt = data.subarray(offset);
  return version === 4 ? parseIpv4(pkt) : parseIpv6(pkt);
}

function be16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function parseIpv4(b: Uint8Array): IpParseResult {
  if (b.length < IPV4_MIN_HEADER_BYTES) return { skip: 'IPv4 header truncated' };
  if (b[0]! >> 4 !== 4) return { skip: 'not IPv4' };
  const headerLen = (b[0]! & 0x0f) * 4;
  const totalLen = be16(b, 2);
  if (headerLen < IPV4_MIN_HEADER_BYTES || headerLen > b.length || totalLen < headerLen) {
    return { skip: 'bad IPv4 header length' };
  }
  const frag = be16(b, 6);
  if (frag & IPV4_FLAG_MF || frag & IPV4_FRAGMENT_OFFSET_MASK) return { skip: 'IPv4 fragment' };
  return {
    version: 4,
    src: formatIpv4(b, 12),
    dst: formatIpv4(b, 16),
    protocol: b[9]!,
    payload: b.subarray(headerLen, Math.min(totalLen, b.length)),
  };
}

function parseIpv6(b: Uint8Array): IpParseResult {
  if (b.length < IPV6_HEADER_BYTES) return { skip: 'IPv6 header truncated' };
  if (b[0]! >> 4 !== 6) return { skip: 'not IPv6' };
  const payloadLen = be16(b, 4);
  if (payloadLen === 0) return { skip: 'IPv6 jumbogram or empty payload' };
  const end = Math.min(IPV6_HEADER_BYTES + payloadLen, b.length);
  let next = b[6]!;
  let at = IPV6_HEADER_BYTES;
  for (let n = 0; n <= MAX_IPV6_EXTENSION_HEADERS; n++) {
    if (
      next !== NH_HOP_BY_HOP &&
      next !== NH_ROUTING &&
      next !== NH_DEST_OPTIONS &&
      next !== NH_FRAGMENT &&
      next !== NH_AH
    ) {
      return {
        version: 6,
        src: formatIpv6(b, 8),
        dst: formatIpv6(b, 24),
        protocol: next,
        payload: b.subarray(at, end),
      };
    }
    if (end - at < 8) return { skip: 'IPv6 extension header truncated' };
    let len: number;
    if (next === NH_FRAGMENT) {
      if (be16(b, at + 2) & 0xfff9) return { skip: 'IPv6 fragment' }; // offset ≠ 0 or M set
      len = 8;
    } else if (next === NH_AH) {
      len = (b[at + 1]! + 2) * 4;
    } else {
      len = (b[at + 1]! + 1) * 8;
    }
    if (end - at < len) return { skip: 'IPv6 extension header truncated' };
    next = b[at]!;
    at += len;
  }
  return { skip: 'too many IPv6 extension headers' };
}
