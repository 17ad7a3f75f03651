/**
 * Client for the kernel's MPTCP path manager over generic netlink (`mptcp_pm`, version 1):
 * endpoints and limits of the in-kernel PM, userspace-PM commands for one connection (token), and a
 * subscription to `mptcp_pm_events`.
 *
 * Contract:
 * - `MptcpPmClient.open()` creates both of its netlink sockets synchronously before its first
 *   await, so they belong to the network namespace the calling thread is in when it is called
 *   (call it inside `withNetns`). It then resolves the family id and groups through nlctrl.
 * - Every method is one request; kernel refusals reject with `NetlinkError` (errno name + extack
 *   text: EPERM without CAP_NET_ADMIN, ENOENT for a missing id, EINVAL for bad arguments…).
 *   Bad addresses reject with `PmAddressError` before anything is sent.
 * - `subscribeEvents()` may be called any number of times; each subscription gets every event from
 *   then on until its `close()`. `close()` on the client ends subscriptions and sockets.
 * - `onEstablished` hooks see each `established` event before the subscriptions. With
 *   `eventLoop: false` the caller reads events with the blocking `waitEvents(ms)` instead of the
 *   event loop, and the hooks see the `established` events of a read before anything else of it is
 *   decoded. `prepareSubflowCreate` encodes a SUBFLOW_CREATE message ahead of time, `stampToken`
 *   and `withToken` restamp it for another connection, `sendPrepared` sends it as it is (the
 *   shortest path from event to command).
 */
import { type AttrInput, findAttr, u8Attr, u32Attr } from './attributes.js';
import { BPF_ACCEPT, BPF_RET_K, dropGenlCommands } from './bpf.js';
import {
  emitGenlPayload,
  emitGetFamilyPayload,
  GENL_HDRLEN,
  GENL_ID_CTRL,
  type GenlFamily,
  parseFamilyReply,
  parseGenl,
} from './genl.js';
import {
  emitMessage,
  type NetlinkMessage,
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_HDRLEN,
  parseMessages,
} from './message.js';
import {
  decodeLimits,
  decodePmAddress,
  type EndpointFlagName,
  encodeLimits,
  encodePmAddress,
  endpointFlags,
  MPTCP_PM_ATTR,
  MPTCP_PM_CMD,
  MPTCP_PM_EV_GRP_NAME,
  MPTCP_PM_NAME,
  MPTCP_PM_VER,
  PM_ADDRESS_MAX_BYTES,
  type PmAddress,
  type PmAddressInput,
  type PmLimits,
  writePmAddress,
} from './mptcp-pm.js';
import { decodePmEvent, emitPmEvent, MPTCP_EVENT, peekEstablished, warmUpEvents } from './mptcp-pm-events.js';
import { PmEventSubscription } from './mptcp-pm-subscription.js';
import { NETLINK_GENERIC, NetlinkError, NetlinkSocket } from './socket.js';

const CMD_NAMES = Object.fromEntries(Object.entries(MPTCP_PM_CMD).map(([k, v]) => [v, `MPTCP_PM_CMD_${k}`]));
const ENOENT = 2;
const SUBFLOW_CREATE_OPERATION = 'MPTCP_PM_CMD_SUBFLOW_CREATE';

/** An endpoint of the in-kernel path manager, as `ip mptcp endpoint show` lists it. */
export interface MptcpEndpoint extends PmAddress {
  id: number;
  flags: number;
}

export interface AddEndpointOptions {
  addr: string;
  id?: number;
  port?: number;
  flags?: number | readonly EndpointFlagName[];
  /** Interface index (`dev`). */
  ifindex?: number;
}

/** A local or remote address of a userspace-PM command. */
export interface PmEndpointRef {
  addr: string;
  id?: number;
  port?: number;
  ifindex?: number;
}

/** Target of SET_FLAGS: an endpoint (by id or address), or one subflow of a connection. */
export interface SetFlagsTarget {
  id?: number;
  addr?: string;
  port?: number;
  /** With `remote`: change one subflow of this connection (userspace PM). */
  token?: number;
  remote?: { addr: string; port?: number };
}

