/**
 * TCP segments → MPTCP connections (RFC 8684), for `mptcp decode`.
 *
 * How (all from the segments, nothing from the hosts):
 * - An MP_CAPABLE SYN starts a connection and its initial subflow. Keys: the server's from the
 *   SYN/ACK, the client's from the third ACK or the first data packet (both carry both keys); a v1
 *   SYN carries no key (§3.1), a v0 (RFC 6824) SYN carries the client's. Token and IDSN of each key
 *   come from `tokenOfKey` / `idsnOfKey` (SHA-256 of the key, §3.1).
 * - An MP_JOIN SYN carries the token of the receiver's key: it names the connection and tells which
 *   side opened the subflow. Once both keys are known the SYN/ACK HMAC (sent by the receiver B:
 *   HMAC(Key-B‖Key-A, R-B‖R-A), leftmost 64 bits) and the third-ACK HMAC (sent by A: HMAC(Key-A‖Key-B,
 *   R-A‖R-B), leftmost 160 bits) are recomputed and compared (§3.2).
 * - ADD_ADDR HMACs are recomputed with the announcing side's key first (§3.4.1); echoes carry none.
 * - DSS mappings are checked against the payload carried and the data sequence space (./mappings.ts).
 * Pure: no I/O; never throws on any input segments.
 */
import {
  addAddrHmac,
  idsnOfKey,
  joinAckHmac,
  joinSynAckHmac,
  timingSafeEqualBytes,
  tokenOfKey,
} from '../crypto/index.js';
import type { TcpSegment } from '../pcap/segments.js';
import { type AddAddrOption, MpCapableFlag, type MptcpOption, mptcpOptionsOf } from '../wire/index.js';
import { checkChecksum, checkContinuity, checkCoverage, Direction, type MappingState } from './mappings.js';
import type {
  AddAddrVerdict,
  DecodedConnection,
  DecodedSubflow,
  DecodeResult,
  JoinVerdict,
  MappingCounts,
  Role,
} from './model.js';

/** At most this many problem descriptions are kept per connection. */
const MAX_PROBLEMS = 10;
const MASK64 = (1n << 64n) - 1n;

interface ConnState {
  clientKey?: bigint;
  serverKey?: bigint;
  version: number;
  checksums: boolean;
  fallback: boolean;
  subflows: SubflowState[];
}

interface SubflowState {
  src: string;
  dst: string;
  conn?: ConnState;
  /** Role of the SYN sender, once known (initial subflow: client; joins: from the token). */
  srcRole?: Role;
  isJoin: boolean;
  fwd: Direction;
  rev: Direction;
  token?: number;
  nonceSrc?: number;
  nonceDst?: number;
  addrIdSrc?: number;
  addrIdDst?: number;
  synAckHmac?: Uint8Array;
  ackHmac?: Uint8Array;
  backupSrc: boolean;
  backupDst: boolean;
  prio: { fromSrc: boolean; backup: boolean }[];
  reset: boolean;
  tcpRst: { fromSrc: boolean; reason: number; transient: boolean }[];
  addAddrs: { fromSrc: boolean; opt: AddAddrOption }[];
  removeAddrs: { fromSrc: boolean; ids: number[] }[];
  dataFinSrc: boolean;
  dataFinDst: boolean;
  fastclose: boolean;
  mpFail: number;
  problems: string[];
}

function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function hex(v: bigint | number, digits: number): string {
  return v.toString(16).padStart(digits, '0');
}

function other(r: Role): Role {
  return r === 'client' ? 'server' : 'client';
}

function newSubflow(src: string, dst: string, isJoin: boolean): SubflowState {
  return {
    src,
    dst,
    isJoin,
    fwd: new Direction(`${src} -> ${dst}`),
    rev: new Direction(`${dst} -> ${src}`),
    backupSrc: false,
    backupDst: false,
    prio: [],
    reset: false,
    tcpRst: [],
    addAddrs: [],
    removeAddrs: [],
    dataFinSrc: false,
    dataFinDst: false,
    fastclose: false,
    mpFail: 0,
    problems: [],
  };
}

