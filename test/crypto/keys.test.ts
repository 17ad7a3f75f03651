import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  idsnOfKey,
  KeyRangeError,
  randomKey,
  randomNonce,
  tokenAndIdsnOfKey,
  tokenOfKey,
} from '../../src/crypto/keys.js';

// SHA-256 of the bytes 01 02 03 04 05 06 07 08, computed with `printf '\x01…\x08' | sha256sum`:
// 66840dda154e8a113c31dd0ad32f7f3a366a80e8136979d8f5a101d3d29d6f72
test('token and IDSN of a fixed key (sha256sum known answer)', () => {
  assert.equal(tokenOfKey(0x0102030405060708n), 0x66840dda);
  assert.equal(idsnOfKey(0x0102030405060708n), 0xf5a101d3d29d6f72n);
  // key 0: af5570f5…e0e83dfc; key 2^64-1: 12a3ae44…bbacf0ca (sha256sum of 8 zero / 8 0xff bytes).
  assert.equal(tokenOfKey(0n), 0xaf5570f5);
  assert.equal(idsnOfKey(0n), 0xe5b2328de0e83dfcn);
  assert.equal(tokenOfKey(2n ** 64n - 1n), 0x12a3ae44);
  assert.equal(idsnOfKey(2n ** 64n - 1n), 0x57fb595bbbacf0can);
});

test('property: token and IDSN agree with a straightforward hex-string computation', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (key) => {
      const hex = createHash('sha256')
        .update(Buffer.from(key.toString(16).padStart(16, '0'), 'hex'))
        .digest('hex');
      assert.equal(tokenOfKey(key), Number.parseInt(hex.slice(0, 8), 16));
      assert.equal(idsnOfKey(key), BigInt(`0x${hex.slice(48)}`));
      assert.deepEqual(tokenAndIdsnOfKey(key), { token: tokenOfKey(key), idsn: idsnOfKey(key) });
    }),
    { numRuns: 200 },
  );
});

test('keys outside 0…2^64-1 are rejected', () => {
  assert.throws(() => tokenOfKey(-1n), KeyRangeError);
  assert.throws(() => idsnOfKey(2n ** 64n), KeyRangeError);
});

test('random keys and nonces are in range and vary', () => {
  const keys = new Set<bigint>();
  const nonces = new Set<number>();
  for (let i = 0; i < 64; i++) {
    const k = randomKey();
    assert.ok(k >= 0n && k < 2n ** 64n);
    keys.add(k);
    const n = randomNonce();
    assert.ok(Number.isInteger(n) && n >= 0 && n <= 0xffffffff);
    nonces.add(n);
  }
  // 64 draws of 64 (32) random bits: a collision is astronomically (≈ 2^-20) unlikely.
  assert.equal(keys.size, 64);
  assert.ok(nonces.size >= 63);
});
