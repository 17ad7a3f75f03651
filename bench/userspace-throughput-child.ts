/**
 * Sender process of bench/userspace-throughput.ts: connects with plain TCP (`net`) or userspace MPTCP
 * (one path per port given), writes <bytes> bytes of the bench pattern in CHUNK_BYTES writes honouring
 * backpressure, ends the stream and exits 0 once it is closed.
 * argv: <tcp|mptcp> <bytes> <port>[,<port>…]
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { connect } from '../src/node/index.js';
import { makePattern, PATTERN_PERIOD_BYTES } from './userspace-pattern.js';

/** Write size; bounded so memory stays flat whatever the transfer size. */
const CHUNK_BYTES = 256 * 1024;

const [modeArg, bytesArg, portsArg] = process.argv.slice(2);
const total = Number(bytesArg);
const ports = (portsArg ?? '').split(',').map(Number);
const pattern = makePattern(CHUNK_BYTES);

const socket: Duplex =
  modeArg === 'mptcp'
    ? connect({ paths: ports.map((port) => ({ host: '127.0.0.1', port })) })
    : net.connect({ host: '127.0.0.1', port: ports[0]! });
let sent = 0;

function pump(): void {
  while (sent < total) {
    const n = Math.min(CHUNK_BYTES, total - sent);
    const phase = sent % PATTERN_PERIOD_BYTES;
    sent += n;
    if (!socket.write(pattern.subarray(phase, phase + n))) {
      socket.once('drain', pump);
      return;
    }
  }
  socket.end();
}

socket.once('connect', pump);
socket.resume();
socket.on('error', (err) => {
  console.error(`userspace-throughput child: ${err.message}`);
  process.exitCode = 1;
});
socket.on('close', () => {
  // Development aid: the sender's CPU time, for comparing cost per byte on a busy machine.
  if (process.env.USERSPACE_BENCH_CPU) console.error(`sender cpu ${JSON.stringify(process.cpuUsage())}`);
  process.exit();
});
