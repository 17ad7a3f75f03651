/**
 * Path-manager reaction time (seed 003 §4.5), shared by `bench/pm-latency.ts` and the lab scenario
 * `pm-latency`: the delay between a kernel MPTCP connection's initial SYN (MP_CAPABLE) and its
 * second subflow's SYN (MP_JOIN), as seen on the server, for
 * - `kernel`: the in-kernel PM (a `subflow` endpoint on the client's second interface),
 * - `userspace`: net.mptcp.path_manager=userspace and this Node process reacting to each
 *   `established` event (the earliest moment the kernel accepts SUBFLOW_CREATE) with
 *   MptcpPmClient.subflowCreate, on the event loop,
 * - `worker`: the same from a worker thread blocked in poll() (./pm-latency-reactor.ts),
 * - `fullmesh`: the daemon `mptcp pm run fullmesh --netns <client> --json --no-realtime`, a child
 *   process started for each of its blocks (KernelPmDriver, blocking poll, the fullmesh controller
 *   and its reflex, answered by the native reflex thread where it is built; its log goes to a
 *   file); `fullmesh-rt` is the daemon as it runs by default (SCHED_FIFO when allowed; here with
 *   --realtime, which makes that required); `fullmesh-js` the same with --no-native-reflex (the
 *   reflex sent from JS),
 * - `mptcpd`: mptcpd 0.12 (Debian) with its sspi plugin, probed first: it makes no second subflow
 *   (see MPTCPD_NOTE), and its result says so.
 * - `*-rt`: the same with the reacting thread SCHED_FIFO (../pm/realtime.ts) while its blocks run:
 *   a separate, labelled variant (it needs CAP_SYS_NICE; a real daemon can run so).
 *
 * Topology (./pm-latency-lab.ts): client and server namespaces joined by two veth pairs; the
 * client's second address routes out of its second interface, so the join goes over path 2 to the
 * server address of path 1 (the only address the server's connection knows). The path managers
 * are in ./pm-latency-cases.ts.
 * Client: python3 with IPPROTO_MPTCP, one connection at a time: connect, send a request, read the
 * reply (that makes the connection fully established) and the server's "joined" byte, close.
 * Server: python3, reads the request, answers, waits until it has accepted the join (MPTCP_INFO),
 * says so, reads to EOF.
 * Timestamps: tcpdump -i any in the server namespace, TCP headers only, nanosecond pcap, analysed
 * by ./pm-latency-capture.ts.
 * Cases run interleaved in `blocks` blocks so drift on a shared machine hits them alike; block -1
 * (warm-up: JIT, caches, ARP) is not counted. Each case's reactor listens only during its own
 * blocks, so that no idle reactor wakes on the others' events. With `cpuStress`, one busy child
 * process per CPU runs during the whole measurement (as the paper's stressed variant).
 *
 * Contract: needs root, network namespaces, kernel MPTCP, tcpdump and python3 with MPTCP sockets
 * (`pmLatencySkipReason()` says which is missing). Every namespace, child and file it makes is
 * removed before `measurePmLatency` returns or throws.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Netns, netnsAvailable, run } from './netns.js';
import { joinDelaysFromCapture } from './pm-latency-capture.js';
import { type CaseReactor, makeReactor } from './pm-latency-cases.js';
import { buildLab, CLIENT_ADDRS, type Lab, SERVER_ADDRS, setPathManager } from './pm-latency-lab.js';

export type PmLatencyCase =
  | 'kernel'
  | 'userspace'
  | 'userspace-rt'
  | 'worker'
  | 'worker-rt'
  | 'fullmesh'
  | 'fullmesh-rt'
  | 'fullmesh-js'
  | 'mptcpd';

export const PM_LATENCY_LABELS: Record<PmLatencyCase, string> = {
  kernel: 'in-kernel PM (subflow endpoint)',
  userspace: 'our userspace PM (MptcpPmClient, event loop)',
  'userspace-rt': 'our userspace PM (MptcpPmClient, event loop, SCHED_FIFO)',
  worker: 'our userspace PM (worker thread, blocking poll)',
  'worker-rt': 'our userspace PM (worker thread, blocking poll, SCHED_FIFO)',
  fullmesh: 'mptcp pm run fullmesh --no-realtime (the daemon, native reflex thread, normal scheduling)',
  'fullmesh-rt': 'mptcp pm run fullmesh (the daemon as it runs by default: native reflex thread, SCHED_FIFO)',
  'fullmesh-js': 'mptcp pm run fullmesh --no-native-reflex (the reflex from JS, SCHED_FIFO)',
  mptcpd: 'mptcpd 0.12 sspi (userspace PM)',
};

/** The cases a default run measures (mptcpd only on request: it makes no join here). */
export const DEFAULT_PM_LATENCY_CASES: readonly PmLatencyCase[] = [
  'kernel',
  'userspace',
  'userspace-rt',
  'worker',
  'worker-rt',
  'fullmesh',
  'fullmesh-rt',
  'fullmesh-js',
];

