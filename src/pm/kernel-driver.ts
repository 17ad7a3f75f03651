/**
 * Kernel driver: runs a Controller against the Linux kernel's userspace path manager
 * (`net.mptcp.path_manager=userspace`, or `pm_type=1`) over generic netlink.
 *
 * Contract:
 * - `KernelPmDriver.start(controller, {netns})` opens, inside the namespace, an `mptcp_pm` client
 *   (commands + event subscription) and a sock_diag socket; everything it does later uses those
 *   sockets, so it acts on that namespace only.
 * - Kernel events are mapped to PmEvents (./kernel-events.ts) and handled one at a time, in order.
 *   The reaction path is synchronous: when nothing is queued, an event is handed to the controller
 *   in the same call stack that read it from the netlink socket, and its first command is sent
 *   before anything else happens (logging included); only when a task must wait (a sock_diag
 *   dump, a command's reply) do later events queue behind it. Log entries are delivered in order,
 *   in a microtask after the synchronous work that produced them (so formatting and writing them
 *   is never between an event and its command).
 * - The view's metrics come from sock_diag (./kernel-state.ts), refreshed every `pollIntervalMs`
 *   (only while connections are known; TIME_WAIT and listening sockets are not dumped) and right
 *   before ticks and block-sent events; at each refresh a subflow whose tcp_info backoff grew
 *   yields a subflow-timeout event (the kernel has no timeout event).
 * - Local addresses (os.networkInterfaces() read inside the namespace) are re-read on every
 *   rtnetlink RTM_NEWADDR / RTM_DELADDR notification, without polling (polling every
 *   `localPollIntervalMs` only when rtnetlink is unavailable), and differences become
 *   local-addr-added / local-addr-removed events (connection ANY_CONNECTION). A tick with
 *   connection ANY_CONNECTION is delivered every `tickIntervalMs`; set-timer commands become ticks.
 * - Commands run with MptcpPmClient: create-subflow → SUBFLOW_CREATE (local ids allocated per
 *   connection; backup applied with SET_FLAGS once the subflow is up), remove-subflow →
 *   SUBFLOW_DESTROY, announce → ANNOUNCE, withdraw → REMOVE, set-backup → SET_FLAGS.
 * - A refused command is logged and handed back to the controller as a command-failed event; a
 *   controller that throws is logged. Nothing here crashes the process; `stop()` releases every
 *   socket and timer.
 * - Connections that exist when the driver starts are adopted from a sock_diag dump and presented
 *   with a connection-established event (`adoptExisting`, default true).
 * - Reflexes (Controller.establishedReflex): when a client-side connection's `established` event
 *   is read, the reflex's create-subflow commands (cached per endpoints, ./kernel-reflex.ts) are
 *   sent before the event is even decoded (MptcpPmClient's onEstablished). The event then goes
 *   through the state and handle() as usual; handle()'s equal commands are not sent again (a
 *   reflex command handle() does not return is logged as an error).
 * - `nativeReflex`: the native reflex thread (./native-reflex.ts) sends them instead, for IPv4
 *   connections: this driver installs the reflex's encoded requests there (per local address for
 *   every remote when ReflexCache.wildcard4 finds the answer remote-independent, else per endpoint
 *   pair after a first connection answered from JS), and on `established` claims the connection:
 *   what the thread sent is recorded as if sent here (ids, commands, backup, ENOTCONN retries),
 *   and a connection it has not seen is answered here. This thread then keeps normal scheduling
 *   and, in 'blocking-poll', reads events NATIVE_DEFER_MS after waking.
 * - SUBFLOW_CREATE answered ENOTCONN (the event overtook the socket's state change) is retried on
 *   the next event-loop turns, up to MAX_ENOTCONN_RETRIES times.
 * - 'blocking-poll' with a reflex: `created` events are dropped in the kernel (a socket filter:
 *   setting a connection up does not wake the driver) and connection-created is emitted right
 *   before connection-established; a connection that never establishes is not seen. Where the
 *   filter cannot be attached, a `created` event is held, undecoded, up to REFLEX_WAIT_MS for its
 *   `established` one instead.
 * - `eventWait: 'blocking-poll'` (for a process that does nothing else): the thread blocks in
 *   poll() on the events socket between event-loop turns, at most BLOCKING_WAIT_MAX_MS or until the
 *   next controller timer; other timers and I/O of the process run up to that much late.
 * - Start-up runs the per-event code on synthetic events once per process (JIT warm-up, no I/O,
 *   the controller excluded); with `scratchController`, a scratch instance of the controller
 *   (handle and reflex) and the command path (on requests the kernel refuses) are warmed up too.
 *   `realtimePriority` makes the calling thread SCHED_FIFO until stop() (./realtime.ts: the
 *   reaction then does not wait behind the task that emitted the event).
 */
import { armTickTimer, askController, commandFailed } from './driver-common.js';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { performance } from 'node:perf_hooks';
import { withNetns } from '../lab/netns.js';
import type { InetDiagSocket } from '../netlink/inet-diag.js';
import {
  MptcpPmClient,
  type PmEventSubscription,
  type PreparedRequest,
  SUBFLOW_CREATE_TOKEN_OFFSET,
  stampToken,
  withToken,
} from '../netlink/mptcp-pm-client.js';
import { MPTCP_PM_EV_GRP_NAME } from '../netlink/mptcp-pm.js';
import { createCommand } from './controllers/common.js';
import {
  type FreshTemplate,
  type PreparedCreate,
  ReflexCache,
  type SubflowCreateEncoder,
} from './kernel-reflex.js';
import {
  decodePmEvent,
  emitPmEvent,
  type EstablishedPeek,
  ipv4Number,
  type KernelPmEvent,
  MPTCP_EVENT,
  peekEstablished,
  warmUpEvents,
} from '../netlink/mptcp-pm-events.js';
import { SockDiag } from '../netlink/sock-diag.js';
import { NETLINK_ROUTE, NetlinkError, NetlinkSocket } from '../netlink/socket.js';
import { connectionIdFromToken, mapKernelEvent, parseSubflowKey } from './kernel-events.js';
import { KernelPmState } from './kernel-state.js';
import { type NativeClaim, NativeReflexThread } from './native-reflex.js';
import { restoreNormalScheduling, useRealtimeScheduling } from './realtime.js';
import {
  ANY_CONNECTION,
  type Controller,
  type LocalAddress,
  type PmCommand,
  type PmEvent,
  type PmView,
} from './types.js';