/** Resolves a generic netlink family by name (CTRL_CMD_GETFAMILY). */
export async function resolveGenlFamily(sock: NetlinkSocket, name: string): Promise<GenlFamily> {
  let replies: NetlinkMessage[];
  try {
    replies = await sock.request(GENL_ID_CTRL, emitGetFamilyPayload(name), {
      operation: `CTRL_CMD_GETFAMILY(${name})`,
    });
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === ENOENT) {
      throw new NetlinkError(
        err.operation,
        err.errno,
        `generic netlink family '${name}' not found: is the kernel built with MPTCP?`,
      );
    }
    throw err;
  }
  const family = replies.length > 0 ? parseFamilyReply(replies[0]!.payload) : undefined;
  if (!family) throw new NetlinkError(`CTRL_CMD_GETFAMILY(${name})`, 74, 'malformed reply');
  return family;
}

/**
 * Where SUBFLOW_CREATE's token lives in its message: encodeSubflowCreate writes
 * MPTCP_PM_ATTR_TOKEN first, right after the nlmsghdr and genl header (u32, host order:
 * little-endian here).
 */
export const SUBFLOW_CREATE_TOKEN_OFFSET = NLMSG_HDRLEN + GENL_HDRLEN + 4;

/** Writes `token` into a prepared SUBFLOW_CREATE, in place (a template, stamped per connection). */
export function stampToken(request: PreparedRequest, token: number): void {
  const m = request.message;
  const t = token >>> 0;
  m[SUBFLOW_CREATE_TOKEN_OFFSET] = t & 0xff;
  m[SUBFLOW_CREATE_TOKEN_OFFSET + 1] = (t >>> 8) & 0xff;
  m[SUBFLOW_CREATE_TOKEN_OFFSET + 2] = (t >>> 16) & 0xff;
  m[SUBFLOW_CREATE_TOKEN_OFFSET + 3] = t >>> 24;
}

/** A copy of a prepared SUBFLOW_CREATE for connection `token` (the same subflow otherwise). */
export function withToken(request: PreparedRequest, token: number): PreparedRequest {
  const copy = { message: request.message.slice(), operation: request.operation };
  stampToken(copy, token);
  return copy;
}

/**
 * A request encoded ahead of time (`prepareSubflowCreate`): the whole netlink message, its
 * sequence number written when it is sent.
 */
export interface PreparedRequest {
  readonly message: Uint8Array;
  readonly operation: string;
}

/**
 * Sees an `established` event's genl payload before the subscriptions get the event (read it in
 * place with peekEstablished, or decode it; the bytes are valid during the call only).
 */
export type EstablishedHook = (payload: Uint8Array) => void;

/** A cell nobody notifies: Atomics.wait on it is a plain sleep (waitEvents' deferMs). */
const DEFER_CELL = new Int32Array(new SharedArrayBuffer(4));

/** Bound on the messages one waitEvents() call collects (the rest are dropped, as on ENOBUFS). */
export const MAX_BATCH_MESSAGES = 4096;

export interface SubscribeOptions {
  /**
   * Called with each `established` event before it is delivered, and (waitEvents) before the
   * other events read with it are decoded: the reaction path of a path manager (see
   * ../pm/kernel-driver.ts). Must not throw (a throw becomes the subscription's 'error').
   */
  onEstablished?: EstablishedHook;
  /**
   * False: the event loop does not read the events socket for this subscription; the caller
   * delivers events with `waitEvents()` from a thread it blocks in poll() (default true).
   */
  eventLoop?: boolean;
}

