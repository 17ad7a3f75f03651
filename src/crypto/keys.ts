/**
 * MPTCP keys, tokens and initial data sequence numbers (RFC 8684 §3.1, §3.2; Linux
 * `mptcp_crypto_key_sha` in net/mptcp/crypto.c).
 *
 * Contract: keys are 64-bit unsigned `bigint`s, hashed as 8 big-endian bytes with SHA-256.
 * Token = the most significant 32 bits of the digest; IDSN = the least significant 64 bits
 * (digest bytes 24–31). Functions given a key outside 0…2^64-1 throw `KeyRangeError`.
 */
import { createHash, randomBytes } from 'node:crypto';

export const MPTCP_KEY_BYTES = 8;
export const MPTCP_NONCE_BYTES = 4;
const SHA256_BYTES = 32;
const IDSN_OFFSET = SHA256_BYTES - 8;

/** A key (or nonce) that does not fit its unsigned wire width. */
export class KeyRangeError extends RangeError {
  override readonly name = 'KeyRangeError';
}

/** Writes `key` as 8 big-endian bytes at `offset`. */
export function writeKey(key: bigint, out: Uint8Array, offset: number): void {
  if (typeof key !== 'bigint' || BigInt.asUintN(64, key) !== key) {
    throw new KeyRangeError(`MPTCP key ${String(key)} is not in 0…2^64-1`);
  }
  const hi = Number(key >> 32n);
  const lo = Number(key & 0xffffffffn);
  out[offset] = hi >>> 24;
  out[offset + 1] = hi >>> 16;
  out[offset + 2] = hi >>> 8;
  out[offset + 3] = hi;
  out[offset + 4] = lo >>> 24;
  out[offset + 5] = lo >>> 16;
  out[offset + 6] = lo >>> 8;
  out[offset + 7] = lo;
}

/** Writes a 32-bit nonce big-endian at `offset`. */
export function writeNonce(nonce: number, out: Uint8Array, offset: number): void {
  if (nonce >>> 0 !== nonce) throw new KeyRangeError(`MPTCP nonce ${nonce} is not in 0…2^32-1`);
  out[offset] = nonce >>> 24;
  out[offset + 1] = nonce >>> 16;
  out[offset + 2] = nonce >>> 8;
  out[offset + 3] = nonce;
}

/** SHA-256 of the key as 8 big-endian bytes. */
export function keyDigest(key: bigint): Uint8Array {
  const k = new Uint8Array(MPTCP_KEY_BYTES);
  writeKey(key, k, 0);
  const d = createHash('sha256').update(k).digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
}

/** Token of a key and its IDSN, from one digest. */
export function tokenAndIdsnOfKey(key: bigint): { token: number; idsn: bigint } {
  const d = keyDigest(key);
  const dv = new DataView(d.buffer, d.byteOffset, d.length);
  return { token: dv.getUint32(0), idsn: dv.getBigUint64(IDSN_OFFSET) };
}

/** The connection token: most significant 32 bits of SHA-256(key). */
export function tokenOfKey(key: bigint): number {
  return tokenAndIdsnOfKey(key).token;
}

/** The initial data sequence number: least significant 64 bits of SHA-256(key). */
export function idsnOfKey(key: bigint): bigint {
  return tokenAndIdsnOfKey(key).idsn;
}

/** A fresh random 64-bit key (RFC 8684 §3.1 asks for a cryptographically random key). */
export function randomKey(): bigint {
  return randomBytes(MPTCP_KEY_BYTES).readBigUInt64BE(0);
}

/** A fresh random 32-bit nonce (MP_JOIN's R-A / R-B). */
export function randomNonce(): number {
  return randomBytes(MPTCP_NONCE_BYTES).readUInt32BE(0);
}