export const DEFAULT_TICK_INTERVAL_MS = 500;
export const DEFAULT_POLL_INTERVAL_MS = 100;
export const DEFAULT_LOCAL_POLL_INTERVAL_MS = 1000;
const TCP_ESTABLISHED = 1;
/** rtnetlink (include/uapi/linux/rtnetlink.h): address notifications and their multicast groups. */
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTNLGRP_IPV4_IFADDR = 5;
const RTNLGRP_IPV6_IFADDR = 9;
/**
 * Events after which the controller reads metrics: the view is refreshed from sock_diag first. Other
 * events carry what they change and are handled at once (reaction time matters: seed §4.5); their
 * view's metrics are at most pollIntervalMs old.
 */
const FRESH_METRICS_FOR: ReadonlySet<PmEvent['type']> = new Set(['tick', 'block-sent']);
const TCP_LISTEN = 10;
/**
 * TCP states dumped by the periodic refresh (bit n = state n, include/net/tcp_states.h): every
 * state a subflow with metrics can be in: ESTABLISHED 1, SYN_SENT 2, SYN_RECV 3, FIN_WAIT1 4,
 * FIN_WAIT2 5, CLOSE_WAIT 8, LAST_ACK 9, CLOSING 11. Not TIME_WAIT (6), CLOSE (7), LISTEN (10),
 * NEW_SYN_RECV (12): minisockets without tcp_info, and after a busy minute the bulk of a dump.
 */
const REFRESH_TCP_STATES =
  (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 8) | (1 << 9) | (1 << 11);
const NO_EVENTS: readonly PmEvent[] = [];
const RESOLVED: Promise<void> = Promise.resolve();

export type DriverLogEntry =
  | { kind: 'event'; timeMs: number; event: PmEvent }
  | { kind: 'command'; timeMs: number; command: PmCommand }
  | { kind: 'error'; timeMs: number; message: string; command?: PmCommand }
  | { kind: 'info'; timeMs: number; message: string };

export interface KernelDriverOptions {
  /** Network namespace name (under /var/run/netns); default: the current one. */
  netns?: string;
  tickIntervalMs?: number;
  pollIntervalMs?: number;
  /** Poll local addresses this often (default: only when rtnetlink notifications are unavailable). */
  localPollIntervalMs?: number;
  adoptExisting?: boolean;
  /** Receives every event, command, error and note (default: nothing). */
  log?: (entry: DriverLogEntry) => void;
  /**
   * Run the calling thread SCHED_FIFO at this priority while the driver runs (./realtime.ts):
   * the event's wake-up then preempts normal tasks. Needs CAP_SYS_NICE; restored by stop().
   */
  realtimePriority?: number;
  /**
   * With realtimePriority: when SCHED_FIFO cannot be had (no CAP_SYS_NICE, RT throttled away),
   * log an info entry and run with normal scheduling instead of failing to start.
   */
  realtimeBestEffort?: boolean;
  /**
   * Makes a fresh, scratch instance of the controller (e.g. `() => controllerByName(spec)`): at start
   * it handles synthetic events on a scratch view, so that V8 has compiled the controller's code
   * before the first real event. Its commands are dropped (a controller does no I/O).
   */
  scratchController?: () => Controller;
  /**
   * How kernel events are waited for. 'event-loop' (default): the event loop reads the netlink
   * socket, and the process goes on with anything else it does. 'blocking-poll': the calling thread
   * blocks in poll() on the events socket between event-loop turns (at most
   * BLOCKING_WAIT_MAX_MS, or until the next controller timer), so an event wakes it directly, as
   * the kernel's PM worker is woken; timers and other I/O of the process then run up to
   * BLOCKING_WAIT_MAX_MS late. For a process that does nothing else (`mptcp pm run`).
   */
  eventWait?: 'event-loop' | 'blocking-poll';
  /**
   * The native reflex thread (./native-reflex.ts; needs a controller with a reflex): a C thread
   * that sends the reflex's requests for client-side IPv4 connections without waiting for this
   * thread. 'off' (default); 'auto': used where the library is built and can start, otherwise an
   * info entry says why; 'required': start() fails without it. When it runs, realtimePriority
   * applies to it, and the calling thread keeps normal scheduling (it is then off the reaction
   * path, and its work on each event would compete with the connection's processes).
   */
  nativeReflex?: 'off' | 'auto' | 'required';
}

/** Longest a 'blocking-poll' driver blocks before letting the event loop run (timers, signals, I/O). */
export const BLOCKING_WAIT_MAX_MS = 20;
/**
 * How long a 'blocking-poll' driver with a reflex holds a new connection's `created` back, waiting
 * in poll() for its `established` (see blockingTurn). Beyond a LAN round trip; short enough that
 * nothing waits noticeably.
 */
export const REFLEX_WAIT_MS = 2;

/**
 * SUBFLOW_CREATE attempts after ENOTCONN, each on the next event-loop turn: the kernel's event can
 * overtake the socket's own state change (the msk becomes TCP_ESTABLISHED when the application
 * releases its lock), and a fast PM asks in between.
 */
export const MAX_ENOTCONN_RETRIES = 200;

/**
 * With the native reflex thread, how long a 'blocking-poll' driver sleeps once woken before it
 * reads events (MptcpPmClient.waitEvents' deferMs). Without it, the native thread's
 * SUBFLOW_CREATE sometimes waited milliseconds in the kernel for the socket lock, held by the
 * connection's application, which this thread's work kept from the CPU (pm-latency lab).
 */
export const NATIVE_DEFER_MS = 2;

/** Entries the native reflex thread may still report a send from (oldest forgotten first). */
const MAX_NATIVE_ENTRIES = 512;
/** How long a native send may stay in progress before its outcome is reported as lost. */
const NATIVE_OUTCOME_TIMEOUT_MS = 2_000;

/** Usable local addresses from os.networkInterfaces() (no loopback, no IPv6 link-local). */
export function usableLocalAddresses(ifs: ReturnType<typeof networkInterfaces>): LocalAddress[] {
  const out: LocalAddress[] = [];
  for (const [ifname, list] of Object.entries(ifs)) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80')) continue;
      out.push({ address: a.address, family: a.family === 'IPv6' ? 6 : 4, ifname });
    }
  }
  return out;
}