/** The paper's numbers (seed 003 §4.5): userspace PM minus in-kernel PM, mean SYN→SYN delay. */
export const PAPER_EXTRA_US = 23;
export const PAPER_EXTRA_STRESSED_US = 37;
/** Issue #7's goal: our median at most this much above the in-kernel PM's. */
export const GOAL_EXTRA_US = 50;

export const DEFAULT_BLOCKS = 8;
/** Connections per case in the uncounted warm-up block. */
export const DEFAULT_WARMUP_CONNECTIONS = 30;
/** Connections tried with mptcpd before deciding whether it can make a second subflow at all. */
const MPTCPD_PROBE_CONNECTIONS = 5;
/** Why mptcpd 0.12 (Debian) opens no second subflow here; reported when the probe confirms it. */
const MPTCPD_NOTE =
  'not run: Debian mptcpd 0.12 ships only the sspi and addr_adv plugins. sspi never creates a subflow ' +
  'itself: on a new connection it can only announce (ADD_ADDR) the other interfaces, leaving the join to ' +
  'the peer, and here it announced nothing (ip mptcp monitor in the server namespace saw no ANNOUNCED; ' +
  "mptcpd logs 'sspi_connection_established is unimplemented'). addr_adv only adds in-kernel PM " +
  'endpoints, so with it the join is made by the in-kernel PM (the first row)';
/** How long the server waits for the second subflow before giving up on a connection (s). */
const JOIN_WAIT_S = 2;
/** Pause between connections (s): lets the previous one's teardown finish. */
const PAUSE_S = 0.003;
const TCPDUMP_START_TIMEOUT_MS = 10_000;
/** Wait after tcpdump says it listens, and before stopping it (packets in flight in its ring). */
const CAPTURE_SETTLE_MS = 200;
const CAPTURE_DRAIN_MS = 300;
const MPTCPD_START_WAIT_MS = 1000;
/**
 * Server: for each connection, read the request, answer "ok\n", then wait (polling MPTCP_INFO,
 * SOL_MPTCP 284 / MPTCP_INFO 1, first byte = mptcpi_subflows) until the join has been accepted and
 * tell the client with one byte, "J" (joined) or "N" (timeout); then read to EOF.
 * The server decides because on the client mptcpi_subflows counts a subflow before its SYN is
 * sent: a client closing on that signal can race the path manager.
 */
const PY_SERVER = `
import socket, sys, time
wait = float(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    try:
        c.recv(100); c.sendall(b"ok\\n")
        end = time.monotonic() + wait
        while c.getsockopt(284, 1, 8)[0] < 1 and time.monotonic() < end:
            time.sleep(0.002)
        c.sendall(b"J" if c.getsockopt(284, 1, 8)[0] >= 1 else b"N")
        while c.recv(4096): pass
    except OSError: pass
    c.close()
`;