export class MptcpPmClient {
  private readonly subscriptions = new Set<PmEventSubscription>();
  private readonly establishedHooks = new Map<PmEventSubscription, EstablishedHook>();
  /** Inside waitEvents: messages are collected into `batch`, then delivered (deliverBatch). */
  private reading = false;
  private batch: NetlinkMessage[] = [];
  /** The only established hook, when there is one (onRawDatagram calls it directly). */
  private soleHook: EstablishedHook | undefined;
  /** Subscriptions whose owner reads with waitEvents (SubscribeOptions.eventLoop false). */
  private readonly ownerReaders = new Set<PmEventSubscription>();
  private joined = false;
  /** Reused encode buffer of subflowCreate: genl header, token, two addresses. */
  private readonly scratch = new Uint8Array(GENL_HDRLEN + 8 + 2 * PM_ADDRESS_MAX_BYTES);

  private constructor(
    private readonly cmd: NetlinkSocket,
    private readonly events: NetlinkSocket,
    readonly family: GenlFamily,
  ) {}

  /** Opens the client in the calling thread's current network namespace. */
  static async open(): Promise<MptcpPmClient> {
    const cmd = NetlinkSocket.open(NETLINK_GENERIC);
    let events: NetlinkSocket;
    try {
      events = NetlinkSocket.open(NETLINK_GENERIC);
    } catch (err) {
      await cmd.close();
      throw err;
    }
    try {
      const family = await resolveGenlFamily(cmd, MPTCP_PM_NAME);
      return new MptcpPmClient(cmd, events, family);
    } catch (err) {
      await cmd.close();
      await events.close();
      throw err;
    }
  }

  private async call(cmd: number, attrs: readonly AttrInput[], dump = false): Promise<NetlinkMessage[]> {
    return this.cmd.request(this.family.id, emitGenlPayload(cmd, MPTCP_PM_VER, attrs), {
      dump,
      operation: CMD_NAMES[cmd] ?? `MPTCP_PM_CMD ${cmd}`,
    });
  }

  /** MPTCP_PM_CMD_ADD_ADDR: adds an endpoint (`ip mptcp endpoint add`). */
  async addEndpoint(ep: AddEndpointOptions): Promise<void> {
    const flags = endpointFlags(ep.flags);
    await this.call(MPTCP_PM_CMD.ADD_ADDR, [
      encodePmAddress({ addr: ep.addr, id: ep.id, port: ep.port, flags, ifindex: ep.ifindex }),
    ]);
  }

  /** MPTCP_PM_CMD_DEL_ADDR by id (id 0 needs the address too). */
  async deleteEndpoint(id: number, addr?: string): Promise<void> {
    await this.call(MPTCP_PM_CMD.DEL_ADDR, [encodePmAddress({ id, addr })]);
  }

  /** MPTCP_PM_CMD_GET_ADDR for one id; rejects with ENOENT when there is none. */
  async getEndpoint(id: number): Promise<MptcpEndpoint> {
    const replies = await this.call(MPTCP_PM_CMD.GET_ADDR, [encodePmAddress({ id })]);
    const ep = replies.length > 0 ? endpointFrom(replies[0]!) : undefined;
    if (!ep) throw new NetlinkError('MPTCP_PM_CMD_GET_ADDR', 74, 'malformed reply');
    return ep;
  }

  /** MPTCP_PM_CMD_GET_ADDR dump: every endpoint of the namespace. */
  async dumpEndpoints(): Promise<MptcpEndpoint[]> {
    const replies = await this.call(MPTCP_PM_CMD.GET_ADDR, [], true);
    const out: MptcpEndpoint[] = [];
    for (const m of replies) {
      const ep = endpointFrom(m);
      if (ep) out.push(ep);
    }
    return out;
  }

  /** MPTCP_PM_CMD_FLUSH_ADDRS: removes every endpoint. */
  async flushEndpoints(): Promise<void> {
    await this.call(MPTCP_PM_CMD.FLUSH_ADDRS, []);
  }

  /** MPTCP_PM_CMD_SET_LIMITS (only the given limits change). */
  async setLimits(limits: Partial<PmLimits>): Promise<void> {
    await this.call(MPTCP_PM_CMD.SET_LIMITS, encodeLimits(limits));
  }