export class KernelPmDriver {
  readonly state = new KernelPmState();
  private locals: LocalAddress[] = [];
  /** Settles when the last queued task is done. */
  private tail: Promise<void> = RESOLVED;
  /** Tasks queued or running (0: the next one runs at once, synchronously). */
  private busy = 0;
  private stopped = false;
  /** Log entries waiting for the microtask that delivers them. */
  private logQueue: DriverLogEntry[] = [];
  private logFlushQueued = false;
  private pollQueued = false;
  private readonly intervals: NodeJS.Timeout[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  /** create-subflow commands with backup: local>remote:port → true until the subflow is up. */
  private readonly wantBackup = new Set<string>();
  private sub: PmEventSubscription | undefined;
  private rtnl: NetlinkSocket | undefined;
  private localsQueued = false;
  private readonly t0 = performance.now();
  /** The controller's reflex answers and their encoded requests (see ./kernel-reflex.ts). */
  private readonly reflexes: ReflexCache;
  /** Commands a reflex sent for a connection, until its connection-established event is handled. */
  private readonly reflexed = new Map<string, Started[]>();
  /** 'blocking-poll': the pending event-loop turn, and the due times of armed controller timers. */
  private turn: NodeJS.Immediate | undefined;
  private readonly timerDueMs = new Map<NodeJS.Timeout, number>();
  /** The calling thread was made SCHED_FIFO by start() (restored by stop()). */
  realtime = false;
  /** Tasks waiting for the next event-loop turn (ENOTCONN retries): do not block meanwhile. */
  private hurry = 0;
  /** The native reflex thread (options.nativeReflex), when it runs. */
  native: NativeReflexThread | undefined;
  /**
   * Entries installed in the native thread, by id: an exact entry's templates, or 'wildcard' (the
   * templates are then those of the connection's endpoints: ReflexCache.templates4). And the id
   * of each installed template list.
   */
  private readonly nativeEntries = new Map<number, readonly FreshTemplate[] | 'wildcard'>();
  private readonly nativeIds = new WeakMap<readonly FreshTemplate[], number>();
  private nextNativeId = 1;

  private constructor(
    readonly controller: Controller,
    private readonly client: MptcpPmClient,
    private readonly diag: SockDiag,
    private readonly options: KernelDriverOptions,
  ) {
    this.reflexes = new ReflexCache(controller, client, this.state, this.logError);
  }

  static async start(controller: Controller, options: KernelDriverOptions = {}): Promise<KernelPmDriver> {
    const inNs = <T>(fn: () => T): T => (options.netns ? withNetns(options.netns, fn) : fn());
    const diag = inNs(() => SockDiag.open());
    let client: MptcpPmClient;
    try {
      client = await inNs(() => MptcpPmClient.open());
    } catch (err) {
      await diag.close();
      throw err;
    }
    const d = new KernelPmDriver(controller, client, diag, options);
    const fail = async (err: unknown): Promise<never> => {
      await d.stop();
      throw err;
    };
    // The native reflex thread first: when it runs, it is the thread whose reaction time matters,
    // and it takes realtimePriority; this one stays normal. Measured (pm-latency lab, 100
    // connections per case): both SCHED_FIFO, this thread's own work on each event (a few hundred
    // µs, hogging a CPU ahead of the connection's processes) put 1-40 ms on a quarter of the joins.
    if ((options.nativeReflex ?? 'off') !== 'off' && controller.establishedReflex) {
      try {
        d.startNative(inNs);
      } catch (err) {
        if (options.nativeReflex === 'required') await fail(err);
        d.log({
          kind: 'info',
          timeMs: d.now(),
          message: `no native reflex thread: ${(err as Error).message}`,
        });
      }
    }
    if (d.native) {
      if (options.realtimePriority !== undefined && !d.native.realtime) {
        const why =
          'the native reflex thread could not have SCHED_FIFO (CAP_SYS_NICE or RLIMIT_RTPRIO needed)';
        if (!options.realtimeBestEffort) await fail(new Error(why));
        d.log({ kind: 'info', timeMs: d.now(), message: `normal scheduling: ${why}` });
      }
    } else if (options.realtimePriority !== undefined) {
      try {
        useRealtimeScheduling(options.realtimePriority);
        d.realtime = true;
      } catch (err) {
        if (!options.realtimeBestEffort) await fail(err);
        d.log({ kind: 'info', timeMs: d.now(), message: `normal scheduling: ${(err as Error).message}` });
      }
    }
    d.locals = d.readLocals();
    d.installWildcards();
    const pm = inNs(userspacePmSelected);
    if (pm !== true)
      d.log({
        kind: 'info',
        timeMs: d.now(),
        message: `the userspace path manager is not selected here (${pm}): set net.mptcp.path_manager=userspace (or net.mptcp.pm_type=1); commands on connections created before will fail`,
      });
    warmUpDriverPath();
    if (options.scratchController) {
      // Two scratch instances: the call sites that reach handle() then see closures of the same
      // function, not one closure, and stay optimized for the real instance too.
      warmUpController([options.scratchController(), options.scratchController()], client, d.logError);
      await d.warmUpCommandPath();
    }
    const blocking = options.eventWait === 'blocking-poll';
    d.sub = client.subscribeEvents({
      ...(controller.establishedReflex ? { onEstablished: d.onEstablished } : {}),
      eventLoop: !blocking,
    });
    // 'blocking-poll' with a reflex: the kernel drops `created` events before they reach this
    // socket, so that setting a connection up does not wake this thread (its wake-up and work
    // compete for the CPU with the connection's own setup: measured, +30-40 µs to the initial SYN →
    // join SYN time); connection-created is emitted right before connection-established instead.
    const createdDropped = blocking && controller.establishedReflex !== undefined && d.dropCreated();
    // Joined after the client's socket, so that the kernel wakes the native thread first.
    d.native?.listen();
    d.sub.on('event', (ev: KernelPmEvent) => {
      const mapped = mapKernelEvent(ev, d.now());
      if (!mapped) return;
      if (createdDropped && mapped.type === 'connection-established' && !d.state.has(mapped.connection)) {
        const created: PmEvent = { ...mapped, type: 'connection-created' };
        d.enqueue(() => d.dispatch(created));
      }
      d.enqueue(() => d.dispatch(mapped));
    });
    d.sub.on('error', (err: Error) =>
      d.log({ kind: 'error', timeMs: d.now(), message: `event stream: ${err.message}` }),
    );
    if (options.adoptExisting ?? true) d.enqueue(() => d.adopt());
    const tick = options.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS;
    if (tick > 0)
      d.intervals.push(
        setInterval(
          () => d.enqueue(() => d.dispatch({ type: 'tick', connection: ANY_CONNECTION, timeMs: d.now() })),
          tick,
        ),
      );
    const poll = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    if (poll > 0)
      d.intervals.push(
        setInterval(() => {
          if (d.pollQueued || !d.state.hasConnections()) return;
          d.pollQueued = true;
          d.enqueue(() => {
            d.pollQueued = false;
            return d.refreshAndDispatch();
          });
        }, poll),
      );
    // Interface changes: rtnetlink address notifications where possible, else polling.
    try {
      d.rtnl = inNs(() => NetlinkSocket.open(NETLINK_ROUTE));
      d.rtnl.joinGroup(RTNLGRP_IPV4_IFADDR);
      d.rtnl.joinGroup(RTNLGRP_IPV6_IFADDR);
      d.rtnl.setListener({
        message: (m) => {
          if (m.type === RTM_NEWADDR || m.type === RTM_DELADDR) d.queueLocals();
        },
        error: () => d.queueLocals(),
      });
    } catch (err) {
      await d.rtnl?.close().catch(() => undefined);
      d.rtnl = undefined;
      d.log({
        kind: 'info',
        timeMs: d.now(),
        message: `no rtnetlink address events (${(err as Error).message}): polling`,
      });
    }
    const lpoll = options.localPollIntervalMs ?? (d.rtnl ? 0 : DEFAULT_LOCAL_POLL_INTERVAL_MS);
    if (lpoll > 0) d.intervals.push(setInterval(() => d.queueLocals(), lpoll));
    if (blocking) d.turn = setImmediate(d.blockingTurn);
    return d;
  }

  /** Starts the native reflex thread in the driver's namespace (throws NativeReflexError). */
  private startNative(inNs: <T>(fn: () => T) => T): void {
    const group = this.client.family.groups.get(MPTCP_PM_EV_GRP_NAME);
    if (group === undefined) throw new Error(`no ${MPTCP_PM_EV_GRP_NAME} group`);
    const rt = this.options.realtimePriority;
    const native = inNs(() =>
      NativeReflexThread.start({
        familyId: this.client.family.id,
        eventsGroup: group,
        tokenOffset: SUBFLOW_CREATE_TOKEN_OFFSET,
        maxRetries: MAX_ENOTCONN_RETRIES,
        ...(rt !== undefined ? { realtimePriority: rt } : {}),
      }),
    );
    this.native = native;
    this.log({
      kind: 'info',
      timeMs: this.now(),
      message: `native reflex thread started (${native.realtime ? 'SCHED_FIFO' : 'normal scheduling'})`,
    });
  }

  /** Asks the kernel to drop `created` events for this driver; false (and a note) when it cannot. */
  private dropCreated(): boolean {
    try {
      this.client.dropEvents([MPTCP_EVENT.CREATED]);
      return true;
    } catch (err) {
      this.log({
        kind: 'info',
        timeMs: this.now(),
        message: `cannot filter created events (${(err as Error).message}): holding them instead`,
      });
      return false;
    }
  }

  /**
   * One turn of the 'blocking-poll' loop: blocks in poll() until an event (handled right here, in
   * this call stack) or the wait bound, then lets the event loop run once (timers, promise jobs,
   * other I/O) before the next turn.
   */
  private readonly blockingTurn = (): void => {
    this.turn = undefined;
    if (this.stopped) return;
    let waitMs = this.hurry > 0 || this.busy > 0 ? 0 : BLOCKING_WAIT_MAX_MS;
    if (waitMs > 0 && this.timerDueMs.size > 0) {
      const now = this.now();
      for (const due of this.timerDueMs.values()) waitMs = Math.min(waitMs, Math.max(0, due - now));
    }
    try {
      // With a reflex, a new connection's `created` is held (undecoded) for up to REFLEX_WAIT_MS:
      // its `established`, which the reflex answers, usually follows within a round trip, and
      // handling `created` first (decoding, state, controller, log: ~100-300 µs of cold code here)
      // would make that answer wait, and compete for the CPU with the connection's own setup.
      // With the native reflex thread, this thread's work on an event waits NATIVE_DEFER_MS: the
      // reaction is done there, and this work would compete for the CPU with the connection's
      // own processes right when they set it up (measured: see NATIVE_DEFER_MS).
      this.client.waitEvents(
        waitMs,
        this.controller.establishedReflex ? REFLEX_WAIT_MS : 0,
        this.native ? NATIVE_DEFER_MS : 0,
      );
    } catch (err) {
      this.taskFailed(err);
    }
    if (!this.stopped) this.turn = setImmediate(this.blockingTurn);
  };

  /**
   * An `established` event was read (before the other events read with it are decoded): the
   * controller's reflex subflows are requested now (ReflexCache). The event is handled as usual
   * afterwards, and handle()'s equal commands are matched with these (decide).
   */
  private readonly onEstablished = (payload: Uint8Array): void => {
    if (this.stopped) return;
    const peek = peekEstablished(payload);
    if (peek?.serverSide) return;
    if (!peek) {
      // Not read in place (IPv6): the general path.
      const creates = this.reflexes.requestsFor(payload, this.locals);
      if (creates.length > 0) this.reflexed.set(creates[0]!.cmd.connection, creates.map(this.startPrepared));
      return;
    }
    // IPv4: the answer's templates, stamped with the token and sent before anything else, unless
    // the native thread sent them already (claim: then it never will).
    const token = peek.token;
    if (this.native) {
      const claim = this.native.claim(token);
      if (claim.state === 'sent' || claim.state === 'sending') {
        this.adoptNative(peek, claim);
        return;
      }
    }
    const key = this.native ? { saddr4: peek.saddr4, daddr4: peek.daddr4, dport: peek.dport } : undefined;
    const templates = this.reflexes.templates4(peek, this.locals);
    if (templates.length === 0) return;
    const outcomes: Promise<void>[] = [];
    for (const t of templates) {
      stampToken(t.request, token);
      outcomes.push(this.client.sendPrepared(t.request));
    }
    const connection = connectionIdFromToken(token);
    this.reflexed.set(
      connection,
      templates.map((t, i) => this.afterFreshSend(connection, token, t, outcomes[i]!)),
    );
    if (key && !this.nativeIds.has(templates)) this.installNative(key, templates);
  };

  /** Hands an answer's templates to the native thread, for the next connections between these endpoints. */
  private installNative(
    key: { saddr4: number; daddr4: number; dport: number },
    templates: readonly FreshTemplate[],
  ): void {
    const id = this.nextNativeId++;
    try {
      const emptied = this.native!.put(
        key,
        id,
        templates.map((t) => t.request.message),
      );
      if (emptied) this.installWildcards();
    } catch (err) {
      this.logError(`native reflex: ${(err as Error).message}`);
      return;
    }
    this.nativeIds.set(templates, id);
    this.nativeEntries.set(id, templates);
    if (this.nativeEntries.size > MAX_NATIVE_ENTRIES) {
      // The oldest exact entry (wildcards stay until the local addresses change).
      for (const [old, e] of this.nativeEntries) {
        if (e === 'wildcard') continue;
        this.nativeEntries.delete(old);
        break;
      }
    }
  }

  /**
   * Installs the reflex's remote-independent answers (ReflexCache.wildcard4) for every local IPv4
   * address in the native thread, so that even the first connection to a remote is answered there.
   */
  private installWildcards(): void {
    if (!this.native) return;
    for (const l of this.locals) {
      const saddr4 = l.family === 4 ? ipv4Number(l.address) : undefined;
      if (saddr4 === undefined) continue;
      const w = this.reflexes.wildcard4(l.address, this.locals);
      if (!w) continue;
      const id = this.nextNativeId++;
      try {
        this.native.putWildcard(
          saddr4,
          id,
          w.templates.map((t) => t.request.message),
          w.patches,
        );
      } catch (err) {
        this.logError(`native reflex: ${(err as Error).message}`);
        continue;
      }
      this.nativeEntries.set(id, 'wildcard');
    }
  }

  /** The bookkeeping of requests the native thread sent for a connection (as afterFreshSend's). */
  private adoptNative(
    peek: Readonly<EstablishedPeek>,
    claim: Extract<NativeClaim, { state: 'sent' | 'sending' }>,
  ): void {
    const token = peek.token;
    const connection = connectionIdFromToken(token);
    const entry = this.nativeEntries.get(claim.entryId);
    const templates = entry === 'wildcard' ? this.reflexes.templates4(peek, this.locals) : entry;
    if (!templates || templates.length !== claim.count) {
      this.logError(`native reflex: sent entry ${claim.entryId} for ${connection}, which is no longer known`);
      return;
    }
    this.reflexed.set(
      connection,
      templates.map((t, i) =>
        this.afterFreshSend(connection, token, t, this.nativeOutcome(token, claim, i, t)),
      ),
    );
  }

  /** The kernel's answer to the native thread's i-th request for `token` (waiting while it sends). */
  private async nativeOutcome(token: number, first: NativeClaim, i: number, t: FreshTemplate): Promise<void> {
    let claim = first;
    const deadline = this.now() + NATIVE_OUTCOME_TIMEOUT_MS;
    while (claim.state === 'sending' && this.native && this.now() < deadline) {
      this.hurry++;
      await new Promise<void>((r) => setImmediate(r));
      this.hurry--;
      claim = this.native.claim(token);
    }
    if (claim.state !== 'sent') throw new Error(`native reflex: no outcome for ${t.request.operation}`);
    const errno = claim.errnos[i] ?? 0;
    if (errno !== 0) throw new NetlinkError(t.request.operation, errno);
  }

  /** The bookkeeping of a template sent by onEstablished: id, command, backup, retries. */
  private afterFreshSend(connection: string, token: number, t: FreshTemplate, sent: Promise<void>): Started {
    const id = this.state.reserveLocalId(connection, t.initialLocal, t.local);
    if (id !== t.id)
      this.logError(`reflex: ${t.local} has local id ${id} on ${connection}, the request used ${t.id}`);
    const cmd = createCommand(connection, t.sf);
    if (cmd.backup) this.wantBackup.add(`${t.local}>${cmd.remoteAddress}:${cmd.remotePort}`);
    const outcome = this.retryOnEnotconn(sent, () => withToken(t.request, token));
    outcome.catch(() => undefined); // observed later by complete()
    return { cmd, outcome };
  }

  /** Sends a prepared create; its outcome is observed later by complete(). */
  private readonly startPrepared = (p: PreparedCreate): Started => {
    const outcome = this.sendCreate(p);
    outcome.catch(() => undefined); // not unhandled meanwhile
    return { cmd: p.cmd, outcome };
  };

  /** Milliseconds since the driver started (monotonic). */
  now(): number {
    return performance.now() - this.t0;
  }

  /** Current view (as of the last refresh). */
  view(): PmView {
    return this.state.view(this.now(), this.locals);
  }

  /** Hands an application event (e.g. block-sent) to the controller; `timeMs` is filled in. */
  inject(event: PmEvent): Promise<void> {
    return this.enqueue(() => this.dispatch({ ...event, timeMs: this.now() }));
  }

  /** Refreshes the view's metrics from sock_diag now (after queued events); resolves when done. */
  refreshNow(): Promise<void> {
    return this.enqueue(() => this.refreshAndDispatch());
  }

  /** Resolves when every queued event has been handled. */
  idle(): Promise<void> {
    return this.tail;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.turn) clearImmediate(this.turn);
    this.turn = undefined;
    for (const i of this.intervals) clearInterval(i);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.timerDueMs.clear();
    this.sub?.close();
    await this.rtnl?.close().catch(() => undefined);
    await this.tail;
    if (this.native) {
      await this.native.close();
      const n = this.native.stats();
      this.log({
        kind: 'info',
        timeMs: this.now(),
        message: `native reflex thread: ${n.events} connections seen, ${n.hits} answered (${n.sent} requests accepted, ${n.errors} refused, ${n.retries} ENOTCONN retries, ${n.slow} slower than 0.5 ms), ${n.misses} without an entry, ${n.skipped} left to JS`,
      });
    }
    await this.client.close();
    await this.diag.close();
    if (this.realtime) restoreNormalScheduling();
    this.flushLog();
  }