/** argv: host port count pause. One connection at a time; prints "<joined> <not joined>". */
const PY_CLIENT = `
import socket, sys, time
host, port, n, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ok = bad = 0
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
    s.connect((host, port)); s.sendall(b"GET\\n")
    got = b""
    while len(got) < 4:
        d = s.recv(100)
        if not d: break
        got += d
    if got.endswith(b"J"): ok += 1
    else: bad += 1
    s.close(); time.sleep(pause)
print(ok, bad, flush=True)
`;

/** A process burning one CPU (the CPU-stress variant). */
const BUSY_LOOP_JS = 'for(;;){}';

export interface PmLatencyOptions {
  /** Counted connections per case (split over the blocks). */
  connectionsPerCase: number;
  blocks?: number;
  warmupConnections?: number;
  /** Cases to run, in this order inside each block (default DEFAULT_PM_LATENCY_CASES). */
  cases?: readonly PmLatencyCase[];
  /** Run one busy process per CPU during the measurement. */
  cpuStress?: boolean;
  /** Keep the pcap files (their folder is returned in `captureDir`). */
  keepCaptures?: boolean;
  /**
   * Other userspace path managers to measure under the same conditions, interleaved with the
   * cases (after them in each block): e.g. another build of this one, for an A/B comparison.
   */
  customCases?: readonly PmLatencyCustomCase[];
  progress?: (fraction: number, label: string) => void;
}

/** Where a custom case's path manager runs and what it should do. */
export interface PmLatencyTarget {
  /** Network namespace of the client (open netlink sockets inside it, e.g. with withNetns). */
  clientNetns: string;
  /** The local address to open the second subflow from (SUBFLOW_CREATE's local address). */
  local: { addr: string; id: number; ifindex: number };
}

/** A path manager measured like the built-in userspace cases (path_manager=userspace). */
export interface PmLatencyCustomCase {
  id: string;
  label: string;
  /** Starts listening (called before each of its blocks). */
  start(target: PmLatencyTarget): Promise<void>;
  /** Stops listening; returns notes (errors…). */
  stop(): Promise<string[]>;
}

export interface PmLatencyCaseResult {
  /** A PmLatencyCase, or a custom case's id. */
  id: string;
  label: string;
  /** Per joined connection: initial SYN → join SYN (µs). */
  delaysUs: number[];
  /** Per joined connection: the segment that fully establishes the connection → join SYN (µs). */
  reactionUs: number[];
  /** Connections the server saw joined / not joined within JOIN_WAIT_S. */
  joinedByServer: number;
  notJoined: number;
  /** Initial SYNs in the capture without a join SYN. */
  unmatched: number;
  notes: string[];
}

export interface PmLatencyRun {
  cpuStress: boolean;
  connectionsPerCase: number;
  cases: PmLatencyCaseResult[];
  captureDir?: string;
}

/** Why the measurement cannot run here, or false. */
export function pmLatencySkipReason(): string | false {
  const ns = netnsAvailable();
  if (!ns.ok) return ns.reason;
  if (run('sysctl', ['-n', 'net.mptcp.enabled']).code !== 0) return 'kernel without MPTCP';
  if (run('tcpdump', ['--version']).code !== 0) return 'tcpdump is not installed';
  if (
    run('python3', ['-c', 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)']).code !== 0
  )
    return 'python3 with IPPROTO_MPTCP sockets is not available';
  return false;
}
/** Starts tcpdump (TCP headers) in `ns` writing `file`; resolves once it is capturing. */
function startCapture(ns: Netns, file: string): Promise<ChildProcess> {
  const args = ['-i', 'any', '-n', '-U', '--immediate-mode', '-Z', 'root', '-s', '200'];
  args.push('--time-stamp-precision=nano', '-w', file, 'tcp');
  const child = ns.spawn('tcpdump', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tcpdump did not start: ${err}`));
    }, TCPDUMP_START_TIMEOUT_MS);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited (${code}): ${err.trim()}`));
    });
  });
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  await exited;
}

