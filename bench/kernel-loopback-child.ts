/**
 * Child process of bench/kernel-loopback.ts: connects to 127.0.0.1:<port> with our kernel connect()
 * (mptcp 'require' or false), sends <bytes> bytes in fixed chunks honouring backpressure, and exits 0
 * once the stream is fully written and closed. argv: <port> <bytes> <mptcp|tcp>.
 */
import { connect } from '../src/kernel/client.js';

/** Write size; bounded so memory stays flat whatever the transfer size. */
const CHUNK_BYTES = 256 * 1024;

const [portArg, bytesArg, modeArg] = process.argv.slice(2);
const total = Number(bytesArg);
const socket = connect({
  port: Number(portArg),
  host: '127.0.0.1',
  mptcp: modeArg === 'mptcp' ? 'require' : false,
});
const chunk = Buffer.alloc(CHUNK_BYTES, 0x5a);
let sent = 0;

function pump(): void {
  while (sent < total) {
    const n = Math.min(CHUNK_BYTES, total - sent);
    sent += n;
    if (!socket.write(n === CHUNK_BYTES ? chunk : chunk.subarray(0, n))) {
      socket.once('drain', pump);
      return;
    }
  }
  socket.end();
}

socket.once('connect', pump);
socket.on('error', (err) => {
  console.error(`kernel-loopback child: ${err.message}`);
  process.exitCode = 1;
});