  /** Queues `entry` for the logger (delivered in order, in a microtask: see the contract). */
  private log(entry: DriverLogEntry): void {
    if (!this.options.log) return;
    this.logQueue.push(entry);
    if (this.logFlushQueued) return;
    this.logFlushQueued = true;
    // A reaction on a resolved promise: a microtask without queueMicrotask's per-call
    // AsyncResource (measured: the larger part of the logging cost on the event path).
    RESOLVED.then(this.flushLog);
  }

  private readonly flushLog = (): void => {
    this.logFlushQueued = false;
    const entries = this.logQueue;
    if (entries.length === 0) return;
    this.logQueue = [];
    for (const e of entries) {
      try {
        this.options.log?.(e);
      } catch {
        // a failing logger must not stop the driver
      }
    }
  };

  /**
   * Runs `task` after the queued ones: at once (synchronously) when none is queued or running.
   * A task returns undefined when it finished synchronously, or a promise when it had to wait.
   */
  private enqueue(task: () => void | Promise<void>): Promise<void> {
    if (this.busy === 0) {
      // Counted while it runs, so that a task it enqueues synchronously waits for it.
      this.busy++;
      const r = this.runTask(task);
      if (r === undefined) {
        this.busy--;
        return RESOLVED;
      }
      this.tail = r.then(this.taskDone);
      return this.tail;
    }
    this.busy++;
    this.tail = this.tail.then(() => this.runTask(task)).then(this.taskDone);
    return this.tail;
  }

