/**
 * The path managers ./pm-latency.ts measures, each behind one small interface (CaseReactor):
 * started before each of its blocks, stopped after, closed at the end. The in-kernel PM is a
 * `subflow` endpoint; ours react to `established` with SUBFLOW_CREATE: MptcpPmClient on the event
 * loop, a worker thread (./pm-latency-reactor.ts), and `mptcp pm run fullmesh` (the CLI daemon, a
 * child process); the `-rt` variants run the reacting thread SCHED_FIFO.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MPTCP_PM_EV_GRP_NAME, MPTCP_PM_NAME } from '../netlink/mptcp-pm.js';
import { MptcpPmClient, resolveGenlFamily } from '../netlink/mptcp-pm-client.js';
import type { KernelPmEvent } from '../netlink/mptcp-pm-events.js';
import { NETLINK_GENERIC, NetlinkError, NetlinkSocket } from '../netlink/socket.js';
import { MAX_ENOTCONN_RETRIES } from '../pm/kernel-driver.js';
import { DEFAULT_RT_PRIORITY, restoreNormalScheduling, useRealtimeScheduling } from '../pm/realtime.js';
import { ip, withNetns } from './netns.js';
import type { PmLatencyCase } from './pm-latency.js';
import { CLIENT_ADDRS, type Lab, setPathManager } from './pm-latency-lab.js';
import { type ReactorData, SLOT, SLOTS } from './pm-latency-reactor.js';

/** `mptcp pm run` defaults (src/cli/commands/pm.ts). */
const CLI_TICK_INTERVAL_MS = 500;
const CLI_POLL_INTERVAL_MS = 100;
/** The CLI (bin/mptcp.js), from build/src/lab/. */
const CLI_PATH = fileURLToPath(new URL('../../../bin/mptcp.js', import.meta.url));
const DAEMON_START_TIMEOUT_MS = 10_000;
const DAEMON_STOP_TIMEOUT_MS = 5_000;

/** A case's path manager, listening only between start() and stop(). */
export interface CaseReactor {
  start(): Promise<void>;
  /** Stops listening; returns notes for the block (errors, retries). */
  stop(): Promise<string[]>;
  close(): Promise<void>;
}

/** Our userspace PM on the event loop: `established` → SUBFLOW_CREATE on the second path. */
function userspaceReactor(lab: Lab, realtime: boolean): CaseReactor {
  let pm: MptcpPmClient | undefined;
  let errors = 0;
  let retries = 0;
  let lastError = '';
  const local = { addr: CLIENT_ADDRS[1], id: 2, ifindex: lab.client2Ifindex };
  return {
    async start() {
      // A fresh client per block, so that it listens (and wakes this thread) during its blocks only.
      const client = await withNetns(lab.client, () => MptcpPmClient.open());
      pm = client;
      if (realtime) useRealtimeScheduling(DEFAULT_RT_PRIORITY);
      const sub = client.subscribeEvents();
      sub.on('event', (ev: KernelPmEvent) => {
        if (ev.type !== 'established' || ev.serverSide) return;
        const remote = { addr: ev.daddr, port: ev.dport };
        const attempt = (left: number): void => {
          client.subflowCreate(ev.token, local, remote).catch((err: unknown) => {
            // ENOTCONN: the event can overtake the socket's own state change (the msk becomes
            // TCP_ESTABLISHED when the application releases its lock): retry at once.
            if (err instanceof NetlinkError && err.code === 'ENOTCONN' && left > 0) {
              retries++;
              setImmediate(() => attempt(left - 1));
              return;
            }
            errors++;
            lastError = String(err);
          });
        };
        attempt(MAX_ENOTCONN_RETRIES);
      });
      sub.on('error', (err: Error) => {
        errors++;
        lastError = err.message;
      });
    },
    async stop() {
      if (realtime) restoreNormalScheduling();
      await pm?.close();
      pm = undefined;
      const notes = [`${retries} ENOTCONN retries so far`];
      if (errors > 0) notes.push(`${errors} SUBFLOW_CREATE errors so far, last: ${lastError}`);
      return notes;
    },
    async close() {
      if (realtime) restoreNormalScheduling();
      await pm?.close();
    },
  };
}

/** The worker-thread PM (./pm-latency-reactor.ts) on sockets opened in the client namespace. */
async function workerReactor(lab: Lab, realtime: boolean): Promise<CaseReactor> {
  const [resolver, events, cmd] = withNetns(lab.client, () => [
    NetlinkSocket.open(NETLINK_GENERIC),
    NetlinkSocket.open(NETLINK_GENERIC),
    NetlinkSocket.open(NETLINK_GENERIC),
  ]);
  let worker: Worker;
  let exited: Promise<void>;
  const shared = new SharedArrayBuffer(SLOTS * 4);
  const ctl = new Int32Array(shared);
  try {
    const family = await resolveGenlFamily(resolver, MPTCP_PM_NAME);
    const group = family.groups.get(MPTCP_PM_EV_GRP_NAME);
    if (group === undefined) throw new Error(`no ${MPTCP_PM_EV_GRP_NAME} group`);
    events.joinGroup(group);
    const data: ReactorData = {
      eventsFd: events.fd,
      cmdFd: cmd.fd,
      familyId: family.id,
      local: { addr: CLIENT_ADDRS[1], id: 2, ifindex: lab.client2Ifindex },
      shared,
      ...(realtime ? { realtimePriority: DEFAULT_RT_PRIORITY } : {}),
    };
    worker = new Worker(new URL('./pm-latency-reactor.js', import.meta.url), { workerData: data });
    exited = new Promise<void>((r) => worker.once('exit', () => r()));
  } catch (err) {
    await events.close();
    await cmd.close();
    throw err;
  } finally {
    await resolver.close();
  }
  let closed = false;
  return {
    async start() {
      Atomics.store(ctl, SLOT.ACTIVE, 1);
      Atomics.notify(ctl, SLOT.ACTIVE);
    },
    async stop() {
      Atomics.store(ctl, SLOT.ACTIVE, 0);
      const notes = [`${Atomics.load(ctl, SLOT.RETRIES)} ENOTCONN retries so far`];
      const errors = Atomics.load(ctl, SLOT.ERRORS);
      if (errors > 0)
        notes.push(
          `${errors} SUBFLOW_CREATE errors so far, last errno ${Atomics.load(ctl, SLOT.LAST_ERRNO)}`,
        );
      return notes;
    },
    async close() {
      if (closed) return;
      closed = true;
      Atomics.store(ctl, SLOT.STOP, 1);
      Atomics.notify(ctl, SLOT.ACTIVE);
      await exited;
      await events.close();
      await cmd.close();
    },
  };
}

