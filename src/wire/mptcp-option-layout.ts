/**
 * Byte layout of the MPTCP options (RFC 8684 §3; TCPOLEN_MPTCP_* and MPTCP_* in Linux
 * net/mptcp/protocol.h) and the big-endian accessors the codec uses. Internal to src/wire: the
 * public constants are re-exported by mptcp-option.ts.
 */

// Byte offsets common to every MPTCP option (RFC 8684 §3, Figure 3).
export const OFF_KIND = 0;
export const OFF_LENGTH = 1;
export const OFF_SUBTYPE = 2; // subtype in the high nibble, a subtype-specific nibble in the low one
export const OFF_BYTE3 = 3;
/** The smallest MPTCP option: kind, length, subtype. */
export const MIN_OPTION_LENGTH = 3;
/** A TCP option length is one byte. */
export const MAX_OPTION_LENGTH = 255;

// MP_CAPABLE lengths (RFC 8684 §3.1; TCPOLEN_MPTCP_MPC_* in net/mptcp/protocol.h).
export const MP_CAPABLE_SYN_LENGTH = 4;
export const MP_CAPABLE_SYNACK_LENGTH = 12;
export const MP_CAPABLE_ACK_LENGTH = 20;
export const MP_CAPABLE_ACK_DATA_LENGTH = 22;
export const MP_CAPABLE_ACK_DATA_CSUM_LENGTH = 24;
export const MPC_OFF_SENDER_KEY = 4;
export const MPC_OFF_RECEIVER_KEY = 12;
export const MPC_OFF_DATA_LENGTH = 20;
export const MPC_OFF_CHECKSUM = 22;

// MP_JOIN lengths and offsets (RFC 8684 §3.2; TCPOLEN_MPTCP_MPJ_*).
export const MP_JOIN_SYN_LENGTH = 12;
export const MP_JOIN_SYNACK_LENGTH = 16;
export const MP_JOIN_ACK_LENGTH = 24;
export const MP_JOIN_SYNACK_HMAC_BYTES = 8;
export const MP_JOIN_ACK_HMAC_BYTES = 20;
export const MPJ_BACKUP_BIT = 0x01; // B: low bit of byte 2 (MPTCPOPT_BACKUP)
export const MPJ_OFF_ADDRESS_ID = 3;
export const MPJ_OFF_TOKEN = 4;
export const MPJ_OFF_SYN_NONCE = 8;
export const MPJ_OFF_HMAC = 4;
export const MPJ_OFF_SYNACK_NONCE = 12;

// DSS (RFC 8684 §3.3, Figure 9; MPTCP_DSS_* in net/mptcp/protocol.h).
export const DssFlag = {
  /** A: data ACK present. */
  DATA_ACK: 0x01,
  /** a: data ACK is 8 bytes. */
  ACK64: 0x02,
  /** M: mapping (DSN, SSN, data-level length, checksum) present. */
  MAPPING: 0x04,
  /** m: DSN is 8 bytes. */
  DSN64: 0x08,
  /** F: DATA_FIN. */
  DATA_FIN: 0x10,
} as const;
export const DSS_BASE_LENGTH = 4;
export const DSS_OFF_FLAGS = 3;
export const DSS_CHECKSUM_BYTES = 2;

// ADD_ADDR (RFC 8684 §3.4.1, Figure 12; TCPOLEN_MPTCP_ADD_ADDR*).
export const ADD_ADDR_ECHO_BIT = 0x01; // E: low bit of byte 2 (MPTCP_ADDR_ECHO)
export const ADD_ADDR_OFF_ADDRESS_ID = 3;
export const ADD_ADDR_OFF_ADDRESS = 4;
export const ADD_ADDR_PORT_BYTES = 2;
export const ADD_ADDR_HMAC_BYTES = 8;

// REMOVE_ADDR (RFC 8684 §3.4.2): 3 + n address IDs.
export const REMOVE_ADDR_OFF_IDS = 3;
export const REMOVE_ADDR_MAX_IDS = MAX_OPTION_LENGTH - REMOVE_ADDR_OFF_IDS;

// MP_PRIO (RFC 8684 §3.3.8): length 3; RFC 6824 §3.3.8: length 4 with an address ID.
export const MP_PRIO_LENGTH = 3;
export const MP_PRIO_6824_LENGTH = 4;
export const MP_PRIO_BACKUP_BIT = 0x01; // B: low bit of byte 2 (MPTCP_PRIO_BKUP)

// MP_FAIL (§3.7) and MP_FASTCLOSE (§3.5): 2 reserved bytes then 8 bytes.
export const MP_FAIL_LENGTH = 12;
export const MP_FASTCLOSE_LENGTH = 12;
export const OFF_U64_AFTER_RESERVED = 4;

// MP_TCPRST (RFC 8684 §3.6): flags in the low nibble of byte 2, reason in byte 3.
export const MP_TCPRST_LENGTH = 4;

// Big-endian helpers on the caller's buffer (the caller has checked the bounds).

export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function u64(b: Uint8Array, o: number): bigint {
  return (BigInt(u32(b, o)) << 32n) | BigInt(u32(b, o + 4));
}

export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

export const U32_MASK = 0xffffffffn;
export const U64_MAX = 0xffffffffffffffffn;

/** Low 32 bits of a bigint already checked to be in 0…2^64-1. */
export function low32(v: bigint): number {
  return Number(v & U32_MASK);
}

// 64-bit writes go through a scratch DataView: setBigUint64 allocates nothing, unlike bigint shifts.
const scratch64 = new DataView(new ArrayBuffer(8));
const scratch64Bytes = new Uint8Array(scratch64.buffer);

export function put64(b: Uint8Array, o: number, v: bigint): void {
  scratch64.setBigUint64(0, v);
  for (let i = 0; i < 8; i++) b[o + i] = scratch64Bytes[i]!;
}

/** Length of a DSS option with the given flags, without checksum (as net/mptcp/options.c). */
export function dssLengthOfFlags(flags: number): number {
  let n = DSS_BASE_LENGTH;
  if (flags & DssFlag.DATA_ACK) n += flags & DssFlag.ACK64 ? 8 : 4;
  if (flags & DssFlag.MAPPING) n += (flags & DssFlag.DSN64 ? 8 : 4) + 4 + 2;
  return n;
}

/** ADD_ADDR option lengths (RFC 8684 §3.4.1) for an address family, port and HMAC presence. */
export function addAddrLength(addressBytes: number, port: boolean, hmac: boolean): number {
  return (
    ADD_ADDR_OFF_ADDRESS + addressBytes + (port ? ADD_ADDR_PORT_BYTES : 0) + (hmac ? ADD_ADDR_HMAC_BYTES : 0)
  );
}
