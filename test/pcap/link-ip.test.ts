import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIp } from '../../src/pcap/ip.js';
import { LinkType, linkPayload } from '../../src/pcap/link.js';
import { concat, ethernet, ipv4Tcp, ipv6Tcp, sll1, sll2, tcpHeader } from './builders.js';

const V4 = ipv4Tcp([10, 0, 0, 1], [10, 0, 0, 2], tcpHeader(1000, 80, 1, 0x02), Uint8Array.from([7, 7]));
const V6SRC = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1];
const V6DST = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 2];

test('link layers: where the IP packet starts', () => {
  assert.deepEqual(linkPayload(LinkType.ETHERNET, ethernet(0x0800, V4)), { ipVersion: 4, offset: 14 });
  assert.deepEqual(linkPayload(LinkType.ETHERNET, ethernet(0x86dd, V4, 42)), { ipVersion: 6, offset: 18 });
  assert.deepEqual(linkPayload(LinkType.LINUX_SLL, sll1(0x0800, V4)), { ipVersion: 4, offset: 16 });
  assert.deepEqual(linkPayload(LinkType.LINUX_SLL2, sll2(0x86dd, V4)), { ipVersion: 6, offset: 20 });
  assert.deepEqual(linkPayload(LinkType.RAW, V4), { ipVersion: 4, offset: 0 });
  assert.deepEqual(linkPayload(LinkType.IPV4, V4), { ipVersion: 4, offset: 0 });
  assert.equal(linkPayload(LinkType.IPV6, V4), null, 'LINKTYPE_IPV6 with an IPv4 packet');
  assert.deepEqual(linkPayload(LinkType.NULL, concat([Uint8Array.from([2, 0, 0, 0]), V4])), {
    ipVersion: 4,
    offset: 4,
  });
  assert.equal(linkPayload(LinkType.ETHERNET, ethernet(0x0806, V4)), null, 'ARP');
  assert.equal(linkPayload(LinkType.LINUX_SLL2, new Uint8Array(19)), null, 'truncated cooked v2 header');
  assert.equal(linkPayload(LinkType.ETHERNET, new Uint8Array(13)), null);
  assert.equal(linkPayload(9999, V4), null, 'unknown link type');
});

test('IPv4: addresses, protocol, payload bounded by Total Length', () => {
  const padded = concat([V4, new Uint8Array(6)]); // Ethernet padding after the IP packet
  const r = parseIp(padded, 0, 4);
  assert.ok(!('skip' in r));
  assert.equal(r.src, '10.0.0.1');
  assert.equal(r.dst, '10.0.0.2');
  assert.equal(r.protocol, 6);
  assert.equal(r.payload.length, 22, 'TCP header + 2 payload bytes, without the padding');
});

test('IPv4: fragments and bad header lengths are skipped', () => {
  const frag = V4.slice();
  frag[6] = 0x20; // MF
  assert.ok('skip' in parseIp(frag, 0, 4));
  const badIhl = V4.slice();
  badIhl[0] = 0x44;
  assert.ok('skip' in parseIp(badIhl, 0, 4));
  assert.ok('skip' in parseIp(V4.subarray(0, 19), 0, 4));
});

test('IPv6: plain and behind a hop-by-hop extension header', () => {
  const tcp = tcpHeader(1, 2, 3, 0x10);
  for (const hbh of [false, true]) {
    const r = parseIp(ipv6Tcp(V6SRC, V6DST, tcp, hbh), 0, 6);
    assert.ok(!('skip' in r));
    assert.equal(r.src, '2001:db8::1');
    assert.equal(r.dst, '2001:db8::2');
    assert.equal(r.protocol, 6);
    assert.equal(r.payload.length, 20);
  }
  const truncatedExt = ipv6Tcp(V6SRC, V6DST, tcp, true).subarray(0, 44);
  assert.ok('skip' in parseIp(truncatedExt, 0, 6));
});
