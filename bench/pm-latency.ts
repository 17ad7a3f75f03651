/**
 * Path-manager reaction time (seed 003 §4.5): the delay between a connection's initial SYN
 * (MP_CAPABLE) and its second subflow's SYN (MP_JOIN), as seen on the server, for
 * - the in-kernel PM (a `subflow` endpoint on the client's second interface),
 * - our userspace PM: net.mptcp.path_manager=userspace and this Node process reacting to each
 *   `established` event (the earliest moment the kernel accepts SUBFLOW_CREATE) with
 *   MptcpPmClient.subflowCreate,
 * - mptcpd 0.12 (Debian), where it can make a second subflow (see MPTCPD_NOTE).
 *
 * Topology: client and server namespaces joined by two veth pairs (10.215.0.0/24, 10.215.1.0/24);
 * the client's second address routes out of its second interface (policy rule), so the join goes
 * over path 2 to the server address of path 1 (the only address the server's connection knows).
 * Client: python3 with IPPROTO_MPTCP, one connection at a time: connect, send a request, read the
 * reply (that makes the connection fully established), wait until MPTCP_INFO counts a second
 * subflow, close. Server: python3, reads the request, answers, reads to EOF.
 * Timestamps: tcpdump -i any in the server namespace, SYNs only, nanosecond pcap (read with
 * src/pcap, microsecond resolution). A join is matched to its connection by token: the join SYN's
 * token is SHA-256(server key)[0..4), the key being in the server's MP_CAPABLE SYN/ACK.
 * Cases run interleaved in BLOCKS blocks so drift on a shared machine hits them alike.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenOfKey } from '../src/crypto/keys.js';
import { addAddress, ip, Netns, netnsAvailable, run, sysctl, vethPair, withNetns } from '../src/lab/netns.js';
import { MptcpPmClient } from '../src/netlink/mptcp-pm-client.js';
import type { KernelPmEvent } from '../src/netlink/mptcp-pm-events.js';
import { readTcpSegments } from '../src/pcap/segments.js';
import { mptcpOptionsOf } from '../src/wire/tcp-options.js';
import type { Benchmark, BenchOptions, BenchRow } from './types.js';

const NAME = 'pm-latency';
/** Connections per case at scale 1 (and the minimum at any scale). */
const CONNECTIONS = 200;
const BLOCKS = 4;
const CLIENT_ADDRS = ['10.215.0.1', '10.215.1.1'];
const SERVER_ADDRS = ['10.215.0.2', '10.215.1.2'];
/** Routing table of the client's second address. */
const PATH2_TABLE = 102;
/** How long the client waits for the second subflow before giving up on a connection (s). */
const JOIN_WAIT_S = 2;
/** Pause between connections (s): lets the previous one's teardown finish. */
const PAUSE_S = 0.003;
const TCPDUMP_START_TIMEOUT_MS = 10_000;
const GOAL_EXTRA_US = 50;

const PY_SERVER = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    try:
        c.recv(100); c.sendall(b"ok\\n")
        while c.recv(4096): pass
    except OSError: pass
    c.close()
`;

/** argv: host port count pause join_wait. Prints "<joined> <failed>". */
const PY_CLIENT = `
import socket, sys, time
host, port, n, pause, wait = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
ok = bad = 0
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
    s.connect((host, port)); s.sendall(b"GET\\n"); s.recv(100)
    end = time.monotonic() + wait
    while True:
        if s.getsockopt(284, 1, 8)[0] >= 1: ok += 1; break
        if time.monotonic() > end: bad += 1; break
        time.sleep(0.0005)
    s.close(); time.sleep(pause)
