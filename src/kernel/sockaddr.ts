/**
 * struct sockaddr_in / sockaddr_in6 ↔ { address, port, family }, for bind(2) and for the addresses the
 * kernel returns in MPTCP_SUBFLOW_ADDRS / MPTCP_FULL_INFO. Family and scope id are host byte order
 * (little-endian on every Linux target Node supports here), port and address network order.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) decode to the plain IPv4 text, since that is what the
 * subflow really uses.
 */
import { isIP } from 'node:net';
import { formatIpv4, formatIpv6, writeIpv4, writeIpv6 } from '../wire/ip-address.js';
import { AF_INET, AF_INET6, SOCKADDR_IN_BYTES, SOCKADDR_IN6_BYTES } from './constants.js';

export interface SockAddr {
  family: 4 | 6;
  address: string;
  port: number;
}

export class SockAddrError extends Error {
  override readonly name = 'SockAddrError';
}

/** Encodes an IP literal and port; an IPv6 zone (`fe80::1%3`) must be a numeric interface index. */
export function encodeSockAddr(address: string, port: number): Buffer {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SockAddrError(`bad port ${port}`);
  const [ip = '', zone] = address.split('%', 2);
  const family = isIP(ip);
  if (family === 4) {
    const b = Buffer.alloc(SOCKADDR_IN_BYTES);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(port, 2);
    if (!writeIpv4(ip, b, 4)) throw new SockAddrError(`bad IPv4 address '${address}'`);
    return b;
  }
  if (family === 6) {
    const b = Buffer.alloc(SOCKADDR_IN6_BYTES);
    b.writeUInt16LE(AF_INET6, 0);
    b.writeUInt16BE(port, 2);
    if (!writeIpv6(ip, b, 8)) throw new SockAddrError(`bad IPv6 address '${address}'`);
    if (zone !== undefined) {
      const scope = Number(zone);
      if (!Number.isInteger(scope) || scope < 0)
        throw new SockAddrError(`zone must be an interface index: '${address}'`);
      b.writeUInt32LE(scope, 24);
    }
    return b;
  }
  throw new SockAddrError(`not an IP address: '${address}'`);
}

const MAPPED_PREFIX = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

/** Decodes a sockaddr at `offset`; undefined for another family (or AF_UNSPEC) or a short buffer. */
export function decodeSockAddr(buf: Buffer, offset = 0): SockAddr | undefined {
  if (offset + 2 > buf.length) return undefined;
  const family = buf.readUInt16LE(offset);
  if (family === AF_INET && offset + SOCKADDR_IN_BYTES <= buf.length) {
    return { family: 4, address: formatIpv4(buf, offset + 4), port: buf.readUInt16BE(offset + 2) };
  }
  if (family === AF_INET6 && offset + SOCKADDR_IN6_BYTES <= buf.length) {
    const port = buf.readUInt16BE(offset + 2);
    if (buf.subarray(offset + 8, offset + 20).equals(MAPPED_PREFIX)) {
      return { family: 4, address: formatIpv4(buf, offset + 20), port };
    }
    return { family: 6, address: formatIpv6(buf, offset + 8), port };
  }
  return undefined;
}

/** "ip:port", with brackets around IPv6. */
export function formatEndpoint(a: { address: string; port: number }): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
