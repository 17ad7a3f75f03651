/**
 * The reflex path of KernelPmDriver (Controller.establishedReflex): from a kernel `established`
 * event to SUBFLOW_CREATE requests ready to send, with as little work as possible on that path.
 *
 * Contract:
 * - `requestsFor(payload, locals)`: for the genl payload of a client-side `established` event, the
 *   reflex's subflows as create-subflow commands with their SUBFLOW_CREATE requests for the event's
 *   token; none for a server-side event or a controller without a reflex.
 * - IPv4 events are read in place (peekEstablished) and their answers looked up by the addresses
 *   as numbers; others are decoded. The reflex's answer is cached per (local address, remote
 *   address, remote port), as its contract allows, with its subflows encoded once for a fresh
 *   connection (local ids 0 for the initial address, then 1, 2… in order: what `reserveLocalId`
 *   gives a connection nothing else has asked ids for): after the first connection between two
 *   endpoints the path formats no address and encodes nothing. `clear()` (local addresses changed)
 *   forgets the answers. The caches are bounded (MAX_CACHED_ENTRIES each, emptied when full).
 * - `requestsFor` reserves the ids in the driver's state (`reserveLocalId`), so that they agree with
 *   those of later commands on the connection, and returns the templates restamped with the token
 *   (encoded anew only for a connection that already had other ids).
 * - `templates4(peek, locals)`: the IPv4 fast path: the templates themselves, which the caller
 *   stamps with the token and sends as they are; it reserves the ids afterwards and checks they
 *   agree.
 * - `wildcard4(local, locals)`: when the reflex's answer for connections from `local` to an IPv4
 *   remote is the same for every remote but for the remote itself (each subflow goes to the
 *   connection's remote address and port: fullmesh, ndiffports), that answer encoded for a fresh
 *   connection, with where each message holds the remote address and port (found by encoding two
 *   probe remotes and comparing the bytes); undefined otherwise. The reflex is pure by contract,
 *   so asking it about remotes no connection has is harmless.
 * - No I/O. A reflex that throws, or a subflow that cannot be encoded, is reported to `onError`
 *   and left out.
 */
import { type PreparedRequest, withToken } from '../netlink/mptcp-pm-client.js';
import {
  decodePmEvent,
  type EstablishedPeek,
  ipv4Text,
  peekEstablished,
} from '../netlink/mptcp-pm-events.js';
import { createCommand } from './controllers/common.js';
import { connectionIdFromToken } from './kernel-events.js';
import type { KernelPmState } from './kernel-state.js';
import type { Controller, LocalAddress, PmCommand, ReflexSubflow } from './types.js';

/** Probe remotes for wildcard4 (TEST-NET-2, RFC 5737; every byte distinct between the two). */
const PROBE_REMOTES = [
  { address: '198.51.100.17', port: 0x1234 },
  { address: '198.51.100.34', port: 0x5678 },
] as const;

/** Where a wildcard template's message takes the remote (see ./native-reflex.ts RemotePatch). */
export interface WildcardTemplates {
  templates: readonly FreshTemplate[];
  patches: readonly { daddrOffset: number; portOffset: number; portBigEndian: boolean }[];
}

/** Bound on each cache (distinct endpoint pairs; distinct encoded subflows). */
export const MAX_CACHED_ENTRIES = 256;

export type CreateSubflowCommand = Extract<PmCommand, { type: 'create-subflow' }>;

/** A create-subflow command encoded ahead of sending. */
export interface PreparedCreate {
  cmd: CreateSubflowCommand;
  request: PreparedRequest;
  /** The local address used (the command's, or the connection's initial one). */
  local: string;
}

/** What the cache needs of MptcpPmClient: its SUBFLOW_CREATE encoder. */
export interface SubflowCreateEncoder {
  prepareSubflowCreate(
    token: number,
    local: { addr: string; id: number },
    remote: { addr: string; port: number },
  ): PreparedRequest;
}

/** A cached reflex answer for one (local address, remote address, remote port). */
interface Answer {
  /** The connection's local address (text). */
  initialLocal: string;
  subflows: readonly ReflexSubflow[];
  /** The subflows encoded for a fresh connection (templatesOf). */
  templates?: FreshTemplate[];
}

/**
 * A reflex subflow encoded for a new connection, with the local address id a fresh connection
 * gives it (the initial address 0, the others 1, 2… in order): a template, stamped with each
 * connection's token (stampToken) and sent as it is.
 */
