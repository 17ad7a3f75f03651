import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  addAddrHmac,
  hmacSha256,
  joinAckHmac,
  joinHmac,
  joinSynAckHmac,
  timingSafeEqualBytes,
} from '../../src/crypto/hmac.js';
import { KeyRangeError } from '../../src/crypto/keys.js';
import { WireError } from '../../src/wire/types.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

/**
 * net/mptcp/crypto_test.c (KUnit "mptcp-crypto"): key and message strings are fed as their ASCII
 * bytes (the kernel reinterprets the char arrays as be64/be32), not hex-decoded.
 */
const KUNIT_VECTORS = [
  {
    key: '0b0b0b0b0b0b0b0b',
    msg: '48692054',
    result: '8385e24fb4235ac37556b6b886db106284a1da671699f46db1f235ec622dcafa',
  },
  {
    key: 'aaaaaaaaaaaaaaaa',
    msg: 'dddddddd',
    result: '2c5e219164ff1dca1c4a92318d847bb6b9d44492984e1eb71aff9022f71046e9',
  },
  {
    key: '0102030405060708',
    msg: 'cdcdcdcd',
    result: 'e73b9ba9969969cefb04aa0d6df18ec2fcc075b6f23b4d8c4da736a5dbbc6e7d',
  },
];

for (const v of KUNIT_VECTORS) {
  test(`KUnit vector key=${v.key} msg=${v.msg}: hmacSha256 and joinHmac`, () => {
    assert.equal(hex(hmacSha256(ascii(v.key), ascii(v.msg))), v.result);
    // The same vector through the MP_JOIN API, as the kernel test drives mptcp_crypto_hmac_sha().
    const kb = Buffer.from(v.key, 'latin1');
    const mb = Buffer.from(v.msg, 'latin1');
    const full = joinHmac(
      kb.readBigUInt64BE(0),
      kb.readBigUInt64BE(8),
      mb.readUInt32BE(0),
      mb.readUInt32BE(4),
    );
    assert.equal(hex(full), v.result);
    assert.equal(
      hex(
        joinSynAckHmac(kb.readBigUInt64BE(0), kb.readBigUInt64BE(8), mb.readUInt32BE(0), mb.readUInt32BE(4)),
      ),
      v.result.slice(0, 16),
    );
    assert.equal(
      hex(joinAckHmac(kb.readBigUInt64BE(0), kb.readBigUInt64BE(8), mb.readUInt32BE(0), mb.readUInt32BE(4))),
      v.result.slice(0, 40),
    );
  });
}

const KEY_A = 0x0102030405060708n;
const KEY_B = 0x1112131415161718n;
const NONCE_A = 0x01020304;
const NONCE_B = 0xa0b0c0d0;

// Expected values computed with
//   echo -n MSG | xxd -r -p | openssl dgst -sha256 -mac HMAC -macopt hexkey:KEY
test('MP_JOIN: the SYN/ACK sender (B) puts its own key and nonce first (openssl known answer)', () => {
  // key 1112131415161718‖0102030405060708, message a0b0c0d0‖01020304
  assert.equal(hex(joinSynAckHmac(KEY_B, KEY_A, NONCE_B, NONCE_A)), '6e77617bac27729b');
  // key 0102030405060708‖1112131415161718, message 01020304‖a0b0c0d0
  assert.equal(hex(joinAckHmac(KEY_A, KEY_B, NONCE_A, NONCE_B)), '30c1a5ea36b2e7caab14963ad21bbf91a348b473');
  // Swapping the roles changes the HMAC.
  assert.notEqual(hex(joinSynAckHmac(KEY_A, KEY_B, NONCE_A, NONCE_B)), '6e77617bac27729b');
});

test('ADD_ADDR HMAC: rightmost 8 bytes over id ‖ address ‖ port (openssl known answer)', () => {
  // message 05 c0000201 1f90 → d26c…0f19
  assert.equal(hex(addAddrHmac(KEY_A, KEY_B, 5, '192.0.2.1', 8080)), 'f55aceccc829b2d8597d0f19'.slice(8));
  // message 05 20010db8000000000000000000000001 0000 (port absent counts as 0) → 9167…1a82
  assert.equal(hex(addAddrHmac(KEY_A, KEY_B, 5, '2001:db8::1')), '045accfcc861db63200c1a82'.slice(8));
  assert.equal(
    hex(addAddrHmac(KEY_A, KEY_B, 5, '2001:db8::1', 0)),
    hex(addAddrHmac(KEY_A, KEY_B, 5, '2001:db8::1')),
  );
});

test('ADD_ADDR HMAC matches a hand-built message through hmacSha256', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.integer({ min: 0, max: 65535 }),
      (ka, kb, id, a, port) => {
        const key = Buffer.alloc(16);
        key.writeBigUInt64BE(ka, 0);
        key.writeBigUInt64BE(kb, 8);
        const msg = Buffer.from([id, ...a, port >> 8, port & 0xff]);
        const full = hmacSha256(key, msg);
        assert.equal(hex(addAddrHmac(ka, kb, id, a.join('.'), port)), hex(full.subarray(24)));
      },
    ),
    { numRuns: 200 },
  );
});

test('bad inputs throw named errors', () => {
  assert.throws(() => joinHmac(-1n, 0n, 0, 0), KeyRangeError);
  assert.throws(() => joinHmac(0n, 0n, 2 ** 32, 0), KeyRangeError);
  assert.throws(() => addAddrHmac(0n, 0n, 1, 'not-an-address'), WireError);
  assert.throws(() => addAddrHmac(0n, 0n, 256, '10.0.0.1'), WireError);
  assert.throws(() => addAddrHmac(0n, 0n, 1, '10.0.0.1', 65536), WireError);
});

test('timingSafeEqualBytes', () => {
  assert.equal(timingSafeEqualBytes(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3)), true);
  assert.equal(timingSafeEqualBytes(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4)), false);
  assert.equal(timingSafeEqualBytes(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2)), false);
  assert.equal(timingSafeEqualBytes(new Uint8Array(0), new Uint8Array(0)), true);
});
