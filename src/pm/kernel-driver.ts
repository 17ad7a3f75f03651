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
 * - Start-up runs the per-event code on synthetic events once per process (JIT warm-up, no I/O,
 *   the controller excluded); `realtimePriority` makes the calling thread SCHED_FIFO until stop()
 *   (./realtime.ts: the reaction then does not wait behind the task that emitted the event).
 */
import { armTickTimer, askController, commandFailed } from './driver-common.js';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { performance } from 'node:perf_hooks';
import { withNetns } from '../lab/netns.js';
import type { InetDiagSocket } from '../netlink/inet-diag.js';
import { MptcpPmClient, type PmEventSubscription } from '../netlink/mptcp-pm-client.js';
import { decodePmEvent, emitPmEvent, type KernelPmEvent, warmUpEvents } from '../netlink/mptcp-pm-events.js';
import { SockDiag } from '../netlink/sock-diag.js';
import { NETLINK_ROUTE, NetlinkError, NetlinkSocket } from '../netlink/socket.js';
import { connectionIdFromToken, mapKernelEvent, parseSubflowKey } from './kernel-events.js';
import { KernelPmState } from './kernel-state.js';
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
}

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

  private constructor(
    readonly controller: Controller,
    private readonly client: MptcpPmClient,
    private readonly diag: SockDiag,
    private readonly options: KernelDriverOptions,
  ) {}

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
    if (options.realtimePriority !== undefined) {
      try {
        useRealtimeScheduling(options.realtimePriority);
      } catch (err) {
        await client.close();
        await diag.close();
        throw err;
      }
    }
    const d = new KernelPmDriver(controller, client, diag, options);
    d.locals = d.readLocals();
    const pm = inNs(userspacePmSelected);
    if (pm !== true)
      d.log({
        kind: 'info',
        timeMs: d.now(),
        message: `the userspace path manager is not selected here (${pm}): set net.mptcp.path_manager=userspace (or net.mptcp.pm_type=1); commands on connections created before will fail`,
      });
    warmUpDriverPath();
    d.sub = client.subscribeEvents();
    d.sub.on('event', (ev: KernelPmEvent) => {
      const mapped = mapKernelEvent(ev, d.now());
      if (mapped) d.enqueue(() => d.dispatch(mapped));
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
    return d;
  }

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
    for (const i of this.intervals) clearInterval(i);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.sub?.close();
    await this.rtnl?.close().catch(() => undefined);
    await this.tail;
    await this.client.close();
    await this.diag.close();
    if (this.options.realtimePriority !== undefined) restoreNormalScheduling();
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

  /** The controller's turn: its first command is sent before the event is logged. */
  private decide(ev: PmEvent, inferred: readonly PmEvent[], logEvent: boolean): void | Promise<void> {
    const commands = askController(this.controller, ev, this.view(), this.logError);
    const first = commands.length > 0 ? this.send(commands[0]!) : undefined;
    if (logEvent) this.log({ kind: 'event', timeMs: ev.timeMs, event: ev });
    if (commands.length === 0 && inferred.length === 0) return undefined;
    return this.completeAll(commands, first, inferred);
  }

  private async completeAll(
    commands: readonly PmCommand[],
    first: Promise<void> | undefined,
    inferred: readonly PmEvent[],
  ): Promise<void> {
    if (first) await this.complete(commands[0]!, first);
    for (let i = 1; i < commands.length; i++) await this.complete(commands[i]!, this.send(commands[i]!));
    for (const extra of inferred) await this.dispatch(extra, false);
  }

  /** Starts `cmd`: its netlink request is sent before this returns (set-timer: armed). */
  private send(cmd: PmCommand): Promise<void> {
    if (cmd.type === 'set-timer') {
      armTickTimer(
        this.timers,
        cmd,
        () => this.now(),
        (tick) => this.enqueue(() => this.dispatch(tick)),
      );
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

  private async run(cmd: Exclude<PmCommand, { type: 'set-timer' }>): Promise<void> {
    const token = this.state.token(cmd.connection);
    if (token === undefined) throw new Error(`unknown connection ${cmd.connection}`);
    switch (cmd.type) {
      case 'create-subflow': {
        const local = cmd.localAddress ?? this.state.connectionView(cmd.connection)!.local.address;
        const id = this.state.localId(cmd.connection, local);
        if (id === undefined) throw new Error(`no local address id left for ${local}`);
        if (cmd.backup) this.wantBackup.add(`${local}>${cmd.remoteAddress}:${cmd.remotePort}`);
        await this.client.subflowCreate(
          token,
          { addr: local, id },
          { addr: cmd.remoteAddress, port: cmd.remotePort },
        );
        return;
      }
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
