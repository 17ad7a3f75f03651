/**
 * The MPTCP option model: RFC 8684 §3, TCP option kind 30, one variant per subtype (and per form where
 * the wire layout differs). Parsers in this folder produce these values; emitters consume them.
 *
 * Conventions:
 * - 64-bit quantities (keys, 64-bit DSNs and data ACKs, MP_FAIL DSN) are `bigint`; 32-bit ones are
 *   unsigned `number`s (0 … 2^32-1).
 * - Truncated HMACs are kept as raw bytes (`Uint8Array`, views into the input buffer after parse).
 * - Whether a 4- or 8-byte form was (or is to be) used on the wire is explicit (`dsn64`, `ack64`),
 *   so that parse → emit reproduces the input byte for byte.
 * - An option this codec does not know (subtype ≥ 9, or a known subtype whose length matches none of
 *   its forms) parses as `{ kind: 'unknown' }`, never as an exception.
 */

/** TCP option kind assigned to MPTCP (RFC 8684 §3). */
export const TCPOPT_MPTCP = 30;

/** MPTCP option subtypes (RFC 8684 §8, "MPTCP Option Subtypes" registry). */
export const MptcpSubtype = {
  MP_CAPABLE: 0,
  MP_JOIN: 1,
  DSS: 2,
  ADD_ADDR: 3,
  REMOVE_ADDR: 4,
  MP_PRIO: 5,
  MP_FAIL: 6,
  MP_FASTCLOSE: 7,
  MP_TCPRST: 8,
} as const;

/** MP_CAPABLE flag bits (RFC 8684 §3.1): A B C D E F G H, A being the most significant. */
export const MpCapableFlag = {
  /** A: checksum required. */
  CHECKSUM: 0x80,
  /** B: extensibility (must be 0 in v1). */
  EXTENSIBILITY: 0x40,
  /** C: do not attempt to establish new subflows to this source address. */
  NO_JOIN_TO_SOURCE: 0x20,
  /** H: HMAC-SHA256 crypto algorithm (the only one defined). */
  HMAC_SHA256: 0x01,
} as const;

/**
 * MP_CAPABLE (RFC 8684 §3.1). The form is given by which fields are present:
 * - SYN: no key (length 4);
 * - SYN/ACK: `senderKey` (length 12);
 * - third ACK: `senderKey` and `receiverKey` (length 20);
 * - first data packet: both keys and `dataLength` (length 22), plus `checksum` (length 24).
 */
export interface MpCapableOption {
  kind: 'mp_capable';
  /** Protocol version (4 bits); 1 for RFC 8684. */
  version: number;
  /** The 8 flag bits A…H (see MpCapableFlag). */
  flags: number;
  senderKey?: bigint;
  receiverKey?: bigint;
  /** Data-level length of the payload carried with this option (16 bits). */
  dataLength?: number;
  /** DSS checksum (16 bits), present only when checksums are in use. */
  checksum?: number;
}

/** MP_JOIN on the SYN (RFC 8684 §3.2, length 12). */
export interface MpJoinSynOption {
  kind: 'mp_join';
  form: 'syn';
  backup: boolean;
  addressId: number;
  /** The receiver's token (32 bits). */
  token: number;
  /** The sender's random number R (32 bits). */
  nonce: number;
}

/** MP_JOIN on the SYN/ACK (RFC 8684 §3.2, length 16). */
export interface MpJoinSynAckOption {
  kind: 'mp_join';
  form: 'synack';
  backup: boolean;
  addressId: number;
  /** Leftmost 64 bits of the sender's HMAC (8 bytes). */
  hmac: Uint8Array;
  /** The sender's random number R (32 bits). */
  nonce: number;
}

/** MP_JOIN on the third ACK (RFC 8684 §3.2, length 24). */
export interface MpJoinAckOption {
  kind: 'mp_join';
  form: 'ack';
  /** Leftmost 160 bits of the sender's HMAC (20 bytes). */
  hmac: Uint8Array;
}

export type MpJoinOption = MpJoinSynOption | MpJoinSynAckOption | MpJoinAckOption;

