import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readTcpSegments } from '../../src/pcap/segments.js';
import { concat, epb, ethernet, idb, ipv4Tcp, pcapFile, shb, sll2, tcpHeader } from './builders.js';

const PAYLOAD = Uint8Array.from([1, 2, 3]);
const TCP = ipv4Tcp(
  [192, 0, 2, 1],
  [198, 51, 100, 7],
  tcpHeader(4321, 443, 0xfffffff0, 0x18, [1, 1, 1, 0]),
  PAYLOAD,
);

test('segments from Ethernet with 802.1Q, cooked v2 and raw IP; non-TCP packets skipped by reason', () => {
  const udp = TCP.slice();
  udp[9] = 17;
  const file = concat([
    shb(true),
    idb(true, 1),
    idb(true, 276),
    idb(true, 101),
    epb(true, 0, 1n, ethernet(0x0800, TCP, 100)),
    epb(true, 1, 2n, sll2(0x0800, TCP)),
    epb(true, 2, 3n, TCP),
    epb(true, 2, 4n, udp),
    epb(true, 0, 5n, ethernet(0x0806, new Uint8Array(28))),
    epb(true, 2, 6n, TCP.subarray(0, 30)),
  ]);
  const r = readTcpSegments(file);
  assert.equal(r.packets, 6);
  assert.equal(r.segments.length, 3);
  for (const [i, s] of r.segments.entries()) {
    assert.equal(s.index, i);
    assert.equal(s.tsMicros, i + 1);
    assert.equal(s.src, '192.0.2.1');
    assert.equal(s.dst, '198.51.100.7');
    assert.equal(s.srcPort, 4321);
    assert.equal(s.dstPort, 443);
    assert.equal(s.tcp.seq, 0xfffffff0);
    assert.equal(s.tcp.psh, true);
    assert.deepEqual([...s.payload], [...PAYLOAD]);
  }
  assert.deepEqual(r.skipped, {
    'not TCP': 1,
    'not IP (link type 1)': 1,
    'bad TCP header (truncated)': 1,
  });
});

test('a pcap with no TCP at all gives no segments and no error', () => {
  const r = readTcpSegments(pcapFile({ le: true, linkType: 147, records: [{ sec: 0, frac: 0, data: TCP }] }));
  assert.equal(r.segments.length, 0);
  assert.deepEqual(r.skipped, { 'not IP (link type 147)': 1 });
});

test('bytes cut by a short snap length are counted', () => {
  const cut = TCP.subarray(0, TCP.length - 2);
  const r = readTcpSegments(
    pcapFile({ le: true, linkType: 101, records: [{ sec: 0, frac: 0, data: cut, origLen: TCP.length }] }),
  );
  assert.equal(r.segments.length, 1);
  assert.equal(r.segments[0]!.payload.length, 1);
  assert.equal(r.truncatedBytes, 2);
});