  private readonly taskDone = (): void => {
    this.busy--;
  };

  /** Runs a task; its errors are logged. Undefined when it finished synchronously. */
  private runTask(task: () => void | Promise<void>): Promise<void> | undefined {
    if (this.stopped) return undefined;
    try {
      const r = task();
      return r === undefined ? undefined : r.catch(this.taskFailed);
    } catch (err) {
      this.taskFailed(err);
      return undefined;
    }
  }

  private readonly logError = (message: string): void => {
    this.log({ kind: 'error', timeMs: this.now(), message });
  };

  private readonly taskFailed = (err: unknown): void => {
    this.log({ kind: 'error', timeMs: this.now(), message: (err as Error)?.message ?? String(err) });
  };

  private readLocals(): LocalAddress[] {
    const read = () => networkInterfaces();
    return usableLocalAddresses(this.options.netns ? withNetns(this.options.netns, read) : read());
  }

  private queueLocals(): void {
    if (this.localsQueued) return;
    this.localsQueued = true;
    this.enqueue(async () => {
      this.localsQueued = false;
      await this.pollLocals();
    });
  }

  private async pollLocals(): Promise<void> {
    const next = this.readLocals();
    const before = new Set(this.locals.map((l) => l.address));
    const after = new Set(next.map((l) => l.address));
    const prev = this.locals;
    this.locals = next;
    // Reflex answers were computed from the old addresses.
    if (before.size !== after.size || next.some((l) => !before.has(l.address))) {
      this.reflexes.clear();
      this.native?.clear();
      for (const [id, e] of this.nativeEntries) if (e === 'wildcard') this.nativeEntries.delete(id);
      this.installWildcards();
    }
    for (const l of next)
      if (!before.has(l.address))
        await this.dispatch(
          withIfname(
            { type: 'local-addr-added', connection: ANY_CONNECTION, timeMs: this.now(), address: l.address },
            l,
          ),
        );
    for (const l of prev)
      if (!after.has(l.address))
        await this.dispatch(
          withIfname(
            {
              type: 'local-addr-removed',
              connection: ANY_CONNECTION,
              timeMs: this.now(),
              address: l.address,
            },
            l,
          ),
        );
  }

