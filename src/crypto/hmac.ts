/**
 * The HMACs of MPTCP (RFC 8684 §3.2 MP_JOIN, §3.4.1 ADD_ADDR), all HMAC-SHA256 keyed with the
 * 16 bytes senderKey ‖ receiverKey (big-endian), as Linux `mptcp_crypto_hmac_sha` does.
 *
 * Contract:
 * - The sender's own key and nonce come first: B's SYN/ACK carries
 *   `joinSynAckHmac(keyB, keyA, nonceB, nonceA)` (leftmost 8 bytes), A's third ACK carries
 *   `joinAckHmac(keyA, keyB, nonceA, nonceB)` (leftmost 20 bytes).
 * - ADD_ADDR: HMAC over address ID (1 byte) ‖ address (4 or 16 bytes) ‖ port (2 bytes big-endian,
 *   0 when absent); the option carries the RIGHTMOST 8 bytes (Linux `add_addr_generate_hmac`).
 * - Keys out of range throw `KeyRangeError`; an address that is not IPv4/IPv6 text throws
 *   `WireError('bad-value')`. Results are fresh `Uint8Array`s (not Buffers).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { IPV6_ADDRESS_BYTES, writeIpv4, writeIpv6 } from '../wire/ip-address.js';
import {
  ADD_ADDR_HMAC_BYTES,
  MP_JOIN_ACK_HMAC_BYTES,
  MP_JOIN_SYNACK_HMAC_BYTES,
} from '../wire/mptcp-option.js';
import { WireError } from '../wire/types.js';
import { MPTCP_KEY_BYTES, writeKey, writeNonce } from './keys.js';

const SHA256_BYTES = 32;

/** HMAC-SHA256 of `message` under `key` (32 bytes). */
export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  const d = createHmac('sha256', key).update(message).digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
}

function keyPair(senderKey: bigint, receiverKey: bigint): Uint8Array {
  const k = new Uint8Array(2 * MPTCP_KEY_BYTES);
  writeKey(senderKey, k, 0);
  writeKey(receiverKey, k, MPTCP_KEY_BYTES);
  return k;
}

/** The full MP_JOIN HMAC: keyed with senderKey‖receiverKey, over senderNonce‖receiverNonce. */
export function joinHmac(
  senderKey: bigint,
  receiverKey: bigint,
  senderNonce: number,
  receiverNonce: number,
): Uint8Array {
  const msg = new Uint8Array(8);
  writeNonce(senderNonce, msg, 0);
  writeNonce(receiverNonce, msg, 4);
  return hmacSha256(keyPair(senderKey, receiverKey), msg);
}

/** The truncated HMAC of an MP_JOIN SYN/ACK (leftmost 64 bits); sent by the listener B. */
export function joinSynAckHmac(
  senderKey: bigint,
  receiverKey: bigint,
  senderNonce: number,
  receiverNonce: number,
): Uint8Array {
  return joinHmac(senderKey, receiverKey, senderNonce, receiverNonce).slice(0, MP_JOIN_SYNACK_HMAC_BYTES);
}

/** The truncated HMAC of an MP_JOIN third ACK (leftmost 160 bits); sent by the initiator A. */
export function joinAckHmac(
  senderKey: bigint,
  receiverKey: bigint,
  senderNonce: number,
  receiverNonce: number,
): Uint8Array {
  return joinHmac(senderKey, receiverKey, senderNonce, receiverNonce).slice(0, MP_JOIN_ACK_HMAC_BYTES);
}

/** The ADD_ADDR HMAC (rightmost 64 bits), keyed with the announcing side's key first. */
export function addAddrHmac(
  senderKey: bigint,
  receiverKey: bigint,
  addressId: number,
  address: string,
  port?: number,
): Uint8Array {
  if ((addressId & 0xff) !== addressId)
    throw new WireError('bad-value', `address ID ${addressId} not in 0…255`);
  const p = port ?? 0;
  if ((p & 0xffff) !== p) throw new WireError('bad-value', `port ${p} not in 0…65535`);
  const msg = new Uint8Array(1 + IPV6_ADDRESS_BYTES + 2);
  msg[0] = addressId;
  let n: number;
  if (writeIpv4(address, msg, 1)) n = 1 + 4;
  else if (writeIpv6(address, msg, 1)) n = 1 + IPV6_ADDRESS_BYTES;
  else throw new WireError('bad-value', `${address} is not an IPv4 or IPv6 address`);
  msg[n] = p >>> 8;
  msg[n + 1] = p & 0xff;
  const h = hmacSha256(keyPair(senderKey, receiverKey), msg.subarray(0, n + 2));
  return h.slice(SHA256_BYTES - ADD_ADDR_HMAC_BYTES);
}

/** Constant-time equality of two byte strings (false, without comparing, when lengths differ). */
export function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}
