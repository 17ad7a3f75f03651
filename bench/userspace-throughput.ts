/**
 * Userspace MPTCP vs plain Node TCP, Node → Node on loopback, sender (child process) and receiver (this
 * process). Every case runs the same code: the child writes 1 GiB × scale of a deterministic pattern in
 * 256 KiB writes honouring backpressure; the receiver counts the bytes and checks every one against the
 * pattern (bench/userspace-pattern.ts), timing from the accepted connection to 'end'.
 * Each case also gets a steady-state row: MB/s after the first quarter of the bytes, which leaves out
 * the JIT warm-up of both processes and the windows' ramp (long-lived connections run warm).
 * Cases: plain TCP (`net`), userspace MPTCP with 1 subflow, with 2 subflows (server on two ports, the
 * client with a path to each). Each runs RUNS times, interleaved; the best run counts. Ratios are
 * against plain TCP.
 * Also: heap bytes per idle 2-subflow connection over HEAP_CONNECTIONS connections (client and server
 * in one child process run with --expose-gc; see bench/userspace-heap-child.ts).
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createServer } from '../src/node/index.js';
import type { Benchmark, BenchOptions, BenchRow } from './types.js';
import { PatternVerifier } from './userspace-pattern.js';

const NAME = 'userspace-throughput';
const TRANSFER_BYTES = 1024 * 1024 * 1024;
const RUNS = 3;
const HEAP_CONNECTIONS = 1000;
/** The steady-state rows time each transfer after this fraction of its bytes. */
const WARMUP_FRACTION = 0.25;
const CHILD = fileURLToPath(new URL('./userspace-throughput-child.js', import.meta.url));
const HEAP_CHILD = fileURLToPath(new URL('./userspace-heap-child.js', import.meta.url));

export interface ThroughputCase {
  name: string;
  mode: 'tcp' | 'mptcp';
  subflows: number;
}

export const CASES: ThroughputCase[] = [
  { name: 'plain TCP (net)', mode: 'tcp', subflows: 1 },
  { name: 'userspace MPTCP, 1 subflow', mode: 'mptcp', subflows: 1 },
  { name: 'userspace MPTCP, 2 subflows', mode: 'mptcp', subflows: 2 },
];

interface Listening {
  ports: number[];
  close(): void;
}

function listen(c: ThroughputCase, onSocket: (s: Duplex) => void): Promise<Listening> {
  return new Promise((resolve, reject) => {
    if (c.mode === 'tcp') {
      const server = net.createServer(onSocket);
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () =>
        resolve({ ports: [(server.address() as net.AddressInfo).port], close: () => server.close() }),
      );
      return;
    }
    const server = createServer({}, onSocket);
    server.on('error', reject);
    const addrs = Array.from({ length: c.subflows }, () => ({ port: 0, host: '127.0.0.1' }));
    server.listen(addrs, () =>
      resolve({ ports: server.addresses().map((a) => a.port), close: () => server.close() }),
    );
  });
}

export interface CaseResult {
  /** MB/s (10^6 bytes per second) over the whole transfer, from the accepted connection to 'end'. */
  mbPerS: number;
  /** MB/s after the first WARMUP_FRACTION of the bytes (JIT warm-up and window ramp left out). */
  steadyMbPerS: number;
}

/** One transfer of `bytes`. `childExecArgv` go to the sender's node. */
export async function runCase(
  c: ThroughputCase,
  bytes: number,
  childExecArgv: string[] = [],
): Promise<CaseResult> {
  let startedAt = 0;
  let markAt = 0;
  let markBytes = 0;
  const warmBytes = Math.floor(bytes * WARMUP_FRACTION);
  let settle: { resolve: (r: CaseResult) => void; reject: (e: Error) => void } | undefined;
  const done = new Promise<CaseResult>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const server = await listen(c, (sock) => {
    startedAt = performance.now();
    const verifier = new PatternVerifier();
    sock.on('data', (d: Buffer) => {
      verifier.push(d);
      if (markAt === 0 && verifier.received >= warmBytes) {
        markAt = performance.now();
        markBytes = verifier.received;
      }
    });
    sock.on('end', () => {
      const now = performance.now();
      if (verifier.received !== bytes)
        settle!.reject(new Error(`received ${verifier.received} of ${bytes} bytes`));
      else if (verifier.mismatchAt !== undefined)
        settle!.reject(new Error(`data differs at byte ${verifier.mismatchAt}`));
      else
        settle!.resolve({
          mbPerS: bytes / 1e6 / ((now - startedAt) / 1000),
          steadyMbPerS: (bytes - markBytes) / 1e6 / ((now - markAt) / 1000),
        });
      sock.end();
    });
    sock.on('error', (err) => settle!.reject(err));
  });
  const child = spawn(
    process.execPath,
    [...childExecArgv, CHILD, c.mode, String(bytes), server.ports.join(',')],
    { stdio: 'inherit' },
  );
  child.on('exit', (code) => {
    if (code !== 0) settle!.reject(new Error(`sender exited with ${code}`));
  });
  try {
    return await done;
  } finally {
    server.close();
    await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
  }
}

/** Heap bytes per idle 2-subflow connection (client + server), from a child run with --expose-gc. */
export function measureHeap(count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', HEAP_CHILD, String(count)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`heap child exited with ${code}`));
      try {
        resolve((JSON.parse(out) as { bytesPerConnection: number }).bytesPerConnection);
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

const bench: Benchmark = {
  name: NAME,
  description:
    'userspace MPTCP (1 and 2 subflows) vs plain Node TCP, two processes over loopback; heap per connection',
  async run(options: BenchOptions): Promise<BenchRow[]> {
    const bytes = Math.max(1024 * 1024, Math.round(TRANSFER_BYTES * options.scale));
    const best = CASES.map(() => 0);
    const steady = CASES.map(() => 0);
    for (let r = 0; r < RUNS; r++) {
      for (const [i, c] of CASES.entries()) {
        const res = await runCase(c, bytes);
        best[i] = Math.max(best[i]!, res.mbPerS);
        steady[i] = Math.max(steady[i]!, res.steadyMbPerS);
      }
    }
    const note = `${(bytes / 1024 / 1024).toFixed(0)} MiB, verified, best of ${RUNS}`;
    const rows: BenchRow[] = CASES.map((c, i) => ({
      bench: NAME,
      case: c.name,
      value: best[i]!,
      unit: 'MB/s',
      ratio: best[i]! / best[0]!,
      note,
    }));
    for (const [i, c] of CASES.entries()) {
      rows.push({
        bench: NAME,
        case: `${c.name}, steady state`,
        value: steady[i]!,
        unit: 'MB/s',
        ratio: steady[i]! / steady[0]!,
        note: `same runs, after the first ${WARMUP_FRACTION * 100}% of the bytes`,
      });
    }
    try {
      const perConn = await measureHeap(HEAP_CONNECTIONS);
      rows.push({
        bench: NAME,
        case: 'heap per idle 2-subflow connection',
        value: perConn,
        unit: 'bytes',
        note: `client + server heapUsed delta / ${HEAP_CONNECTIONS}`,
      });
    } catch (err) {
      rows.push({
        bench: NAME,
        case: 'heap per idle 2-subflow connection',
        value: Number.NaN,
        unit: 'bytes',
        note: String(err),
      });
    }
    return rows;
  },
};

export default bench;