/** DSS mapping (RFC 8684 §3.3): `length` bytes at data sequence `dsn` ↔ subflow sequence `ssn`. */
export interface DssMapping {
  /** Data sequence number; when `dsn64` is false only the low 32 bits are on the wire. */
  dsn: bigint;
  dsn64: boolean;
  /** Subflow sequence number, relative to the subflow's initial sequence number (32 bits). */
  ssn: number;
  /** Data-level length (16 bits). */
  length: number;
  /** DSS checksum (16 bits), present only when checksums were negotiated. */
  checksum?: number;
}

/** DSS: data sequence signal (RFC 8684 §3.3). Flags: F (DATA_FIN), m, M, a, A. */
export interface DssOption {
  kind: 'dss';
  /** Cumulative data-level ACK; when `ack64` is false only the low 32 bits are on the wire. */
  dataAck?: bigint;
  ack64?: boolean;
  mapping?: DssMapping;
  /** F: the mapping's last byte is followed by DATA_FIN (which takes one data sequence number). */
  dataFin: boolean;
}

/** ADD_ADDR (RFC 8684 §3.4.1). */
export interface AddAddrOption {
  kind: 'add_addr';
  /** E: this is an echo acknowledging a received ADD_ADDR; an echo carries no HMAC. */
  echo: boolean;
  addressId: number;
  family: 4 | 6;
  /** Address in textual form ("192.0.2.1", "2001:db8::1"). */
  address: string;
  port?: number;
  /** Rightmost 64 bits of the HMAC (8 bytes), absent on echoes. */
  hmac?: Uint8Array;
}

/** REMOVE_ADDR (RFC 8684 §3.4.2): one or more address IDs. */
export interface RemoveAddrOption {
  kind: 'remove_addr';
  addressIds: number[];
}

/**
 * MP_PRIO (RFC 8684 §3.3.8): change the backup flag of the subflow it is sent on. RFC 6824 had an
 * optional address ID (length 4); RFC 8684 removed it (length 3). Both parse; `addressId` is kept.
 */
export interface MpPrioOption {
  kind: 'mp_prio';
  backup: boolean;
  addressId?: number;
}

/** MP_FAIL (RFC 8684 §3.7): the DSN at which a checksum failed (64 bits). */
export interface MpFailOption {
  kind: 'mp_fail';
  dsn: bigint;
}

/** MP_FASTCLOSE (RFC 8684 §3.5): abort the connection; carries the receiver's key. */
export interface MpFastcloseOption {
  kind: 'mp_fastclose';
  receiverKey: bigint;
}

/** MP_TCPRST reason codes (RFC 8684 §3.6). */
export const TcpRstReason = {
  UNSPECIFIED: 0,
  MPTCP_SPECIFIC: 1,
  LACK_OF_RESOURCES: 2,
  ADMINISTRATIVELY_PROHIBITED: 3,
  TOO_MUCH_OUTSTANDING_DATA: 4,
  UNACCEPTABLE_PERFORMANCE: 5,
  MIDDLEBOX_INTERFERENCE: 6,
} as const;

/** MP_TCPRST (RFC 8684 §3.6, length 4): why a subflow was reset. Flag bits U V W T (T = transient). */
export interface MpTcpRstOption {
  kind: 'mp_tcprst';
  /** The four flag bits U V W T, T being bit 0. */
  flags: number;
  /** Reason code (see TcpRstReason). */
  reason: number;
}

/** An MPTCP option of a subtype this codec does not know, or whose length fits none of its forms. */
export interface UnknownMptcpOption {
  kind: 'unknown';
  subtype: number;
  /** The whole option, kind and length bytes included (a view into the input). */
  raw: Uint8Array;
}

export type MptcpOption =
  | MpCapableOption
  | MpJoinOption
  | DssOption
  | AddAddrOption
  | RemoveAddrOption
  | MpPrioOption
  | MpFailOption
  | MpFastcloseOption
  | MpTcpRstOption
  | UnknownMptcpOption;

/** Why bytes could not be parsed at all (as opposed to parsing as `unknown`). */
export type WireErrorCode = 'truncated' | 'bad-length' | 'not-mptcp' | 'bad-value' | 'too-large';

/** A typed codec error; returned (never thrown) by parsers, thrown by emitters given invalid values. */
export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(
    readonly code: WireErrorCode,
    message: string,
    /** Byte offset in the input where the problem was found, where that applies. */
    readonly offset = 0,
  ) {
    super(message);
  }
}

/** Result of a parser: the value and how many bytes it took, or an error. */
export type ParseResult<T> = { ok: true; value: T; length: number } | { ok: false; error: WireError };
