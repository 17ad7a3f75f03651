/** MPTCP crypto: keys, tokens, IDSNs (RFC 8684 §3.1) and the MP_JOIN / ADD_ADDR HMACs. */
export * from './hmac.js';
export * from './keys.js';
