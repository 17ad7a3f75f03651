import assert from 'node:assert/strict';
import { isIPv4, isIPv6, SocketAddress } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatIpv4, formatIpv6, writeIpv4, writeIpv6 } from '../../src/wire/ip-address.js';

const words = fc.array(fc.constantFrom(0, 0, 0, 0, 1, 0xffff, 0xabcd, 0x2001, 0xdb8), {
  minLength: 8,
  maxLength: 8,
});

function wordsToBytes(w: number[]): Uint8Array {
  const b = new Uint8Array(16);
  w.forEach((x, i) => {
    b[2 * i] = x >> 8;
    b[2 * i + 1] = x & 0xff;
  });
  return b;
}

test('property: formatIpv6 matches Node (libuv inet_ntop) and writeIpv6 inverts it', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ minLength: 16, maxLength: 16 }), words.map(wordsToBytes)), (b) => {
      const text = formatIpv6(b, 0);
      // Node canonicalises any valid input the same way; feed it the uncompressed form.
      const full = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16)).join(
        ':',
      );
      assert.equal(text, new SocketAddress({ address: full, family: 'ipv6' }).address);
      const back = new Uint8Array(16);
      assert.equal(writeIpv6(text, back, 0), true, text);
      assert.deepEqual(back, b);
    }),
    { numRuns: 2000 },
  );
});

test('property: IPv4 text round-trips', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (b) => {
      const text = formatIpv4(b, 0);
      assert.equal(text, new SocketAddress({ address: text }).address);
      const back = new Uint8Array(4);
      assert.equal(writeIpv4(text, back, 0), true);
      assert.deepEqual(back, b);
    }),
  );
});

test('writeIpv6 accepts the forms Node accepts', () => {
  const good = [
    '::',
    '::1',
    '1::',
    'FE80::1',
    '1:2:3:4:5:6:7:8',
    '1::8',
    '::ffff:1.2.3.4',
    '1:2:3:4:5:6:1.2.3.4',
    '0:0::0',
  ];
  for (const t of good) {
    assert.ok(isIPv6(t), t);
    const b = new Uint8Array(16);
    assert.equal(writeIpv6(t, b, 0), true, t);
    assert.equal(formatIpv6(b, 0), new SocketAddress({ address: t, family: 'ipv6' }).address, t);
  }
});

test('property: writeIpv4/writeIpv6 reject what Node rejects, on mutated address text', () => {
  const alphabet = fc.constantFrom(...'0123456789abcdefABCDEF:.:.g '.split(''));
  const seeds = fc.oneof(
    fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIpv6(b, 0)),
    words.map((w) => formatIpv6(wordsToBytes(w), 0)),
    fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIpv4(b, 0)),
  );
  const mutated = fc
    .tuple(seeds, fc.nat(), alphabet, fc.integer({ min: 0, max: 2 }))
    .map(([s, at, c, op]) => {
      const i = at % (s.length + 1);
      if (op === 0) return s.slice(0, i) + c + s.slice(i);
      if (op === 1) return s.slice(0, i) + s.slice(i + 1);
      return s.slice(0, i) + c + s.slice(i + 1);
    });
  fc.assert(
    fc.property(mutated, (t) => {
      assert.equal(writeIpv4(t, new Uint8Array(4), 0), isIPv4(t), `IPv4 ${JSON.stringify(t)}`);
      assert.equal(writeIpv6(t, new Uint8Array(16), 0), isIPv6(t), `IPv6 ${JSON.stringify(t)}`);
    }),
    { numRuns: 5000 },
  );
});