  /** MPTCP_PM_CMD_GET_LIMITS. */
  async getLimits(): Promise<PmLimits> {
    const replies = await this.call(MPTCP_PM_CMD.GET_LIMITS, []);
    const msg = replies.length > 0 ? parseGenl(replies[0]!.payload) : undefined;
    if (!msg) throw new NetlinkError('MPTCP_PM_CMD_GET_LIMITS', 74, 'malformed reply');
    return decodeLimits(msg.attrs);
  }

  /**
   * MPTCP_PM_CMD_SET_FLAGS: sets an endpoint's flags (backup / fullmesh), or with `token` and
   * `remote` the backup flag of one subflow of a userspace-PM connection.
   */
  async setFlags(target: SetFlagsTarget, flags: number | readonly EndpointFlagName[]): Promise<void> {
    const attrs: AttrInput[] = [];
    if (target.token !== undefined) attrs.push(u32Attr(MPTCP_PM_ATTR.TOKEN, target.token));
    attrs.push(
      encodePmAddress(
        { addr: target.addr, id: target.id, port: target.port, flags: endpointFlags(flags) },
        MPTCP_PM_ATTR.ADDR,
      ),
    );
    if (target.remote) attrs.push(encodePmAddress(target.remote, MPTCP_PM_ATTR.ADDR_REMOTE));
    await this.call(MPTCP_PM_CMD.SET_FLAGS, attrs);
  }

  /** Userspace PM: MPTCP_PM_CMD_ANNOUNCE (send ADD_ADDR for a local address with `id`). */
  async announce(token: number, local: PmEndpointRef & { id: number; flags?: number }): Promise<void> {
    await this.call(MPTCP_PM_CMD.ANNOUNCE, [
      u32Attr(MPTCP_PM_ATTR.TOKEN, token),
      encodePmAddress({ ...local, flags: local.flags ?? 1 /* signal */ }),
    ]);
  }

  /** Userspace PM: MPTCP_PM_CMD_REMOVE (send REMOVE_ADDR for local id `localId`). */
  async remove(token: number, localId: number): Promise<void> {
    await this.call(MPTCP_PM_CMD.REMOVE, [
      u32Attr(MPTCP_PM_ATTR.TOKEN, token),
      u8Attr(MPTCP_PM_ATTR.LOC_ID, localId),
    ]);
  }

  /** Userspace PM: MPTCP_PM_CMD_SUBFLOW_CREATE from `local` to `remote` (which needs a port). */
  async subflowCreate(
    token: number,
    local: PmEndpointRef,
    remote: { addr: string; port: number },
  ): Promise<void> {
    // The reaction path of a userspace PM: encoded in place into a reused buffer (the socket copies
    // it synchronously and sends it before this returns its promise).
    const len = encodeSubflowCreate(this.scratch, token, local, remote);
    await this.cmd.request(this.family.id, this.scratch.subarray(0, len), {
      operation: SUBFLOW_CREATE_OPERATION,
    });
  }

  /**
   * SUBFLOW_CREATE's request encoded now, to be sent later with `sendPrepared` (the encoding, with
   * its address parsing, is then off the path from an event to the command). Throws
   * PmAddressError for a bad address.
   */
  prepareSubflowCreate(
    token: number,
    local: PmEndpointRef,
    remote: { addr: string; port: number },
  ): PreparedRequest {
    return prepareSubflowCreate(this.family.id, token, local, remote, this.scratch);
  }

  /**
   * Sends a prepared request as it is (sent before this returns its promise; nothing is encoded or
   * copied first); resolves on the kernel's ACK. A template may be restamped once this returns.
   */
  async sendPrepared(request: PreparedRequest): Promise<void> {
    await this.cmd.sendMessage(request.message, request.operation);
  }

  /** Userspace PM: MPTCP_PM_CMD_SUBFLOW_DESTROY for the subflow local addr:port → remote addr:port. */
  async subflowDestroy(
    token: number,
    local: { addr: string; port: number },
    remote: { addr: string; port: number },
  ): Promise<void> {
    await this.call(MPTCP_PM_CMD.SUBFLOW_DESTROY, [
      u32Attr(MPTCP_PM_ATTR.TOKEN, token),
      encodePmAddress(local),
      encodePmAddress(remote, MPTCP_PM_ATTR.ADDR_REMOTE),
    ]);
  }