  /** Refreshes metrics and hands the inferred events to the controller. */
  private async refreshAndDispatch(): Promise<void> {
    for (const ev of await this.refresh()) await this.dispatch(ev, false);
  }

  /** Dumps sock_diag and merges it; returns inferred events. */
  private async refresh(): Promise<readonly PmEvent[]> {
    if (!this.state.hasConnections()) return NO_EVENTS;
    let tcp: InetDiagSocket[] = [];
    let mptcp: InetDiagSocket[] = [];
    try {
      tcp = await this.diag.dumpTcp({ states: REFRESH_TCP_STATES });
      mptcp = await this.diag.dumpMptcp({ states: REFRESH_TCP_STATES });
    } catch (err) {
      this.log({ kind: 'error', timeMs: this.now(), message: `sock_diag: ${(err as Error).message}` });
    }
    return this.state.applyDiag(tcp, mptcp, this.now());
  }

  private async adopt(): Promise<void> {
    let mptcp: InetDiagSocket[];
    try {
      mptcp = await this.diag.dumpMptcp();
    } catch (err) {
      this.log({
        kind: 'info',
        timeMs: this.now(),
        message: `cannot list existing connections: ${(err as Error).message}`,
      });
      return;
    }
    const listening = new Set(mptcp.filter((s) => s.state === TCP_LISTEN).map((s) => s.sport));
    for (const s of mptcp) {
      if (
        s.state !== TCP_ESTABLISHED ||
        !s.mptcpInfo ||
        this.state.has(s.mptcpInfo.token.toString(16).padStart(8, '0'))
      )
        continue;
      const local = { address: s.saddr, port: s.sport };
      const remote = { address: s.daddr, port: s.dport };
      const serverSide = listening.has(s.sport);
      const id = this.state.adopt(s.mptcpInfo.token, local, remote, serverSide);
      this.log({ kind: 'info', timeMs: this.now(), message: `adopted existing connection ${id}` });
      await this.dispatch({
        type: 'connection-established',
        connection: id,
        timeMs: this.now(),
        local,
        remote,
        serverSide,
      });
    }
  }

  /**
   * Applies `ev` (after a sock_diag refresh when it needs fresh metrics), lets the controller
   * handle it, runs its commands. Synchronous up to the first command's send; undefined when it
   * had nothing to wait for.
   */
  private dispatch(ev: PmEvent, refresh = true): void | Promise<void> {
    if (refresh && FRESH_METRICS_FOR.has(ev.type))
      return this.refresh().then((inferred) => this.handleEvent(ev, inferred));
    return this.handleEvent(ev, NO_EVENTS);
  }

  private handleEvent(ev: PmEvent, inferred: readonly PmEvent[]): void | Promise<void> {
    this.state.apply(ev);
    if (ev.type === 'connection-closed') this.reflexed.delete(ev.connection);
    if (ev.type === 'subflow-established' && this.wantBackup.size > 0) {
      const k = `${ev.local.address}>${ev.remote.address}:${ev.remote.port}`;
      if (this.wantBackup.delete(k) && !ev.backup) {
        this.log({ kind: 'event', timeMs: ev.timeMs, event: ev });
        const cmd: PmCommand = {
          type: 'set-backup',
          connection: ev.connection,
          subflow: ev.subflow,
          backup: true,
        };
        return this.complete(cmd, this.send(cmd)).then(() => this.decide(ev, inferred, false));
      }
    }
    return this.decide(ev, inferred, true);
  }

  /**
   * The controller's turn: its first command not already sent by a reflex is sent before the event
   * is logged.
   */
  private decide(ev: PmEvent, inferred: readonly PmEvent[], logEvent: boolean): void | Promise<void> {
    const commands = askController(this.controller, ev, this.view(), this.logError);
    const early = ev.type === 'connection-established' ? this.reflexed.get(ev.connection) : undefined;
    if (early) this.reflexed.delete(ev.connection);
    const started =
      early && ev.type === 'connection-established'
        ? this.matchReflexed(commands, early, ev.local.address)
        : commands.map((cmd): Started => ({ cmd, outcome: undefined }));
    const first = started.find((s) => s.outcome === undefined);
    if (first) first.outcome = this.send(first.cmd);
    if (logEvent) this.log({ kind: 'event', timeMs: ev.timeMs, event: ev });
    if (started.length === 0 && inferred.length === 0) return undefined;
    return this.completeAll(started, inferred);
  }