export interface FreshTemplate {
  sf: ReflexSubflow;
  /** The local address used, and the connection's initial one. */
  local: string;
  initialLocal: string;
  id: number;
  request: PreparedRequest;
}

export class ReflexCache {
  /** IPv4 answers: remote address (u32) → local address × 65536 + remote port → answer. */
  private readonly answers4 = new Map<number, Map<number, Answer>>();
  private answers4Count = 0;
  /** Other answers, by `local|remote|port` text. */
  private readonly answers = new Map<string, Answer>();

  constructor(
    private readonly controller: Controller,
    private readonly encoder: SubflowCreateEncoder,
    private readonly state: KernelPmState,
    private readonly onError: (message: string) => void,
  ) {}

  /** Forgets the reflex's answers (they depend on the local addresses). */
  clear(): void {
    this.answers4.clear();
    this.answers4Count = 0;
    this.answers.clear();
  }

  /** The requests for an `established` event's genl payload (see the module contract). */
  requestsFor(payload: Uint8Array, locals: readonly LocalAddress[]): PreparedCreate[] {
    if (!this.controller.establishedReflex) return [];
    const peek = peekEstablished(payload);
    let token: number;
    let answer: Answer;
    if (peek) {
      if (peek.serverSide) return [];
      token = peek.token;
      answer = this.answer4(peek.saddr4, peek.daddr4, peek.dport, locals);
    } else {
      const ev = decodePmEvent(payload);
      if (ev?.type !== 'established' || ev.serverSide) return [];
      token = ev.token;
      const key = `${ev.saddr}|${ev.daddr}|${ev.dport}`;
      let a = this.answers.get(key);
      if (!a) {
        a = this.ask(ev.saddr, ev.daddr, ev.dport, locals);
        if (this.answers.size >= MAX_CACHED_ENTRIES) this.answers.clear();
        this.answers.set(key, a);
      }
      answer = a;
    }
    return answer.subflows.length === 0 ? [] : this.prepare(token, answer);
  }

  /**
   * The templates for an IPv4 `established` event read with peekEstablished: from the cached
   * answer (asked and encoded on a miss), so that the reaction needs only the token stamped. []
   * when the reflex opens nothing.
   */
  templates4(peek: Readonly<EstablishedPeek>, locals: readonly LocalAddress[]): readonly FreshTemplate[] {
    if (!this.controller.establishedReflex) return [];
    return this.templatesOf(this.answer4(peek.saddr4, peek.daddr4, peek.dport, locals));
  }

  /** The remote-independent answer for connections from `local` (see the module contract). */
  wildcard4(local: string, locals: readonly LocalAddress[]): WildcardTemplates | undefined {
    if (!this.controller.establishedReflex) return undefined;
    const [a, b] = PROBE_REMOTES.map((r) => this.ask(local, r.address, r.port, locals));
    if (a!.subflows.length === 0 || a!.subflows.length !== b!.subflows.length) return undefined;
    for (const [answer, probe] of [
      [a!, PROBE_REMOTES[0]],
      [b!, PROBE_REMOTES[1]],
    ] as const) {
      if (answer.subflows.some((sf) => sf.remoteAddress !== probe.address || sf.remotePort !== probe.port))
        return undefined;
    }
    const same = a!.subflows.every((sf, i) => {
      const o = b!.subflows[i]!;
      return (
        (sf.localAddress ?? local) === (o.localAddress ?? local) && Boolean(sf.backup) === Boolean(o.backup)
      );
    });
    if (!same) return undefined;
    const ta = this.templatesOf(a!);
    const tb = this.templatesOf(b!);
    if (ta.length !== a!.subflows.length || tb.length !== ta.length) return undefined;
    const patches: WildcardTemplates['patches'][number][] = [];
    for (let i = 0; i < ta.length; i++) {
      const p = remotePatch(ta[i]!.request.message, tb[i]!.request.message);
      if (!p) {
        this.onError(`reflex: cannot find the remote in the SUBFLOW_CREATE for ${local}`);
        return undefined;
      }
      patches.push(p);
    }
    return { templates: ta, patches };
  }

  /** An answer's subflows encoded for a fresh connection, once (a subflow that cannot be encoded is reported and left out). */
  private templatesOf(answer: Answer): readonly FreshTemplate[] {
    if (answer.templates) return answer.templates;
    const ids = new Map<string, number>([[answer.initialLocal, 0]]);
    const templates: FreshTemplate[] = [];
    for (const sf of answer.subflows) {
      const local = sf.localAddress ?? answer.initialLocal;
      let id = ids.get(local);
      if (id === undefined) {
        id = ids.size;
        ids.set(local, id);
      }
      const request = this.encode(0, local, id, sf);
      if (request) templates.push({ sf, local, initialLocal: answer.initialLocal, id, request });
    }
    answer.templates = templates;
    return templates;
  }

