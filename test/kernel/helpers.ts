/**
 * Shared test helpers for kernel MPTCP tests: availability checks (with the reason to skip) and
 * small promise wrappers around sockets.
 */
import { createHash } from 'node:crypto';
import type net from 'node:net';
import { createStreamFd } from '../../src/kernel/fd.js';
import { sysClose } from '../../src/kernel/native.js';
import { netnsAvailable } from '../../src/lab/netns.js';

let kernelReason: string | false | undefined;

/** false when this process can make IPPROTO_MPTCP sockets, else the reason to skip. */
export function kernelMptcpSkip(): string | false {
  if (kernelReason !== undefined) return kernelReason;
  if (process.platform !== 'linux') kernelReason = 'kernel MPTCP needs Linux';
  else {
    try {
      sysClose(createStreamFd(4, 'require').fd);
      kernelReason = false;
    } catch (err) {
      kernelReason = (err as Error).message;
    }
  }
  return kernelReason;
}

/** false when both kernel MPTCP and network namespaces are usable, else the reason. */
export function netnsMptcpSkip(): string | false {
  const k = kernelMptcpSkip();
  if (k) return k;
  const n = netnsAvailable();
  return n.ok ? false : n.reason;
}

export function listening(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Reads everything until 'end'; bounded by maxBytes. */
export function readAll(socket: net.Socket, maxBytes = 64 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    socket.on('data', (d: Buffer) => {
      n += d.length;
      if (n > maxBytes) socket.destroy(new Error(`more than ${maxBytes} bytes`));
      else chunks.push(d);
    });
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` every 50 ms until it returns true or `ms` passes; returns the last value. */
export async function waitFor(fn: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (fn()) return true;
    if (Date.now() > end) return false;
    await sleep(50);
  }
}