  /** Subscribes to `mptcp_pm_events` (joins the group on first use). */
  subscribeEvents(options: SubscribeOptions = {}): PmEventSubscription {
    if (this.events.isClosed) throw new NetlinkError('subscribeEvents', 9, 'client is closed');
    if (!this.joined) {
      const group = this.family.groups.get(MPTCP_PM_EV_GRP_NAME);
      if (group === undefined)
        throw new NetlinkError('subscribeEvents', ENOENT, `no multicast group ${MPTCP_PM_EV_GRP_NAME}`);
      this.events.joinGroup(group);
      this.joined = true;
      warmUpEventPath(this.scratch);
    }
    const sub = new PmEventSubscription(() => {
      this.subscriptions.delete(sub);
      this.establishedHooks.delete(sub);
      this.ownerReaders.delete(sub);
      this.listen();
    });
    this.subscriptions.add(sub);
    if (options.onEstablished) this.establishedHooks.set(sub, options.onEstablished);
    if (options.eventLoop === false) this.ownerReaders.add(sub);
    this.listen();
    return sub;
  }

  /**
   * For subscriptions with `eventLoop: false`: blocks the calling thread in poll() until events
   * are queued or `timeoutMs` passed, then delivers every queued event synchronously. True when
   * something was read. With `holdCreatedMs`, a read that ends with a `created` event (a new
   * connection) waits up to that long for more (its `established`) before anything is decoded.
   * With `deferMs`, the thread sleeps that long once woken before reading: events that arrive
   * meanwhile are read in the same batch, and the work they cause waits (for a caller whose
   * time-critical reaction happens elsewhere: KernelPmDriver with the native reflex thread).
   */
  waitEvents(timeoutMs: number, holdCreatedMs = 0, deferMs = 0): boolean {
    if (!this.events.waitReadable(timeoutMs)) return false;
    if (deferMs > 0) Atomics.wait(DEFER_CELL, 0, 0, deferMs);
    // Hooks see each datagram's `established` events as it is read (onRawDatagram), before the
    // datagram is copied or parsed and before the next one is read.
    this.readBatch();
    // A `created` without its `established`: keep it, undecoded, and wait a little for the
    // established one, so that the hooks answer it before anything of the connection is handled.
    if (holdCreatedMs > 0 && this.awaitsEstablished() && this.events.waitReadable(holdCreatedMs))
      this.readBatch();
    this.deliverBatch();
    return true;
  }

  private readBatch(): void {
    this.reading = true;
    try {
      this.events.readNow();
    } finally {
      this.reading = false;
    }
  }