print(ok, bad, flush=True)
`;

type CaseId = 'kernel' | 'userspace' | 'mptcpd';

interface CaseResult {
  delaysUs: number[];
  joinedByClient: number;
  failed: number;
  unmatched: number;
  note?: string;
}

export interface JoinDelays {
  delaysUs: number[];
  /** MP_CAPABLE SYNs whose connection got no MP_JOIN SYN in the capture. */
  unmatched: number;
}

/** From a capture of SYNs and SYN/ACKs: per connection, join SYN time − initial SYN time (µs). */
export function joinDelaysFromCapture(buf: Uint8Array): JoinDelays {
  const initialSyn = new Map<string, number>(); // 4-tuple → time of the MP_CAPABLE SYN
  const tokenToTuple = new Map<number, string>();
  const joinAt = new Map<number, number>(); // token → time of the first MP_JOIN SYN
  for (const seg of readTcpSegments(buf).segments) {
    if (!seg.tcp.syn) continue;
    const tuple = `${seg.src}:${seg.srcPort}>${seg.dst}:${seg.dstPort}`;
    for (const o of mptcpOptionsOf(seg.tcp.options)) {
      if (o.kind === 'mp_capable' && !seg.tcp.ackFlag && !initialSyn.has(tuple)) {
        initialSyn.set(tuple, seg.tsMicros);
      } else if (o.kind === 'mp_capable' && seg.tcp.ackFlag && o.senderKey !== undefined) {
        // Server's SYN/ACK: its key names the connection's token (tuple seen from the client).
        tokenToTuple.set(tokenOfKey(o.senderKey), `${seg.dst}:${seg.dstPort}>${seg.src}:${seg.srcPort}`);
      } else if (o.kind === 'mp_join' && o.form === 'syn' && !seg.tcp.ackFlag && !joinAt.has(o.token)) {
        joinAt.set(o.token, seg.tsMicros);
      }
    }
  }
  const delaysUs: number[] = [];
  const joined = new Set<string>();
  for (const [token, t] of joinAt) {
    const tuple = tokenToTuple.get(token);
    const t0 = tuple === undefined ? undefined : initialSyn.get(tuple);
    if (t0 === undefined || tuple === undefined) continue;
    delaysUs.push(t - t0);
    joined.add(tuple);
  }
  return { delaysUs, unmatched: initialSyn.size - joined.size };
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function skipReason(): string | false {
  const ns = netnsAvailable();
  if (!ns.ok) return ns.reason;
  if (run('sysctl', ['-n', 'net.mptcp.enabled']).code !== 0) return 'kernel without MPTCP';
  if (run('tcpdump', ['--version']).code !== 0) return 'tcpdump is not installed';
  if (run('python3', ['-c', 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)']).code !== 0)
    return 'python3 with IPPROTO_MPTCP sockets is not available';
  return false;
}

interface Lab {
  client: Netns;
  server: Netns;
  client2Ifindex: number;
}

function buildLab(): Lab {
  const client = Netns.create('mptcp-pml-c');
  const server = Netns.create('mptcp-pml-s');
  for (let i = 0; i < 2; i++) {
    vethPair(client, `c${i}`, server, `s${i}`);
    addAddress(client, `c${i}`, `${CLIENT_ADDRS[i]}/24`);
    addAddress(server, `s${i}`, `${SERVER_ADDRS[i]}/24`);
  }
  // The second address leaves through the second interface whatever the destination.
  ip(client, ['rule', 'add', 'from', CLIENT_ADDRS[1]!, 'table', String(PATH2_TABLE)]);
  ip(client, ['route', 'add', 'default', 'dev', 'c1', 'table', String(PATH2_TABLE)]);
  ip(server, ['mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
  ip(client, ['mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
  const link = JSON.parse(ip(client, ['-j', 'link', 'show', 'c1'])) as Array<{ ifindex: number }>;
  return { client, server, client2Ifindex: link[0]!.ifindex };
}

function setPathManager(ns: Netns, userspace: boolean): void {
  const r = ns.exec('sysctl', ['-qw', `net.mptcp.path_manager=${userspace ? 'userspace' : 'kernel'}`]);
  if (r.code !== 0) sysctl(ns, 'net.mptcp.pm_type', userspace ? 1 : 0);
}

/** Starts tcpdump (SYNs only) in `ns` writing `file`; resolves once it is capturing. */
function startCapture(ns: Netns, file: string): Promise<ChildProcess> {
  const child = ns.spawn(
    'tcpdump',
    [
      '-i',
      'any',
      '-n',
      '-U',
      '-Z',
      'root',
      '-s',
      '200',
      '--time-stamp-precision=nano',
      '-w',
      file,
      'tcp[tcpflags] & tcp-syn != 0',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), TCPDUMP_START_TIMEOUT_MS);
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
  const child = ns.spawn('python3', ['-c', PY_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  await new Promise((r) => setTimeout(r, 1000));
  if (child.exitCode !== null) throw new Error(`mptcpd exited (${child.exitCode}): ${err.trim().slice(0, 200)}`);
  return child;
}

async function runBlock(lab: Lab, port: number, count: number, dir: string, tag: string): Promise<CaseResult> {
  const file = join(dir, `${tag}.pcap`);
  const tcpdump = await startCapture(lab.server, file);
  let joinedByClient = 0;
  let failed = count;
  try {
    const r = await lab.client.execAsync(
      'python3',
      ['-c', PY_CLIENT, SERVER_ADDRS[0]!, String(port), String(count), String(PAUSE_S), String(JOIN_WAIT_S)],
      count * (JOIN_WAIT_S + 1) * 1000,
    );
    if (r.code !== 0) throw new Error(`client failed: ${r.stderr.trim()}`);
    [joinedByClient, failed] = r.stdout.trim().split(/\s+/).map(Number) as [number, number];
    // Let tcpdump write the last packets (-U flushes per packet).
    await new Promise((res) => setTimeout(res, 100));
  } finally {
    await stopChild(tcpdump, 'SIGINT');
  }
  const { delaysUs, unmatched } = joinDelaysFromCapture(readFileSync(file));
  return { delaysUs, joinedByClient, failed, unmatched };
}

const bench: Benchmark = {
  name: NAME,
  description: 'delay between the initial SYN and the second subflow SYN: in-kernel PM vs our userspace PM vs mptcpd',
  async run(options: BenchOptions): Promise<BenchRow[]> {
    const skip = skipReason();
    if (skip) return [{ bench: NAME, case: 'unavailable', value: Number.NaN, unit: 'µs', note: skip }];
    const perCase = Math.max(CONNECTIONS, Math.round(CONNECTIONS * options.scale));
    const perBlock = Math.ceil(perCase / BLOCKS);
    const dir = mkdtempSync(join(tmpdir(), 'mptcp-pm-latency-'));
    const lab = buildLab();
    let server: ChildProcess | undefined;
    let pm: MptcpPmClient | undefined;
    const results = new Map<CaseId, CaseResult>();
    const add = (id: CaseId, r: CaseResult) => {
      const acc = results.get(id) ?? { delaysUs: [], joinedByClient: 0, failed: 0, unmatched: 0 };
      acc.delaysUs.push(...r.delaysUs);
      acc.joinedByClient += r.joinedByClient;
      acc.failed += r.failed;
      acc.unmatched += r.unmatched;
      if (r.note) acc.note = r.note;
      results.set(id, acc);
    };
    try {
      const started = await startServer(lab.server);
      server = started.child;
      // Our userspace PM: react to `established` with SUBFLOW_CREATE on the second path.
      pm = await withNetns(lab.client, () => MptcpPmClient.open());
      const client = pm;
      let reacting = false;
      let pmErrors = 0;
      let lastPmError = '';
      const sub = client.subscribeEvents();
      sub.on('event', (ev: KernelPmEvent) => {
        if (!reacting || ev.type !== 'established' || ev.serverSide) return;
        client
          .subflowCreate(
            ev.token,
            { addr: CLIENT_ADDRS[1]!, id: 2, ifindex: lab.client2Ifindex },
            { addr: ev.daddr, port: ev.dport },
          )
          .catch((err: unknown) => {
            pmErrors++;
            lastPmError = String(err);
          });
      });
      sub.on('error', () => {
        pmErrors++;
      });

      for (let b = 0; b < BLOCKS; b++) {
        // In-kernel PM: a subflow endpoint on the second interface.
        setPathManager(lab.client, false);
        ip(lab.client, ['mptcp', 'endpoint', 'flush']);
        ip(lab.client, ['mptcp', 'endpoint', 'add', CLIENT_ADDRS[1]!, 'dev', 'c1', 'subflow']);
        add('kernel', await runBlock(lab, started.port, perBlock, dir, `kernel-${b}`));
        ip(lab.client, ['mptcp', 'endpoint', 'flush']);

        // Userspace PM driven by this process.
        setPathManager(lab.client, true);
        reacting = true;
        try {
          const r = await runBlock(lab, started.port, perBlock, dir, `userspace-${b}`);
          if (pmErrors > 0) r.note = `${pmErrors} SUBFLOW_CREATE errors, last: ${lastPmError}`;
          add('userspace', r);
        } finally {
          reacting = false;
        }
      }

      // mptcpd (userspace PM, sspi plugin), one block per BLOCKS-sized run, if it runs at all.
      setPathManager(lab.client, true);
      let mptcpd: ChildProcess | undefined;
      try {
        mptcpd = await startMptcpd(lab.client);
        const r = await runBlock(lab, started.port, perBlock, dir, 'mptcpd');
        add('mptcpd', r);
      } catch (err) {
        add('mptcpd', { delaysUs: [], joinedByClient: 0, failed: 0, unmatched: 0, note: String(err) });
      } finally {
        if (mptcpd) await stopChild(mptcpd);
      }
    } finally {
      await pm?.close();
      if (server) await stopChild(server, 'SIGKILL');
      lab.client.delete();
      lab.server.delete();
      rmSync(dir, { recursive: true, force: true });
    }
    return rowsFrom(results);
  },
};

const LABELS: Record<CaseId, string> = {
  kernel: 'in-kernel PM (subflow endpoint)',
  userspace: 'our userspace PM (Node, on established)',
  mptcpd: 'mptcpd 0.12 sspi (userspace PM)',
};

function rowsFrom(results: Map<CaseId, CaseResult>): BenchRow[] {
  const rows: BenchRow[] = [];
  const stats = new Map<CaseId, { median: number; p99: number; mean: number }>();
  for (const [id, r] of results) {
    const sorted = [...r.delaysUs].sort((a, b) => a - b);
    stats.set(id, { median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), mean: mean(sorted) });
  }
  const kernel = stats.get('kernel');
  for (const [id, r] of results) {
    const s = stats.get(id)!;
    const base = `n=${r.delaysUs.length}, mean ${s.mean.toFixed(1)} µs, client saw ${r.joinedByClient} joins, ${r.failed} without, ${r.unmatched} unmatched in capture`;
    const note = r.note ? `${base}; ${r.note}` : base;
    if (r.delaysUs.length === 0) {
      rows.push({ bench: NAME, case: `${LABELS[id]}: not run`, value: Number.NaN, unit: 'µs', note });
      continue;
    }
    rows.push({
      bench: NAME,
      case: `${LABELS[id]}: median`,
      value: s.median,
      unit: 'µs',
      ratio: kernel ? s.median / kernel.median : undefined,
      note,
    });
    rows.push({ bench: NAME, case: `${LABELS[id]}: p99`, value: s.p99, unit: 'µs' });
    if (kernel && id !== 'kernel') {
      const diff = s.median - kernel.median;
      rows.push({
        bench: NAME,
        case: `${LABELS[id]}: median − in-kernel median`,
        value: diff,
        unit: 'µs',
        note: `mean difference ${(s.mean - kernel.mean).toFixed(1)} µs (paper: +23 µs mean)${
          id === 'userspace' ? `; goal ≤ +${GOAL_EXTRA_US} µs: ${diff <= GOAL_EXTRA_US ? 'met' : 'NOT met'}` : ''
        }`,
      });
    }
  }
  return rows;
}

export default bench;