/** Reconstructs the MPTCP connections of a capture from its TCP segments (in capture order). */
export function decodeMptcp(segments: readonly TcpSegment[]): DecodeResult {
  const live = new Map<string, SubflowState>();
  const connections: ConnState[] = [];
  const joins: SubflowState[] = [];
  let mptcpSegments = 0;
  let unknownOptions = 0;
  let untrackedSegments = 0;

  for (const seg of segments) {
    const a = endpoint(seg.src, seg.srcPort);
    const b = endpoint(seg.dst, seg.dstPort);
    const tcp = seg.tcp;
    const opts = mptcpOptionsOf(tcp.options);
    if (opts.length > 0) mptcpSegments++;
    let sf = live.get(`${a}|${b}`);
    let fromSrc = true;
    if (!sf) {
      sf = live.get(`${b}|${a}`);
      fromSrc = false;
    }
    if (tcp.syn && !tcp.ackFlag) {
      const retransmitted = sf && fromSrc && sf.fwd.isn === tcp.seq;
      if (!retransmitted) {
        const cap = opts.find((o) => o.kind === 'mp_capable');
        const join = opts.find((o) => o.kind === 'mp_join' && o.form === 'syn');
        if (sf) live.delete(fromSrc ? `${a}|${b}` : `${b}|${a}`);
        sf = undefined;
        if (cap?.kind === 'mp_capable') {
          sf = newSubflow(a, b, false);
          const conn: ConnState = {
            version: cap.version,
            checksums: (cap.flags & MpCapableFlag.CHECKSUM) !== 0,
            fallback: false,
            subflows: [sf],
          };
          if (cap.senderKey !== undefined) conn.clientKey = cap.senderKey; // RFC 6824 (v0) SYN
          sf.conn = conn;
          sf.srcRole = 'client';
          connections.push(conn);
        } else if (join?.kind === 'mp_join' && join.form === 'syn') {
          sf = newSubflow(a, b, true);
          sf.token = join.token;
          sf.nonceSrc = join.nonce;
          sf.addrIdSrc = join.addressId;
          sf.backupSrc = join.backup;
          joins.push(sf);
        }
        if (!sf) continue; // plain TCP
        sf.fwd.isn = tcp.seq;
        live.set(`${a}|${b}`, sf);
        fromSrc = true;
      }
    }
    if (!sf) {
      if (opts.length > 0) untrackedSegments++;
      continue;
    }
    const dir = fromSrc ? sf.fwd : sf.rev;
    if (tcp.syn && tcp.ackFlag && !fromSrc) {
      dir.isn = tcp.seq;
      if (sf.conn && !opts.some((o) => o.kind === 'mp_capable')) sf.conn.fallback = true;
    }
    if (tcp.rst) sf.reset = true;
    let own: MappingState | undefined;
    for (const o of opts) {
      const m = applyOption(sf, fromSrc, tcp.syn, o);
      if (m) own = m;
      if (o.kind === 'unknown') unknownOptions++;
    }
    if (seg.payload.length > 0) dir.addPayload(tcp.seq, seg.payload, own, sf.problems);
  }

  // Attach joins to connections by token; the side whose key has the token received the SYN.
  const byToken = new Map<number, { conn: ConnState; receiver: Role }>();
  for (const conn of connections) {
    if (conn.clientKey !== undefined) byToken.set(tokenOfKey(conn.clientKey), { conn, receiver: 'client' });
    if (conn.serverKey !== undefined) byToken.set(tokenOfKey(conn.serverKey), { conn, receiver: 'server' });
  }
  const unmatched: SubflowState[] = [];
  for (const j of joins) {
    const hit = j.token === undefined ? undefined : byToken.get(j.token);
    if (!hit) {
      unmatched.push(j);
      continue;
    }
    j.conn = hit.conn;
    j.srcRole = other(hit.receiver);
    hit.conn.subflows.push(j);
  }

  return {
    connections: connections.map(finishConnection),
    unmatchedJoins: unmatched.map((j) => finishSubflow(j)),
    stats: {
      packets: 0,
      tcpSegments: segments.length,
      mptcpSegments,
      skippedPackets: {},
      truncatedBytes: 0,
      unknownOptions,
      untrackedSegments,
    },
  };
}

