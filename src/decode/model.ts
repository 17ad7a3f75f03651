/**
 * The result of decoding MPTCP from a capture: plain JSON-serialisable data (no bigint; keys, tokens
 * and DSNs as lowercase hex). This is also the `mptcp decode --json` output.
 *
 * Roles: "client" is the host that sent the MP_CAPABLE SYN, "server" the one that answered it.
 * On each subflow, `src` is the host that sent the subflow's SYN and `dst` the one that answered.
 */

/** How a subflow joined its connection. "incomplete": the MP_JOIN handshake was not all captured
 *  (e.g. the SYN was answered by a RST), so its HMACs could not all be checked. */
export type JoinVerdict = 'initial' | 'verified' | 'failed' | 'incomplete';

/** ADD_ADDR HMAC verdict; "unknown" when a key needed to check it was not captured. */
export type AddAddrVerdict = 'verified' | 'failed' | 'echo' | 'unknown';

export type Role = 'client' | 'server';

export interface MappingCounts {
  /** DSS mappings seen (distinct per subflow direction; infinite mappings excluded). */
  checked: number;
  /** Mappings that disagree with the payload carried or with DSN continuity. */
  mismatched: number;
  /** Payload segments that no mapping accounted for (connection totals only). */
  unmappedSegments?: number;
}

export interface DecodedSubflow {
  /** "ip:port" ("[v6]:port") of the subflow's SYN sender and of its receiver. */
  src: string;
  dst: string;
  join: JoinVerdict;
  /** Which connection side sent this subflow's SYN. */
  initiator: Role;
  /** MP_JOIN only: the token in the SYN (8 hex digits), the address IDs, each HMAC's verdict. */
  token?: string;
  addressIds?: { src?: number; dst?: number };
  hmac?: { synAck: 'verified' | 'failed' | 'missing'; ack: 'verified' | 'failed' | 'missing' };
  /** Backup as last signalled by either side (MP_JOIN B bit, then MP_PRIO). */
  backup: boolean;
  /** TCP payload bytes carried, both directions together and each way (retransmissions included). */
  bytes: number;
  bytesSrcToDst: number;
  bytesDstToSrc: number;
  mappings: MappingCounts;
  /** MP_PRIO seen on this subflow, in order. */
  prio: { from: Role; backup: boolean }[];
  /** A TCP RST was seen; MP_TCPRST reasons, if any. */
  reset: boolean;
  tcpRst: { from: Role; reason: number; transient: boolean }[];
}

export interface DecodedAddAddr {
  /** The announcing side and the subflow it was sent on ("src -> dst" of that subflow). */
  from: Role;
  on: string;
  addressId: number;
  address: string;
  port?: number;
  echo: boolean;
  hmac: AddAddrVerdict;
}

export interface DecodedRemoveAddr {
  from: Role;
  on: string;
  addressIds: number[];
}

export interface DecodedConnection {
  /** Tokens of the client's and the server's keys (8 hex digits), as far as the keys were seen. */
  tokens: string[];
  /** 64-bit keys as 16 hex digits. */
  keys: { client?: string; server?: string };
  /** Initial data sequence numbers (16 hex digits). */
  idsns: { client?: string; server?: string };
  /** MP_CAPABLE version (1 = RFC 8684, 0 = RFC 6824). */
  version: number;
  /** DSS checksums negotiated (MP_CAPABLE flag A from either side). */
  checksums: boolean;
  /** The SYN/ACK carried no MP_CAPABLE: the connection fell back to plain TCP. */
  fallback: boolean;
  subflows: DecodedSubflow[];
  addAddrs: DecodedAddAddr[];
  removeAddrs: DecodedRemoveAddr[];
  dataFin: boolean;
  dataFinFrom: Role[];
  fastclose: boolean;
  mpFail: number;
  mappings: MappingCounts;
  /** DSS checksums recomputed over fully captured mappings (when checksums are in use). */
  dssChecksums: { verified: number; failed: number };
  /** The first few reasons mappings were counted as mismatched. */
  problems: string[];
}

export interface DecodeStats {
  packets: number;
  tcpSegments: number;
  mptcpSegments: number;
  skippedPackets: Record<string, number>;
  /** MPTCP options of a kind the codec does not know. */
  unknownOptions: number;
  /** Bytes of TCP segments on the wire but not in the capture (short snap length). */
  truncatedBytes: number;
  /** Segments of subflows whose SYN was not captured (not attributed to any connection). */
  untrackedSegments: number;
}

export interface DecodeResult {
  connections: DecodedConnection[];
  /** MP_JOIN subflows whose token matches no connection in the capture. */
  unmatchedJoins: DecodedSubflow[];
  stats: DecodeStats;
}
