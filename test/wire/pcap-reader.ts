/**
 * A minimal pcap reader for the kernel-capture tests (little-endian microsecond pcap; link types
 * Ethernet, LINUX_SLL, LINUX_SLL2; TCP over IPv4, or over IPv6 without extension headers). Independent of src/pcap on purpose: the codec is
 * checked against real kernel bytes without trusting another module's framing.
 */
import assert from 'node:assert/strict';
import { formatIpv6 } from '../../src/wire/ip-address.js';
import { parseMptcpOption } from '../../src/wire/mptcp-option.js';
import { parseTcpHeader, type TcpHeader } from '../../src/wire/tcp-header.js';
import type { MptcpOption } from '../../src/wire/types.js';

const LINK_HEADER_BYTES: Record<number, number> = { 1: 14, 113: 16, 276: 20 };

export interface Segment {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  tcp: TcpHeader;
  payload: Uint8Array;
  /** Each MPTCP option with its exact wire bytes. */
  mptcp: Array<{ opt: MptcpOption; bytes: Uint8Array }>;
}

function etherTypeOf(linktype: number, pkt: Uint8Array): number {
  if (linktype === 276) return (pkt[0]! << 8) | pkt[1]!;
  if (linktype === 113) return (pkt[14]! << 8) | pkt[15]!;
  return (pkt[12]! << 8) | pkt[13]!;
}

export function readSegments(file: Uint8Array): Segment[] {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  assert.equal(dv.getUint32(0, true), 0xa1b2c3d4, 'little-endian microsecond pcap');
  const linktype = dv.getUint32(20, true);
  const linkHeader = LINK_HEADER_BYTES[linktype];
  assert.ok(linkHeader !== undefined, `unexpected link type ${linktype}`);
  const out: Segment[] = [];
  for (let o = 24; o + 16 <= file.length; ) {
    const caplen = dv.getUint32(o + 8, true);
    const pkt = file.subarray(o + 16, o + 16 + caplen);
    o += 16 + caplen;
    const etherType = etherTypeOf(linktype, pkt);
    const ip = pkt.subarray(linkHeader);
    let tcpBytes: Uint8Array;
    let src: string;
    let dst: string;
    if (etherType === 0x0800 && ip[9] === 6) {
      const ihl = (ip[0]! & 0x0f) * 4;
      tcpBytes = ip.subarray(ihl, (ip[2]! << 8) | ip[3]!);
      src = `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
      dst = `${ip[16]}.${ip[17]}.${ip[18]}.${ip[19]}`;
    } else if (etherType === 0x86dd && ip[6] === 6) {
      tcpBytes = ip.subarray(40, 40 + ((ip[4]! << 8) | ip[5]!));
      src = formatIpv6(ip, 8);
      dst = formatIpv6(ip, 24);
    } else {
      continue;
    }
    const r = parseTcpHeader(tcpBytes);
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    const mptcp: Segment['mptcp'] = [];
    // Walk the options again for the raw bytes of each MPTCP option.
    for (let i = 20; i < r.value.dataOffset; ) {
      const kind = tcpBytes[i]!;
      if (kind === 0) break;
      if (kind === 1) {
        i++;
        continue;
      }
      const len = tcpBytes[i + 1]!;
      if (kind === 30) {
        const p = parseMptcpOption(tcpBytes.subarray(i));
        assert.ok(p.ok);
        mptcp.push({ opt: p.value, bytes: tcpBytes.subarray(i, i + len) });
      }
      i += len;
    }
    assert.equal(mptcp.length, r.value.options.filter((x) => 'mptcp' in x).length);
    out.push({
      src,
      dst,
      sport: r.value.srcPort,
      dport: r.value.dstPort,
      tcp: r.value,
      payload: tcpBytes.subarray(r.value.payloadOffset),
      mptcp,
    });
  }
  return out;
}