  /**
   * Pairs the controller's commands with those its reflex already sent (equal create-subflow
   * commands); reflex commands without a partner are kept, and the disagreement is logged.
   */
  private matchReflexed(commands: readonly PmCommand[], early: Started[], initialLocal: string): Started[] {
    const left = [...early];
    const out: Started[] = [];
    for (const cmd of commands) {
      const i = left.findIndex((s) => sameCreate(s.cmd, cmd, initialLocal));
      if (i < 0) out.push({ cmd, outcome: undefined });
      else out.push(left.splice(i, 1)[0]!);
    }
    for (const s of left) {
      this.logError(
        `controller ${this.controller.name}: its reflex sent ${describeCreate(s.cmd)}, which handle() did not return`,
      );
      out.push(s);
    }
    return out;
  }

  private async completeAll(started: readonly Started[], inferred: readonly PmEvent[]): Promise<void> {
    for (const s of started) await this.complete(s.cmd, s.outcome ?? this.send(s.cmd));
    for (const extra of inferred) await this.dispatch(extra, false);
  }

  /** Starts `cmd`: its netlink request is sent before this returns (set-timer: armed). */
  private send(cmd: PmCommand): Promise<void> {
    if (cmd.type === 'set-timer') {
      const t = armTickTimer(
        this.timers,
        cmd,
        () => this.now(),
        (tick) => {
          this.timerDueMs.delete(t);
          this.enqueue(() => this.dispatch(tick));
        },
      );
      if (this.options.eventWait === 'blocking-poll') this.timerDueMs.set(t, cmd.atMs);
      return RESOLVED;
    }
    return this.run(cmd);
  }

  /** Logs a started command and waits for its outcome; a refusal becomes command-failed. */
  private async complete(cmd: PmCommand, outcome: Promise<void>): Promise<void> {
    this.log({ kind: 'command', timeMs: this.now(), command: cmd });
    try {
      await outcome;
    } catch (err) {
      const failed = commandFailed(cmd, err, this.now(), err instanceof NetlinkError ? err.errno : undefined);
      this.log({ kind: 'error', timeMs: this.now(), message: failed.error, command: cmd });
      this.enqueue(() => this.dispatch(failed, false));
    }
  }

  /**
   * Runs the create-subflow paths (the reflex's and handle()'s: id reservation, encoding, the
   * netlink request and its reply) on requests the kernel refuses before acting: SUBFLOW_CREATE for
   * token 0 with remote port 0 (the token is looked up first, and no connection has port 0).
   * Measured in the pm-latency lab: left cold, the first command of each connection waited tens of
   * microseconds longer.
   */
  private async warmUpCommandPath(): Promise<void> {
    const connection = connectionIdFromToken(0);
    const cmd = createCommand(connection, {
      localAddress: '192.0.2.1',
      remoteAddress: '192.0.2.2',
      remotePort: 0,
    });
    // The reflex path, from an established event's bytes to the request, as onEstablished runs it
    // (the real controller's reflex: pure by contract), alternating with plain commands.
    const payloads = WARM_UP_LOCALS.map((l, i) =>
      emitPmEvent({
        type: 'established',
        token: 0,
        family: 4,
        saddr: l.address,
        daddr: '198.51.100.2',
        sport: 40000 + i,
        dport: 0,
        serverSide: false,
        flags: 0,
      }),
    );
    for (let i = 0; i < COMMAND_WARM_UP_ITERATIONS; i++) {
      if (this.controller.establishedReflex && i % 2 === 0) {
        this.onEstablished(payloads[(i >> 1) % payloads.length]!);
        for (const s of this.reflexed.get(connection) ?? []) await s.outcome?.catch(() => undefined);
        this.reflexed.delete(connection);
      } else await this.createSubflow(cmd, 0, '192.0.2.3').catch(() => undefined);
      // A fresh connection each time, as for a real one (its ids reserved from scratch).
      this.state.apply({ type: 'connection-closed', connection, timeMs: 0 });
    }
    this.reflexes.clear();
    this.state.apply({ type: 'connection-closed', connection, timeMs: this.now() });
  }