  /**
   * Each datagram waitEvents reads, in the socket's receive buffer: the hooks get its `established`
   * events' payloads (views, valid during the call) before anything else happens to it.
   */
  private readonly onRawDatagram = (buf: Uint8Array, length: number): void => {
    if (!this.reading || this.establishedHooks.size === 0) return;
    let pos = 0;
    while (pos + NLMSG_HDRLEN + GENL_HDRLEN <= length) {
      const len = (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
      if (len < NLMSG_HDRLEN || pos + len > length) return;
      const type = buf[pos + 4]! | (buf[pos + 5]! << 8);
      if (type === this.family.id && buf[pos + NLMSG_HDRLEN] === MPTCP_EVENT.ESTABLISHED) {
        const payload = buf.subarray(pos + NLMSG_HDRLEN, pos + len);
        // The usual case, one hook: called directly (this is the reaction path).
        if (this.soleHook) this.soleHook(payload);
        else this.runHooks(payload);
      }
      pos += (len + 3) & ~3;
    }
  };

  /** The batch has a `created` event after its last `established` one. */
  private awaitsEstablished(): boolean {
    for (let i = this.batch.length - 1; i >= 0; i--) {
      const cmd = this.batch[i]!.payload[0];
      if (cmd === MPTCP_EVENT.ESTABLISHED) return false;
      if (cmd === MPTCP_EVENT.CREATED) return true;
    }
    return false;
  }

  /**
   * Makes the kernel drop the given event commands (MPTCP_EVENT values) before they reach this
   * client's events socket (a socket filter: dropped events wake nobody), for every subscription.
   * An empty list removes the filter's effect.
   */
  dropEvents(commands: readonly number[]): void {
    this.events.attachFilter(
      commands.length === 0
        ? [{ code: BPF_RET_K, jt: 0, jf: 0, k: BPF_ACCEPT }]
        : dropGenlCommands(this.family.id, commands),
    );
  }

  /** (Re)installs the events socket's listener for the current subscriptions. */
  private listen(): void {
    if (this.subscriptions.size === 0) {
      this.events.setListener(undefined);
      return;
    }
    // The event loop reads unless every subscription reads through waitEvents.
    const eventLoop = this.ownerReaders.size < this.subscriptions.size;
    this.events.setRawPeek(this.establishedHooks.size > 0 ? this.onRawDatagram : undefined);
    this.soleHook = undefined;
    if (this.establishedHooks.size === 1) {
      const [[sub, hook]] = this.establishedHooks;
      this.soleHook = (payload) => {
        try {
          hook(payload);
        } catch (err) {
          sub.fail(err as Error);
        }
      };
    }
    this.events.setListener(
      {
        message: this.onMessage,
        error: (err) => {
          for (const s of this.subscriptions) s.fail(err);
        },
      },
      { eventLoop },
    );
  }

  private readonly onMessage = (msg: NetlinkMessage): void => {
    if (msg.type !== this.family.id) return;
    if (this.reading) {
      if (this.batch.length < MAX_BATCH_MESSAGES) this.batch.push(msg);
      return;
    }
    if (msg.payload[0] === MPTCP_EVENT.ESTABLISHED) this.runHooks(msg.payload);
    const ev = decodePmEvent(msg.payload);
    if (ev) for (const s of this.subscriptions) s.push(ev);
  };

  /**
   * The messages one waitEvents() read (their `established` events already shown to the hooks,
   * onRawDatagram), decoded and delivered in order.
   */
  private deliverBatch(): void {
    const batch = this.batch;
    this.batch = [];
    for (const msg of batch) {
      const ev = decodePmEvent(msg.payload);
      if (ev) for (const s of this.subscriptions) s.push(ev);
    }
  }

  private runHooks(payload: Uint8Array): void {
    for (const [sub, hook] of this.establishedHooks) {
      try {
        hook(payload);
      } catch (err) {
        sub.fail(err as Error);
      }
    }
  }

  /** Ends subscriptions and closes both sockets. */
  async close(): Promise<void> {
    for (const s of [...this.subscriptions]) s.close();
    await Promise.all([this.cmd.close(), this.events.close()]);
  }
}

/**
 * MPTCP_PM_CMD_SUBFLOW_CREATE's genl payload written into `out` (same bytes as emitGenlPayload with
 * u32Attr(TOKEN) + encodePmAddress(local) + encodePmAddress(remote, ADDR_REMOTE)); returns its
 * length. Throws PmAddressError for a bad address.
 */
/**
 * MPTCP_PM_CMD_SUBFLOW_CREATE for family `familyId` as a whole message, to send later (what
 * MptcpPmClient.prepareSubflowCreate returns). Throws PmAddressError for a bad address.
 */
export function prepareSubflowCreate(
  familyId: number,
  token: number,
  local: PmEndpointRef,
  remote: { addr: string; port: number },
  scratch: Uint8Array = new Uint8Array(GENL_HDRLEN + 8 + 2 * PM_ADDRESS_MAX_BYTES),
): PreparedRequest {
  const len = encodeSubflowCreate(scratch, token, local, remote);
  const message = emitMessage(
    { type: familyId, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 0, pid: 0 },
    scratch.subarray(0, len),
  );
  return { message, operation: SUBFLOW_CREATE_OPERATION };
}

function encodeSubflowCreate(
  out: Uint8Array,
  token: number,
  local: PmEndpointRef,
  remote: { addr: string; port: number },
): number {
  out[0] = MPTCP_PM_CMD.SUBFLOW_CREATE;
  out[1] = MPTCP_PM_VER;
  out[2] = 0;
  out[3] = 0;
  let pos = GENL_HDRLEN;
  out[pos] = 8;
  out[pos + 1] = 0;
  out[pos + 2] = MPTCP_PM_ATTR.TOKEN;
  out[pos + 3] = 0;
  const t = token >>> 0;
  out[pos + 4] = t & 0xff;
  out[pos + 5] = (t >>> 8) & 0xff;
  out[pos + 6] = (t >>> 16) & 0xff;
  out[pos + 7] = t >>> 24;
  pos += 8;
  const l: PmAddressInput = {};
  if (local.addr !== undefined) l.addr = local.addr;
  if (local.id !== undefined) l.id = local.id;
  if (local.ifindex !== undefined) l.ifindex = local.ifindex;
  if (local.port !== undefined) l.port = local.port;
  pos = writePmAddress(out, pos, l);
  return writePmAddress(out, pos, remote, MPTCP_PM_ATTR.ADDR_REMOTE);
}

/**
 * Iterations of warmUpEventPath: enough for V8 (Node 20) to compile decodePmEvent with TurboFan
 * (measured: not after 3000 calls, Sparkplug only; after 10000, ~35 ms on a 2-vCPU VM).
 */
const WARM_UP_ITERATIONS = 10_000;
/** The warm-up runs once per process: optimized code is shared by every client. */
let warmedUp = false;

/**
 * Runs the reaction path's pure parts (datagram splitting, decoding of every kind of event,
 * SUBFLOW_CREATE encoding) on synthetic data shaped like the real ones (warmUpEvents), once per
 * process, at the first subscription: a PM sees an event every few milliseconds at most, so
 * without this they run in V8's interpreter for a long time (measured on a 2-vCPU VM:
 * decodePmEvent ~20-40 µs interpreted, ~1.5 µs optimized; the encoding ~10-20 µs against
 * ~0.5 µs), and that time is on the path from a kernel event to the PM's command. No I/O.
 */
function warmUpEventPath(scratch: Uint8Array): void {
  if (warmedUp) return;
  warmedUp = true;
  const datagrams = warmUpEvents().map((e) =>
    emitMessage({ type: 0x20, flags: 0, seq: 0, pid: 0 }, emitPmEvent(e)),
  );
  // Both shapes of `local` the callers use (the address id alone, or with the interface).
  const locals: PmEndpointRef[] = [
    { addr: '192.0.2.3', id: 2 },
    { addr: '192.0.2.3', id: 2, ifindex: 1 },
  ];
  for (let i = 0; i < WARM_UP_ITERATIONS; i++) {
    for (const m of parseMessages(datagrams[i % datagrams.length]!).messages) {
      peekEstablished(m.payload);
      decodePmEvent(m.payload);
    }
    // Tokens are u32: above 2^31 heap numbers, below small integers; both, so that the optimized
    // code is not thrown away at the first real token of the other kind.
    encodeSubflowCreate(scratch, i & 2 ? 0x8000_0000 + i : i, locals[i & 1]!, {
      addr: '192.0.2.2',
      port: 80 + (i & 0xff),
    });
  }
}

function endpointFrom(msg: NetlinkMessage): MptcpEndpoint | undefined {
  const g = parseGenl(msg.payload);
  const a = g ? decodePmAddress(findAttr(g.attrs, MPTCP_PM_ATTR.ADDR)) : undefined;
  if (!a) return undefined;
  return { ...a, id: a.id ?? 0, flags: a.flags ?? 0 };
}

export { MAX_QUEUED_EVENTS, PmEventSubscription } from './mptcp-pm-subscription.js';