/** Records one MPTCP option; returns the DSS mapping it carried, if any. */
function applyOption(
  sf: SubflowState,
  fromSrc: boolean,
  syn: boolean,
  o: MptcpOption,
): MappingState | undefined {
  const dir = fromSrc ? sf.fwd : sf.rev;
  switch (o.kind) {
    case 'mp_capable': {
      const conn = sf.conn;
      if (!conn || (syn && fromSrc)) return undefined; // the SYN was handled when the subflow was made
      if (o.flags & MpCapableFlag.CHECKSUM) conn.checksums = true;
      // SYN/ACK: the server's key; third ACK / first data: the sender's key, then the receiver's.
      const senderIsClient = fromSrc;
      if (o.senderKey !== undefined) {
        if (senderIsClient) conn.clientKey ??= o.senderKey;
        else conn.serverKey ??= o.senderKey;
      }
      if (o.receiverKey !== undefined) {
        if (senderIsClient) conn.serverKey ??= o.receiverKey;
        else conn.clientKey ??= o.receiverKey;
      }
      if (o.dataLength !== undefined && o.senderKey !== undefined) {
        // §3.1: data on the MP_CAPABLE ACK is mapped at DSN = IDSN + 1, SSN = 1.
        return dir.addMapping(
          (idsnOfKey(o.senderKey) + 1n) & MASK64,
          true,
          1,
          o.dataLength,
          false,
          o.checksum,
        );
      }
      return undefined;
    }
    case 'mp_join':
      if (o.form === 'synack' && !fromSrc) {
        sf.synAckHmac = o.hmac;
        sf.nonceDst = o.nonce;
        sf.addrIdDst = o.addressId;
        sf.backupDst = o.backup;
      } else if (o.form === 'ack' && fromSrc) {
        sf.ackHmac = o.hmac;
      }
      return undefined;
    case 'dss':
      if (o.dataFin) {
        if (fromSrc) sf.dataFinSrc = true;
        else sf.dataFinDst = true;
      }
      if (!o.mapping) return undefined;
      return dir.addMapping(
        o.mapping.dsn,
        o.mapping.dsn64,
        o.mapping.ssn,
        o.mapping.length,
        o.dataFin,
        o.mapping.checksum,
      );
    case 'add_addr':
      sf.addAddrs.push({ fromSrc, opt: o });
      return undefined;
    case 'remove_addr':
      sf.removeAddrs.push({ fromSrc, ids: o.addressIds });
      return undefined;
    case 'mp_prio':
      sf.prio.push({ fromSrc, backup: o.backup });
      if (fromSrc) sf.backupSrc = o.backup;
      else sf.backupDst = o.backup;
      return undefined;
    case 'mp_fastclose':
      sf.fastclose = true;
      return undefined;
    case 'mp_tcprst':
      sf.tcpRst.push({ fromSrc, reason: o.reason, transient: (o.flags & 1) !== 0 });
      return undefined;
    case 'mp_fail':
      sf.mpFail++;
      return undefined;
    default:
      return undefined;
  }
}

function keyOf(conn: ConnState | undefined, role: Role | undefined): bigint | undefined {
  if (!conn || !role) return undefined;
  return role === 'client' ? conn.clientKey : conn.serverKey;
}

function compare(got: Uint8Array | undefined, want: () => Uint8Array): 'verified' | 'failed' | 'missing' {
  if (!got) return 'missing';
  return timingSafeEqualBytes(got, want()) ? 'verified' : 'failed';
}

function counts(mappings: MappingState[]): MappingCounts {
  return { checked: mappings.length, mismatched: mappings.filter((m) => m.problems.length > 0).length };
}

function finishSubflow(sf: SubflowState): DecodedSubflow {
  const srcRole = sf.srcRole ?? 'client';
  const out: DecodedSubflow = {
    src: sf.src,
    dst: sf.dst,
    join: 'initial',
    initiator: srcRole,
    backup: sf.backupSrc || sf.backupDst,
    bytes: sf.fwd.bytes + sf.rev.bytes,
    bytesSrcToDst: sf.fwd.bytes,
    bytesDstToSrc: sf.rev.bytes,
    mappings: counts([...sf.fwd.mappings, ...sf.rev.mappings]),
    prio: sf.prio.map((p) => ({ from: p.fromSrc ? srcRole : other(srcRole), backup: p.backup })),
    reset: sf.reset,
    tcpRst: sf.tcpRst.map((r) => ({
      from: r.fromSrc ? srcRole : other(srcRole),
      reason: r.reason,
      transient: r.transient,
    })),
  };
  if (!sf.isJoin) return out;
  out.token = hex(sf.token ?? 0, 8);
  out.addressIds = { src: sf.addrIdSrc, dst: sf.addrIdDst };
  const kA = keyOf(sf.conn, sf.srcRole);
  const kB = keyOf(sf.conn, sf.srcRole && other(sf.srcRole));
  let verdict: JoinVerdict = 'incomplete';
  if (kA !== undefined && kB !== undefined && sf.nonceSrc !== undefined && sf.nonceDst !== undefined) {
    const nA = sf.nonceSrc;
    const nB = sf.nonceDst;
    const synAck = compare(sf.synAckHmac, () => joinSynAckHmac(kB, kA, nB, nA));
    const ack = compare(sf.ackHmac, () => joinAckHmac(kA, kB, nA, nB));
    out.hmac = { synAck, ack };
    if (synAck === 'failed' || ack === 'failed') verdict = 'failed';
    else if (synAck === 'verified' && ack === 'verified') verdict = 'verified';
  }
  out.join = verdict;
  return out;
}