function startServer(ns: Netns): Promise<{ child: ChildProcess; port: number }> {
  const child = ns.spawn('python3', ['-c', PY_SERVER, String(JOIN_WAIT_S)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ child, port: Number.parseInt(out, 10) });
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${err.trim()}`)));
  });
}

/** mptcpd in the client namespace with the userspace PM; resolves once it runs (or rejects). */
async function startMptcpd(ns: Netns): Promise<ChildProcess> {
  const child = ns.spawn(
    '/usr/libexec/mptcpd',
    [
      '--log=stderr',
      '--plugin-dir=/usr/lib/x86_64-linux-gnu/mptcpd',
      '--load-plugins=sspi',
      '--path-manager=sspi',
      '--notify-flags=existing,skip_link_local,skip_loopback',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  child.on('error', (e) => {
    err += String(e);
  });
  await new Promise((r) => setTimeout(r, MPTCPD_START_WAIT_MS));
  if (child.exitCode !== null)
    throw new Error(`mptcpd exited (${child.exitCode}): ${err.trim().slice(0, 200)}`);
  return child;
}

interface BlockResult {
  delaysUs: number[];
  reactionUs: number[];
  joined: number;
  notJoined: number;
  unmatched: number;
}

async function runBlock(lab: Lab, port: number, count: number, file: string): Promise<BlockResult> {
  const tcpdump = await startCapture(lab.server, file);
  await new Promise((res) => setTimeout(res, CAPTURE_SETTLE_MS));
  let joined = 0;
  let notJoined = count;
  try {
    const r = await lab.client.execAsync(
      'python3',
      ['-c', PY_CLIENT, SERVER_ADDRS[0], String(port), String(count), String(PAUSE_S)],
      count * (JOIN_WAIT_S + 1) * 1000,
    );
    if (r.code !== 0) throw new Error(`client failed: ${r.stderr.trim()}`);
    [joined, notJoined] = r.stdout.trim().split(/\s+/).map(Number) as [number, number];
    // Let tcpdump write the last packets before it is stopped.
    await new Promise((res) => setTimeout(res, CAPTURE_DRAIN_MS));
  } finally {
    await stopChild(tcpdump, 'SIGINT');
  }
  // A plain Uint8Array (not a Buffer): the decoders it shares with the path managers (formatIpv4)
  // then see one object shape, and keep the optimized code the reaction path runs.
  return { ...joinDelaysFromCapture(new Uint8Array(readFileSync(file))), joined, notJoined };
}

function startStress(): ChildProcess[] {
  const out: ChildProcess[] = [];
  for (let i = 0; i < availableParallelism(); i++)
    out.push(spawn(process.execPath, ['-e', BUSY_LOOP_JS], { stdio: 'ignore' }));
  return out;
}

function emptyResult(id: string, label: string): PmLatencyCaseResult {
  return {
    id,
    label,
    delaysUs: [],
    reactionUs: [],
    joinedByServer: 0,
    notJoined: 0,
    unmatched: 0,
    notes: [],
  };
}

function addBlock(acc: PmLatencyCaseResult, r: BlockResult): void {
  acc.delaysUs.push(...r.delaysUs);
  acc.reactionUs.push(...r.reactionUs);
  acc.joinedByServer += r.joined;
  acc.notJoined += r.notJoined;
  acc.unmatched += r.unmatched;
}

/** Runs the measurement (root + netns; see pmLatencySkipReason). */
export async function measurePmLatency(o: PmLatencyOptions): Promise<PmLatencyRun> {
  const cases = o.cases ?? DEFAULT_PM_LATENCY_CASES;
  const blocks = Math.max(1, o.blocks ?? DEFAULT_BLOCKS);
  const warmup = o.warmupConnections ?? DEFAULT_WARMUP_CONNECTIONS;
  const perBlock = Math.max(1, Math.ceil(o.connectionsPerCase / blocks));
  const progress = o.progress ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'mptcp-pm-latency-'));
  const lab = buildLab();
  const results = new Map<string, PmLatencyCaseResult>();
  const reactors = new Map<string, CaseReactor>();
  let server: ChildProcess | undefined;
  let stress: ChildProcess[] = [];
  try {
    const started = await startServer(lab.server);
    server = started.child;
    const looped: string[] = [];
    for (const id of cases) {
      if (id === 'mptcpd') continue;
      looped.push(id);
      results.set(id, emptyResult(id, PM_LATENCY_LABELS[id]));
      reactors.set(id, await makeReactor(lab, id));
    }
    const target: PmLatencyTarget = {
      clientNetns: lab.client.name,
      local: { addr: CLIENT_ADDRS[1], id: 2, ifindex: lab.client2Ifindex },
    };
    for (const c of o.customCases ?? []) {
      if (results.has(c.id)) throw new Error(`pm-latency: case id '${c.id}' used twice`);
      looped.push(c.id);
      results.set(c.id, emptyResult(c.id, c.label));
      reactors.set(c.id, { start: () => c.start(target), stop: () => c.stop(), close: async () => {} });
    }
    if (o.cpuStress) stress = startStress();
    const steps = (blocks + 1) * looped.length + (cases.includes('mptcpd') ? 1 : 0);
    let step = 0;
    for (let b = -1; b < blocks; b++) {
      const count = b < 0 ? warmup : perBlock;
      if (count === 0) continue;
      for (const id of looped) {
        progress(step++ / steps, `${b < 0 ? 'warm-up' : `block ${b + 1}/${blocks}`}: ${id}`);
        const reactor = reactors.get(id)!;
        if (id !== 'kernel') setPathManager(lab.client, true);
        await reactor.start();
        let r: BlockResult;
        try {
          r = await runBlock(lab, started.port, count, join(dir, `${id}-${b}.pcap`));
        } finally {
          const notes = await reactor.stop();
          if (b === blocks - 1) results.get(id)!.notes.push(...notes);
        }
        if (b >= 0) addBlock(results.get(id)!, r);
      }
    }
    if (cases.includes('mptcpd')) {
      progress(step / steps, 'mptcpd');
      results.set('mptcpd', await measureMptcpd(lab, started.port, blocks, perBlock, dir));
    }
  } finally {
    for (const c of stress) c.kill('SIGKILL');
    for (const r of reactors.values()) await r.close().catch(() => undefined);
    if (server) await stopChild(server, 'SIGKILL');
    lab.client.delete();
    lab.server.delete();
    if (!o.keepCaptures) rmSync(dir, { recursive: true, force: true });
  }
  const out: PmLatencyRun = {
    cpuStress: o.cpuStress ?? false,
    connectionsPerCase: perBlock * blocks,
    cases: [...cases, ...(o.customCases ?? []).map((c) => c.id)].map(
      (id) => results.get(id) ?? emptyResult(id, PM_LATENCY_LABELS[id as PmLatencyCase] ?? id),
    ),
  };
  if (o.keepCaptures) out.captureDir = dir;
  return out;
}

/** mptcpd (userspace PM, sspi plugin): a short probe first; the full count only if it joins. */
async function measureMptcpd(
  lab: Lab,
  port: number,
  blocks: number,
  perBlock: number,
  dir: string,
): Promise<PmLatencyCaseResult> {
  const acc = emptyResult('mptcpd', PM_LATENCY_LABELS.mptcpd);
  setPathManager(lab.client, true);
  let mptcpd: ChildProcess | undefined;
  try {
    mptcpd = await startMptcpd(lab.client);
    const probe = await runBlock(lab, port, MPTCPD_PROBE_CONNECTIONS, join(dir, 'mptcpd-probe.pcap'));
    if (probe.joined === 0) {
      acc.notJoined = probe.notJoined;
      acc.unmatched = probe.unmatched;
      acc.notes.push(`${MPTCPD_NOTE} (probe: 0 of ${MPTCPD_PROBE_CONNECTIONS} connections joined)`);
    } else {
      for (let b = 0; b < blocks; b++)
        addBlock(acc, await runBlock(lab, port, perBlock, join(dir, `mptcpd-${b}.pcap`)));
    }
  } catch (err) {
    acc.notes.push(String(err));
  } finally {
    if (mptcpd) await stopChild(mptcpd);
  }
  return acc;
}