  /** SUBFLOW_CREATE for `cmd`: sent before this returns (see sendCreate). */
  private createSubflow(
    cmd: Extract<PmCommand, { type: 'create-subflow' }>,
    token: number,
    initialLocal: string,
  ): Promise<void> {
    let p: PreparedCreate;
    try {
      p = this.prepareCreate(cmd, token, initialLocal);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.sendCreate(p);
  }

  /** Encodes SUBFLOW_CREATE for `cmd`, reserving the local address id. Throws when it cannot. */
  private prepareCreate(
    cmd: Extract<PmCommand, { type: 'create-subflow' }>,
    token: number,
    initialLocal: string,
  ): PreparedCreate {
    const local = cmd.localAddress ?? initialLocal;
    const id = this.state.reserveLocalId(cmd.connection, initialLocal, local);
    if (id === undefined) throw new Error(`no local address id left for ${local}`);
    const request = this.client.prepareSubflowCreate(
      token,
      { addr: local, id },
      { addr: cmd.remoteAddress, port: cmd.remotePort },
    );
    return { cmd, request, local };
  }

  /**
   * Sends a prepared SUBFLOW_CREATE (before this returns); retried on the next event-loop turns
   * while the kernel answers ENOTCONN (MAX_ENOTCONN_RETRIES).
   */
  private sendCreate(p: PreparedCreate): Promise<void> {
    const cmd = p.cmd;
    if (cmd.backup) this.wantBackup.add(`${p.local}>${cmd.remoteAddress}:${cmd.remotePort}`);
    return this.retryOnEnotconn(this.client.sendPrepared(p.request), () => p.request);
  }

  /**
   * The outcome of a SUBFLOW_CREATE already sent (`first`), resent (`again()`) on the next
   * event-loop turns while the kernel answers ENOTCONN, up to MAX_ENOTCONN_RETRIES times.
   */
  private async retryOnEnotconn(first: Promise<void>, again: () => PreparedRequest): Promise<void> {
    let attempt = first;
    let request: PreparedRequest | undefined;
    for (let retries = 0; ; retries++) {
      try {
        await attempt;
        return;
      } catch (err) {
        if (!(err instanceof NetlinkError && err.code === 'ENOTCONN') || retries >= MAX_ENOTCONN_RETRIES)
          throw err;
      }
      this.hurry++;
      await new Promise<void>((r) => setImmediate(r));
      this.hurry--;
      if (this.stopped) throw new Error('driver stopped');
      request ??= again();
      attempt = this.client.sendPrepared(request);
    }
  }

  private async run(cmd: Exclude<PmCommand, { type: 'set-timer' }>): Promise<void> {
    const token = this.state.token(cmd.connection);
    if (token === undefined) throw new Error(`unknown connection ${cmd.connection}`);
    switch (cmd.type) {
      case 'create-subflow':
        return this.createSubflow(cmd, token, this.state.connectionView(cmd.connection)!.local.address);
      case 'remove-subflow': {
        const t = parseSubflowKey(cmd.subflow);
        if (!t) throw new Error(`not a kernel subflow key: ${cmd.subflow}`);
        await this.client.subflowDestroy(
          token,
          { addr: t.local.address, port: t.local.port },
          { addr: t.remote.address, port: t.remote.port },
        );
        return;
      }
      case 'set-backup': {
        const t = parseSubflowKey(cmd.subflow);
        if (!t) throw new Error(`not a kernel subflow key: ${cmd.subflow}`);
        await this.client.setFlags(
          {
            token,
            addr: t.local.address,
            port: t.local.port,
            remote: { addr: t.remote.address, port: t.remote.port },
          },
          cmd.backup ? ['backup'] : [],
        );
        return;
      }
      case 'announce': {
        this.state.bindLocalId(cmd.connection, cmd.address, cmd.addressId);
        const local: { addr: string; id: number; port?: number } = { addr: cmd.address, id: cmd.addressId };
        if (cmd.port !== undefined) local.port = cmd.port;
        await this.client.announce(token, local);
        return;
      }
      case 'withdraw':
        await this.client.remove(token, cmd.addressId);
        return;
    }
  }
}

/** A command and, once sent, its outcome. */
interface Started {
  cmd: PmCommand;
  outcome: Promise<void> | undefined;
}

/** Two create-subflow commands for the same subflow (an absent local address is the initial one). */
function sameCreate(a: PmCommand, b: PmCommand, initialLocal: string): boolean {
  return (
    a.type === 'create-subflow' &&
    b.type === 'create-subflow' &&
    a.connection === b.connection &&
    (a.localAddress ?? initialLocal) === (b.localAddress ?? initialLocal) &&
    a.remoteAddress === b.remoteAddress &&
    a.remotePort === b.remotePort &&
    (a.backup ?? false) === (b.backup ?? false)
  );
}

function describeCreate(cmd: PmCommand): string {
  return cmd.type === 'create-subflow'
    ? `create-subflow ${cmd.localAddress ?? '(initial address)'} > ${cmd.remoteAddress}:${cmd.remotePort}`
    : cmd.type;
}

/** Iterations of warmUpDriverPath (see MptcpPmClient's warm-up for why so many). */
const WARM_UP_ITERATIONS = 10_000;
let warmedUp = false;

/**
 * Runs the driver's pure per-event code (kernel event mapping, state updates, views) on synthetic
 * events against a scratch state, once per process, so that V8 has optimized it before the first
 * real event: interpreted, it adds tens of microseconds between an event and the command.
 * The controller is not warmed up (it keeps state of its own).
 */
function warmUpDriverPath(): void {
  if (warmedUp) return;
  warmedUp = true;
  const scratch = new KernelPmState();
  // Real-shaped kernel events: decoded from the bytes the kernel would send.
  const events = warmUpEvents().map((e) => decodePmEvent(emitPmEvent(e))!);
  for (let i = 0; i < WARM_UP_ITERATIONS; i++) {
    const ev = events[i % events.length]!;
    const timeMs = i + 0.25; // driver time is fractional
    const mapped = mapKernelEvent(ev, timeMs);
    if (mapped) scratch.apply(mapped);
    if (ev.type === 'sub_established') {
      const id = connectionIdFromToken(ev.token);
      scratch.view(timeMs, []).connection(id);
      scratch.localId(id, '192.0.2.3');
      scratch.token(id);
    }
  }
}

/** Refused SUBFLOW_CREATE requests sent at start (about 70 µs each on a 2-vCPU VM). */
const COMMAND_WARM_UP_ITERATIONS = 2000;
/** Iterations of warmUpController: a controller's handle() then runs optimized (TurboFan). */
const CONTROLLER_WARM_UP_ITERATIONS = 5_000;
/** Local addresses of the warm-up view: two, so that subflow-opening paths run too. */
const WARM_UP_LOCALS: LocalAddress[] = [
  { address: '192.0.2.1', family: 4, ifname: 'warm0' },
  { address: '192.0.2.200', family: 4, ifname: 'warm1' },
];

/**
 * Runs a scratch controller over the warm-up events (driver mapping, scratch state and views, as a
 * real event would see them). Measured with `mptcp pm run fullmesh` in the pm-latency lab: without
 * it the controller's first hundreds of events run interpreted, 30 µs for an established event.
 */
function warmUpController(
  controllers: readonly Controller[],
  encoder: SubflowCreateEncoder,
  onError: (message: string) => void,
): void {
  const scratch = new KernelPmState();
  const reflexes = controllers.map((c) => new ReflexCache(c, encoder, scratch, onError));
  const payloads = warmUpEvents().map((e) => emitPmEvent(e));
  const events = payloads.map((p) => decodePmEvent(p)!);
  for (let i = 0; i < CONTROLLER_WARM_UP_ITERATIONS; i++) {
    const k = i % events.length;
    const ev = events[k]!;
    const which = (i >> 3) % controllers.length;
    const timeMs = i + 0.25;
    // The reflex path as onEstablished runs it; a new answer now and then (cache misses too).
    if (ev.type === 'established') {
      if (i % 64 === 0) reflexes[which]!.clear();
      reflexes[which]!.requestsFor(payloads[k]!, WARM_UP_LOCALS);
      const peek = peekEstablished(payloads[k]!);
      if (peek) reflexes[which]!.templates4(peek, WARM_UP_LOCALS);
    }
    const mapped = mapKernelEvent(ev, timeMs);
    if (!mapped) continue;
    scratch.apply(mapped);
    askController(controllers[which]!, mapped, scratch.view(timeMs, WARM_UP_LOCALS), onError);
  }
}

/** True when the current namespace uses the userspace PM, else what it uses instead. */
export function userspacePmSelected(): true | string {
  const read = (f: string) => {
    try {
      return readFileSync(`/proc/sys/net/mptcp/${f}`, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const name = read('path_manager');
  if (name !== undefined) return name === 'userspace' ? true : `path_manager=${name}`;
  const type = read('pm_type');
  if (type !== undefined) return type === '1' ? true : `pm_type=${type}`;
  return 'no net.mptcp sysctls';
}

function withIfname<T extends PmEvent & { ifname?: string }>(ev: T, l: LocalAddress): T {
  if (l.ifname !== undefined) ev.ifname = l.ifname;
  return ev;
}

/** Starts a driver; resolves once it is listening. */
export function runKernelController(
  controller: Controller,
  options: KernelDriverOptions = {},
): Promise<KernelPmDriver> {
  return KernelPmDriver.start(controller, options);
}