function addAddrVerdict(conn: ConnState, from: Role, opt: AddAddrOption): AddAddrVerdict {
  if (opt.echo) return 'echo';
  const sk = keyOf(conn, from);
  const rk = keyOf(conn, other(from));
  if (sk === undefined || rk === undefined || !opt.hmac) return 'unknown';
  try {
    return timingSafeEqualBytes(opt.hmac, addAddrHmac(sk, rk, opt.addressId, opt.address, opt.port))
      ? 'verified'
      : 'failed';
  } catch {
    return 'failed';
  }
}

function finishConnection(conn: ConnState): DecodedConnection {
  const problems: string[] = [];
  // Data sequence continuity per sending side, across all its subflows.
  for (const role of ['client', 'server'] as const) {
    const sent: MappingState[] = [];
    for (const sf of conn.subflows) {
      const srcRole = sf.srcRole ?? 'client';
      sent.push(...(srcRole === role ? sf.fwd : sf.rev).mappings);
    }
    const key = keyOf(conn, role);
    checkContinuity(sent, key === undefined ? undefined : (idsnOfKey(key) + 1n) & MASK64);
  }
  const all: MappingState[] = [];
  const dssChecksums = { verified: 0, failed: 0 };
  for (const sf of conn.subflows) {
    for (const m of [...sf.fwd.mappings, ...sf.rev.mappings]) {
      const chunks = checkCoverage(m);
      const verdict = chunks && checkChecksum(m, chunks);
      if (verdict) dssChecksums[verdict]++;
      all.push(m);
    }
  }
  const subflows = conn.subflows.map(finishSubflow);
  for (const m of all) problems.push(...m.problems);
  for (const sf of conn.subflows) problems.push(...sf.problems);
  const roleOf = (sf: SubflowState, fromSrc: boolean): Role => {
    const r = sf.srcRole ?? 'client';
    return fromSrc ? r : other(r);
  };
  const dataFinFrom = new Set<Role>();
  for (const sf of conn.subflows) {
    if (sf.dataFinSrc) dataFinFrom.add(roleOf(sf, true));
    if (sf.dataFinDst) dataFinFrom.add(roleOf(sf, false));
  }
  const tokens: string[] = [];
  const keys: DecodedConnection['keys'] = {};
  const idsns: DecodedConnection['idsns'] = {};
  for (const role of ['client', 'server'] as const) {
    const k = keyOf(conn, role);
    if (k === undefined) continue;
    tokens.push(hex(tokenOfKey(k), 8));
    keys[role] = hex(k, 16);
    idsns[role] = hex(idsnOfKey(k), 16);
  }
  const unmapped = conn.subflows.reduce((n, sf) => n + sf.fwd.unmappedSegments + sf.rev.unmappedSegments, 0);
  return {
    tokens,
    keys,
    idsns,
    version: conn.version,
    checksums: conn.checksums,
    fallback: conn.fallback,
    subflows,
    addAddrs: conn.subflows.flatMap((sf) =>
      sf.addAddrs.map(({ fromSrc, opt }) => {
        const from = roleOf(sf, fromSrc);
        return {
          from,
          on: `${sf.src} -> ${sf.dst}`,
          addressId: opt.addressId,
          address: opt.address,
          ...(opt.port !== undefined ? { port: opt.port } : {}),
          echo: opt.echo,
          hmac: addAddrVerdict(conn, from, opt),
        };
      }),
    ),
    removeAddrs: conn.subflows.flatMap((sf) =>
      sf.removeAddrs.map(({ fromSrc, ids }) => ({
        from: roleOf(sf, fromSrc),
        on: `${sf.src} -> ${sf.dst}`,
        addressIds: ids,
      })),
    ),
    dataFin: dataFinFrom.size > 0,
    dataFinFrom: [...dataFinFrom].sort(),
    fastclose: conn.subflows.some((sf) => sf.fastclose),
    mpFail: conn.subflows.reduce((n, sf) => n + sf.mpFail, 0),
    mappings: { ...counts(all), unmappedSegments: unmapped },
    dssChecksums,
    problems: problems.slice(0, MAX_PROBLEMS),
  };
}