/**
 * `mptcp pm run fullmesh --netns <client> --json`: the CLI daemon itself, a child process started
 * for each block (so that it reacts during its own blocks only) and stopped with SIGINT after it.
 * Its log goes to a file, read at stop for errors and for how many connections its native reflex
 * thread answered. `native` false runs it with --no-native-reflex (the reflex from JS).
 */
function daemonReactor(lab: Lab, realtime: boolean, native: boolean): CaseReactor {
  let child: ChildProcess | undefined;
  let nativeSeen = 0;
  let nativeAnswered = 0;
  let noNative = '';
  let exited: Promise<number | null> | undefined;
  let logFile = '';
  let dir = '';
  const stop = async (): Promise<string[]> => {
    if (!child) return [];
    const c = child;
    child = undefined;
    c.kill('SIGINT');
    const timer = setTimeout(() => c.kill('SIGKILL'), DAEMON_STOP_TIMEOUT_MS);
    const code = await exited;
    clearTimeout(timer);
    const lines = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0);
    rmSync(dir, { recursive: true, force: true });
    const errors = lines.filter((l) => l.includes('"kind":"error"'));
    const notes: string[] = [];
    if (code !== 0) notes.push(`mptcp pm run exited with ${code}`);
    if (errors.length > 0) notes.push(`${errors.length} daemon errors, last: ${errors.at(-1)}`);
    for (const l of lines) {
      const m = /native reflex thread: (\d+) connections seen, (\d+) answered/.exec(l);
      if (m) {
        nativeSeen += Number(m[1]);
        nativeAnswered += Number(m[2]);
      }
      const why = /no native reflex thread: ([^"]*)/.exec(l);
      if (why) noNative = why[1]!;
    }
    if (native)
      notes.push(
        noNative
          ? `no native reflex thread: ${noNative}`
          : `the native reflex thread answered ${nativeAnswered} of ${nativeSeen} connections so far`,
      );
    return notes;
  };
  return {
    async start() {
      dir = mkdtempSync(join(tmpdir(), 'mptcp-pm-latency-daemon-'));
      logFile = join(dir, 'log.jsonl');
      const out = openSync(logFile, 'w');
      const args = [CLI_PATH, 'pm', 'run', 'fullmesh', '--netns', lab.client.name, '--json'];
      args.push('--tick', String(CLI_TICK_INTERVAL_MS), '--poll', String(CLI_POLL_INTERVAL_MS));
      // The daemon runs SCHED_FIFO by default when allowed (root here): --realtime makes that
      // required, so that the row is what it says; the other row opts out.
      args.push(realtime ? '--realtime' : '--no-realtime');
      if (!native) args.push('--no-native-reflex');
      const c = spawn(process.execPath, args, { stdio: ['ignore', out, 'inherit'] });
      closeSync(out);
      child = c;
      exited = new Promise((r) => c.once('exit', (code) => r(code)));
      const deadline = Date.now() + DAEMON_START_TIMEOUT_MS;
      while (!readFileSync(logFile, 'utf8').includes('running fullmesh')) {
        if (Date.now() > deadline || c.exitCode !== null) {
          const notes = await stop();
          throw new Error(`mptcp pm run did not start: ${notes.join('; ')}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    stop,
    async close() {
      await stop();
    },
  };
}

/** The in-kernel PM: a subflow endpoint on the second interface while the case runs. */
function kernelReactor(lab: Lab): CaseReactor {
  return {
    async start() {
      setPathManager(lab.client, false);
      ip(lab.client, ['mptcp', 'endpoint', 'flush']);
      ip(lab.client, ['mptcp', 'endpoint', 'add', CLIENT_ADDRS[1], 'dev', 'c1', 'subflow']);
    },
    async stop() {
      ip(lab.client, ['mptcp', 'endpoint', 'flush']);
      return [];
    },
    async close() {},
  };
}

export async function makeReactor(lab: Lab, id: Exclude<PmLatencyCase, 'mptcpd'>): Promise<CaseReactor> {
  switch (id) {
    case 'kernel':
      return kernelReactor(lab);
    case 'userspace':
    case 'userspace-rt':
      return userspaceReactor(lab, id === 'userspace-rt');
    case 'worker':
    case 'worker-rt':
      return workerReactor(lab, id === 'worker-rt');
    case 'fullmesh':
    case 'fullmesh-rt':
    case 'fullmesh-js':
      return daemonReactor(lab, id !== 'fullmesh', id !== 'fullmesh-js');
  }
}