  private answer4(saddr: number, daddr: number, dport: number, locals: readonly LocalAddress[]): Answer {
    let inner = this.answers4.get(daddr);
    const key = saddr * 65536 + dport;
    const hit = inner?.get(key);
    if (hit) return hit;
    const a = this.ask(ipv4Text(saddr), ipv4Text(daddr), dport, locals);
    if (this.answers4Count >= MAX_CACHED_ENTRIES) this.clear();
    inner = this.answers4.get(daddr);
    if (!inner) {
      inner = new Map();
      this.answers4.set(daddr, inner);
    }
    inner.set(key, a);
    this.answers4Count++;
    return a;
  }

  private ask(local: string, remote: string, port: number, locals: readonly LocalAddress[]): Answer {
    let subflows: readonly ReflexSubflow[];
    try {
      subflows = this.controller.establishedReflex!(
        { localAddress: local, remote: { address: remote, port } },
        locals,
      );
    } catch (err) {
      this.onError(`controller ${this.controller.name} reflex threw: ${(err as Error)?.message}`);
      subflows = [];
    }
    return { initialLocal: local, subflows };
  }

  /**
   * The answer's requests for connection `token`, ids reserved in the driver's state: the fresh
   * templates restamped, or (a connection that already has other ids) encoded with its own ids.
   */
  private prepare(token: number, answer: Answer): PreparedCreate[] {
    const connection = connectionIdFromToken(token);
    const out: PreparedCreate[] = [];
    for (const t of this.templatesOf(answer)) {
      const id = this.state.reserveLocalId(connection, t.initialLocal, t.local);
      if (id === undefined) {
        this.onError(`reflex: no local address id left for ${t.local} on ${connection}`);
        continue;
      }
      const request = id === t.id ? withToken(t.request, token) : this.encode(token, t.local, id, t.sf);
      if (request) out.push({ cmd: createCommand(connection, t.sf), request, local: t.local });
    }
    return out;
  }

  private encode(token: number, local: string, id: number, sf: ReflexSubflow): PreparedRequest | undefined {
    try {
      return this.encoder.prepareSubflowCreate(
        token,
        { addr: local, id },
        { addr: sf.remoteAddress, port: sf.remotePort },
      );
    } catch (err) {
      this.onError(`controller ${this.controller.name} reflex: ${(err as Error)?.message}`);
      return undefined;
    }
  }
}

/**
 * Where two SUBFLOW_CREATE messages encoded for PROBE_REMOTES hold the remote: the address as 4
 * network-order bytes, the port as 2 bytes in either order; undefined unless they differ there
 * and nowhere else.
 */
function remotePatch(
  a: Uint8Array,
  b: Uint8Array,
): { daddrOffset: number; portOffset: number; portBigEndian: boolean } | undefined {
  if (a.length !== b.length) return undefined;
  const addr = (text: string) => text.split('.').map(Number);
  const find = (m: Uint8Array, bytes: readonly number[]): number => {
    for (let i = 0; i + bytes.length <= m.length; i++) if (bytes.every((v, k) => m[i + k] === v)) return i;
    return -1;
  };
  const [p, q] = PROBE_REMOTES;
  const daddrOffset = find(a, addr(p.address));
  if (daddrOffset < 0 || find(b, addr(q.address)) !== daddrOffset) return undefined;
  const le = (port: number) => [port & 0xff, port >> 8];
  const be = (port: number) => [port >> 8, port & 0xff];
  let portBigEndian = false;
  let portOffset = find(a, le(p.port));
  if (portOffset < 0 || find(b, le(q.port)) !== portOffset) {
    portBigEndian = true;
    portOffset = find(a, be(p.port));
    if (portOffset < 0 || find(b, be(q.port)) !== portOffset) return undefined;
  }
  for (let i = 0; i < a.length; i++) {
    const inAddr = i >= daddrOffset && i < daddrOffset + 4;
    const inPort = i >= portOffset && i < portOffset + 2;
    if (!inAddr && !inPort && a[i] !== b[i]) return undefined;
  }
  return { daddrOffset, portOffset, portBigEndian };
}
