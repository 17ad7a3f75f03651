/** Pure decoders (no kernel needed): sockaddr, struct mptcp_info prefixes, struct tcp_info. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MptcpUnavailableError } from '../../src/kernel/errors.js';
import {
  decodeMptcpInfo,
  decodeTcpInfo,
  MPTCP_INFO_BYTES,
  StructTooShortError,
} from '../../src/kernel/info-decode.js';
import { decodeSockAddr, encodeSockAddr, formatEndpoint, SockAddrError } from '../../src/kernel/sockaddr.js';

describe('sockaddr', () => {
  test('IPv4 layout: family LE, port BE, address bytes', () => {
    const b = encodeSockAddr('10.1.2.3', 0x1234);
    assert.equal(b.length, 16);
    assert.deepEqual([...b.subarray(0, 8)], [2, 0, 0x12, 0x34, 10, 1, 2, 3]);
  });

  test('IPv6 layout with numeric scope id', () => {
    const b = encodeSockAddr('fe80::1%7', 443);
    assert.equal(b.length, 28);
    assert.equal(b.readUInt16LE(0), 10);
    assert.equal(b.readUInt16BE(2), 443);
    assert.equal(b[8], 0xfe);
    assert.equal(b[23], 1);
    assert.equal(b.readUInt32LE(24), 7);
  });

  test('round trip for any IPv4 / IPv6 address and port', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), (addr, port) => {
        const d = decodeSockAddr(encodeSockAddr(addr, port));
        assert.ok(d);
        assert.equal(d.port, port);
        if (d.family === 4 && addr.includes(':')) {
          // IPv4-mapped IPv6 decodes to the plain IPv4 address.
          assert.ok(addr.toLowerCase().includes('ffff'), addr);
        } else {
          assert.equal(decodeSockAddr(encodeSockAddr(d.address, port))?.address, d.address);
          assert.equal(d.family, addr.includes(':') ? 6 : 4);
        }
      }),
    );
  });

  test('v4-mapped decodes as IPv4; unknown family and short buffers are undefined', () => {
    assert.deepEqual(decodeSockAddr(encodeSockAddr('::ffff:192.0.2.9', 80)), {
      family: 4,
      address: '192.0.2.9',
      port: 80,
    });
    assert.equal(decodeSockAddr(Buffer.alloc(128)), undefined);
    assert.equal(decodeSockAddr(encodeSockAddr('::1', 1).subarray(0, 20)), undefined);
  });

  test('bad input throws SockAddrError', () => {
    assert.throws(() => encodeSockAddr('example.com', 1), SockAddrError);
    assert.throws(() => encodeSockAddr('1.2.3.4', 70000), SockAddrError);
    assert.throws(() => encodeSockAddr('fe80::1%eth0', 1), SockAddrError);
  });

  test('formatEndpoint brackets IPv6', () => {
    assert.equal(formatEndpoint({ address: '::1', port: 80 }), '[::1]:80');
    assert.equal(formatEndpoint({ address: '1.2.3.4', port: 80 }), '1.2.3.4:80');
  });
});

function sampleInfo(): Buffer {
  const b = Buffer.alloc(MPTCP_INFO_BYTES);
  b.set([2, 1, 1, 8, 3, 4], 0);
  b.writeUInt32LE(2, 8); // REMOTE_KEY_RECEIVED
  b.writeUInt32LE(0xdeadbeef, 12);
  b.writeBigUInt64LE(100n, 16);
  b.writeBigUInt64LE(90n, 24);
  b.writeBigUInt64LE(2n ** 63n + 5n, 32);
  b.set([1, 2, 1], 40);
  b.writeUInt32LE(7, 44);
  b.writeBigUInt64LE(11n, 48);
  b.writeBigUInt64LE(1000n, 56);
  b.writeBigUInt64LE(2000n, 64);
  b.writeBigUInt64LE(990n, 72);
  b[80] = 3;
  b.writeUInt32LE(5, 84);
  b.writeUInt32LE(6, 88);
  b.writeUInt32LE(7, 92);
  return b;
}

describe('struct mptcp_info', () => {
  test('full 6.x layout', () => {
    const i = decodeMptcpInfo(sampleInfo());
    assert.equal(i.size, 96);
    assert.equal(i.subflows, 2);
    assert.equal(i.subflowsMax, 8);
    assert.equal(i.addAddrAcceptedMax, 4);
    assert.equal(i.fallback, false);
    assert.equal(i.remoteKeyReceived, true);
    assert.equal(i.token, 0xdeadbeef);
    assert.equal(i.writeSeq, 100n);
    assert.equal(i.rcvNxt, 2n ** 63n + 5n);
    assert.equal(i.localAddrMax, 2);
    assert.equal(i.csumEnabled, true);
    assert.equal(i.retransmits, 7);
    assert.equal(i.bytesRetrans, 11);
    assert.equal(i.bytesSent, 1000);
    assert.equal(i.bytesReceived, 2000);
    assert.equal(i.bytesAcked, 990);
    assert.equal(i.subflowsTotal, 3);
    assert.equal(i.lastAckRecvMs, 7);
  });

  test('older kernels return a prefix: fields beyond it are absent', () => {
    const v56 = decodeMptcpInfo(sampleInfo(), 40);
    assert.equal(v56.size, 40);
    assert.equal(v56.token, 0xdeadbeef);
    assert.equal(v56.localAddrUsed, undefined);
    assert.equal(v56.bytesSent, undefined);
    const v514 = decodeMptcpInfo(sampleInfo(), 43);
    assert.equal(v514.csumEnabled, true);
    assert.equal(v514.retransmits, undefined);
    const v65 = decodeMptcpInfo(sampleInfo(), 80);
    assert.equal(v65.bytesAcked, 990);
    assert.equal(v65.subflowsTotal, undefined);
  });

  test('any length ≥ 40 decodes without reading past it; < 40 throws', () => {
    fc.assert(
      fc.property(fc.integer({ min: 40, max: 96 }), (len) => {
        const b = sampleInfo();
        b.fill(0xee, len); // garbage beyond the returned length must not show up
        const i = decodeMptcpInfo(b, len);
        for (const v of Object.values(i)) assert.notEqual(v, 0xeeeeeeee);
        assert.equal(i.size, len);
      }),
    );
    assert.throws(() => decodeMptcpInfo(sampleInfo(), 39), StructTooShortError);
  });

  test('fallback flag', () => {
    const b = sampleInfo();
    b.writeUInt32LE(1, 8);
    assert.equal(decodeMptcpInfo(b).fallback, true);
  });
});

describe('struct tcp_info', () => {
  test('rtt, rttvar, rto, cwnd and byte counters at their offsets', () => {
    const b = Buffer.alloc(232);
    b[0] = 1;
    b.writeUInt32LE(204000, 8);
    b.writeUInt32LE(1448, 16);
    b.writeUInt32LE(37, 68);
    b.writeUInt32LE(18, 72);
    b.writeUInt32LE(10, 80);
    b.writeUInt32LE(3, 100);
    b.writeBigUInt64LE(123456n, 104);
    b.writeBigUInt64LE(500n, 120);
    b.writeBigUInt64LE(600n, 128);
    b.writeUInt32LE(40, 136);
    b.writeUInt32LE(41, 140);
    b.writeBigUInt64LE(700n, 200);
    b.writeBigUInt64LE(8n, 208);
    const t = decodeTcpInfo(b, 0, b.length);
    assert.deepEqual(
      { ...t, deliveryRateBps: undefined, minRttUs: undefined },
      {
        state: 1,
        rtoUs: 204000,
        sndMss: 1448,
        rttUs: 37,
        rttVarUs: 18,
        sndCwnd: 10,
        totalRetrans: 3,
        pacingRateBps: 123456,
        bytesAcked: 500,
        bytesReceived: 600,
        segsOut: 40,
        segsIn: 41,
        bytesSent: 700,
        bytesRetrans: 8,
        deliveryRateBps: undefined,
        minRttUs: undefined,
      },
    );
    assert.equal(decodeTcpInfo(b, 0, 104)?.bytesAcked, undefined);
    assert.equal(decodeTcpInfo(b, 0, 100), undefined);
  });
});

describe('MptcpUnavailableError', () => {
  test('names the errno, its meaning and the fix', () => {
    const e = new MptcpUnavailableError(92); // ENOPROTOOPT on Linux
    assert.equal(e.code, 'ENOPROTOOPT');
    assert.match(e.message, /ENOPROTOOPT: MPTCP is disabled/);
    assert.match(e.message, /sysctl -w net\.mptcp\.enabled=1/);
    assert.match(new MptcpUnavailableError(22).message, /EINVAL: the kernel is older than 5\.6/);
    assert.match(
      new MptcpUnavailableError(93).message,
      /EPROTONOSUPPORT: the kernel was built without MPTCP/,
    );
  });
});
