/**
 * Kernel MPTCP vs plain TCP, Node → Node on loopback, sender and receiver in two processes.
 * Both protocols use exactly the same code (src/kernel connect/createServer); only the protocol differs
 * (`mptcp: false` → IPPROTO_TCP, `'require'` → IPPROTO_MPTCP with one subflow on loopback).
 * Two buffer settings: kernel defaults (autotuning) and a fixed 4 MiB SO_RCVBUF on the receiver,
 * because on loopback kernel MPTCP's receive autotuning stalls (~200 ms pauses) and caps throughput.
 * Transfer: 1 GiB × scale per run; each case runs RUNS times (interleaved) and reports its best run.
 * Ratios are against plain TCP with default buffers.
 */
import { spawn } from 'node:child_process';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import { isMultipath } from '../src/kernel/info.js';
import { createServer } from '../src/kernel/server.js';
import type { Benchmark, BenchOptions, BenchRow } from './types.js';

const TRANSFER_BYTES = 1024 * 1024 * 1024;
const RUNS = 2;
const FIXED_RCVBUF_BYTES = 4 * 1024 * 1024;
const CHILD = fileURLToPath(new URL('./kernel-loopback-child.js', import.meta.url));

interface Case {
  name: string;
  mode: 'mptcp' | 'tcp';
  receiveBufferBytes?: number;
}

const CASES: Case[] = [
  { name: 'plain TCP (IPPROTO_TCP), default buffers', mode: 'tcp' },
  { name: 'kernel MPTCP (1 subflow), default buffers', mode: 'mptcp' },
  { name: 'plain TCP, SO_RCVBUF 4 MiB', mode: 'tcp', receiveBufferBytes: FIXED_RCVBUF_BYTES },
  { name: 'kernel MPTCP, SO_RCVBUF 4 MiB', mode: 'mptcp', receiveBufferBytes: FIXED_RCVBUF_BYTES },
];

interface RunResult {
  mbPerS: number;
  multipath: boolean;
}

async function once(c: Case, bytes: number): Promise<RunResult> {
  let multipath = false;
  let startedAt = 0;
  const ms = await new Promise<number>((resolve, reject) => {
    const server = createServer(
      { mptcp: c.mode === 'mptcp' ? 'require' : false, receiveBufferBytes: c.receiveBufferBytes },
      (sock: net.Socket) => {
        multipath = isMultipath(sock);
        startedAt = performance.now();
        let got = 0;
        sock.on('data', (d: Buffer) => {
          got += d.length;
        });
        sock.on('end', () => {
          const elapsed = performance.now() - startedAt;
          server.close();
          if (got !== bytes) reject(new Error(`received ${got} of ${bytes} bytes`));
          else resolve(elapsed);
        });
        sock.on('error', reject);
      },
    );
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      const child = spawn(process.execPath, [CHILD, String(port), String(bytes), c.mode], {
        stdio: 'inherit',
      });
      child.on('exit', (code) => {
        if (code !== 0) reject(new Error(`sender exited with ${code}`));
      });
    });
  });
  return { mbPerS: bytes / 1e6 / (ms / 1000), multipath };
}

const bench: Benchmark = {
  name: 'kernel-loopback',
  description: 'kernel MPTCP vs plain TCP, Node→Node over loopback, two processes, same code path',
  async run(options: BenchOptions): Promise<BenchRow[]> {
    const bytes = Math.max(1024 * 1024, Math.round(TRANSFER_BYTES * options.scale));
    const best = CASES.map(() => 0);
    const multipath = CASES.map((c) => c.mode === 'mptcp');
    try {
      for (let r = 0; r < RUNS; r++) {
        for (const [i, c] of CASES.entries()) {
          const res = await once(c, bytes);
          best[i] = Math.max(best[i]!, res.mbPerS);
          if (res.multipath !== (c.mode === 'mptcp')) multipath[i] = res.multipath;
        }
      }
    } catch (err) {
      return [
        { bench: 'kernel-loopback', case: 'unavailable', value: Number.NaN, unit: 'MB/s', note: String(err) },
      ];
    }
    const size = `${(bytes / 1024 / 1024).toFixed(0)} MiB, best of ${RUNS}`;
    return CASES.map((c, i) => {
      const ok = multipath[i] === (c.mode === 'mptcp');
      return {
        bench: 'kernel-loopback',
        case: c.name,
        value: best[i]!,
        unit: 'MB/s',
        ratio: best[i]! / best[0]!,
        note: ok ? size : `${size}; UNEXPECTED isMultipath=${multipath[i]}`,
      };
    });
  },
};

export default bench;
