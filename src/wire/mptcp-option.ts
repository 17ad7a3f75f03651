/**
 * The MPTCP option codec: TCP option kind 30, RFC 8684 §3, cross-checked against Linux
 * `net/mptcp/options.c` (mptcp_parse_option, mptcp_write_options). This is the public entry point;
 * the code is in mptcp-option-parse.ts, mptcp-option-emit.ts and mptcp-option-layout.ts.
 *
 * Contract:
 * - `parseMptcpOption(buf)`: `buf` starts at the kind byte. Never throws and never reads past
 *   `buf.length` or past the option's own length byte. Errors (as values): `not-mptcp` (kind ≠ 30),
 *   `truncated` (fewer bytes than the length byte says), `bad-length` (length < 3). A known subtype
 *   whose length fits none of its forms, and an unknown subtype, parse as `{ kind: 'unknown' }`.
 *   HMACs and `raw` are views into `buf` (no copies). Reserved bits are ignored on parse and
 *   written as zero on emit; so are DSS `a`/`m` flags whose `A`/`M` flag is clear.
 * - `emitMptcpOption(opt, out, offset)`: writes kind, length and body, returns the bytes written.
 *   Throws `WireError('bad-value')` for values that cannot be encoded and `WireError('too-large')`
 *   when `out` has no room. 64-bit fields with a 32-bit wire form (`dsn64`/`ack64` false) write only
 *   the low 32 bits.
 * - Hot path (DSS, every frame): manual big-endian access on the caller's buffer, no allocation
 *   beyond the result objects.
 */

export { encodedLength, emitMptcpOption, encodeMptcpOption } from './mptcp-option-emit.js';
export {
  ADD_ADDR_HMAC_BYTES,
  DssFlag,
  MP_CAPABLE_ACK_DATA_CSUM_LENGTH,
  MP_CAPABLE_ACK_DATA_LENGTH,
  MP_CAPABLE_ACK_LENGTH,
  MP_CAPABLE_SYN_LENGTH,
  MP_CAPABLE_SYNACK_LENGTH,
  MP_JOIN_ACK_HMAC_BYTES,
  MP_JOIN_ACK_LENGTH,
  MP_JOIN_SYN_LENGTH,
  MP_JOIN_SYNACK_HMAC_BYTES,
  MP_JOIN_SYNACK_LENGTH,
  REMOVE_ADDR_MAX_IDS,
} from './mptcp-option-layout.js';
export { parseMptcpOption } from './mptcp-option-parse.js';
