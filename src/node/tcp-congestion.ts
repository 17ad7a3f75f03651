/**
 * TCP congestion control per socket (Linux `TCP_CONGESTION`), for userspace MPTCP subflows and for
 * kernel MPTCP sockets (where the kernel applies it to every subflow).
 *
 * Contract: `checkCongestionControl(name)` throws CongestionControlError unless this is Linux and
 * the kernel offers `name` (/proc/sys/net/ipv4/tcp_available_congestion_control); callers run it
 * when options are given, so a typo fails at `connect()`/`createServer()`, not at the first subflow.
 * `setCongestionControl(socketOrFd, name)` sets it and throws CongestionControlError with the errno
 * (EPERM: an unprivileged process may only pick those in tcp_allowed_congestion_control).
 */
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { errno, libcFunction } from '../native/libc.js';

/** <netinet/in.h>, <netinet/tcp.h> */
const IPPROTO_TCP = 6;
const TCP_CONGESTION = 13;
const AVAILABLE_PATH = '/proc/sys/net/ipv4/tcp_available_congestion_control';
/** TCP_CA_NAME_MAX in include/net/tcp.h. */
const CA_NAME_MAX_BYTES = 16;

export class CongestionControlError extends Error {
  override readonly name = 'CongestionControlError';
  constructor(
    message: string,
    readonly errno?: number,
  ) {
    super(message);
  }
}

/** The algorithms this kernel offers, or undefined where that cannot be known (not Linux). */
export function availableCongestionControls(): string[] | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return readFileSync(AVAILABLE_PATH, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return undefined;
  }
}

export function checkCongestionControl(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length >= CA_NAME_MAX_BYTES)
    throw new CongestionControlError(
      `congestion control must be a name of 1 to 15 characters, not '${name}'`,
    );
  const available = availableCongestionControls();
  if (available === undefined)
    throw new CongestionControlError(`congestion control per socket needs Linux (${AVAILABLE_PATH})`);
  if (!available.includes(name))
    throw new CongestionControlError(
      `congestion control '${name}' is not available here (available: ${available.join(', ')})`,
    );
}

let setsockopt: ((...args: unknown[]) => unknown) | undefined;
let getsockopt: ((...args: unknown[]) => unknown) | undefined;

function fdOf(socket: net.Socket | number): number {
  const fd =
    typeof socket === 'number' ? socket : (socket as { _handle?: { fd?: number } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new CongestionControlError('the socket has no open descriptor');
  return fd;
}

/** The congestion control a socket (or descriptor) runs. */
export function getCongestionControl(socket: net.Socket | number): string {
  const fd = fdOf(socket);
  getsockopt ??= libcFunction('int getsockopt(int, int, int, _Inout_ void *, _Inout_ uint32_t *)');
  const buf = Buffer.alloc(CA_NAME_MAX_BYTES);
  const len = [buf.length];
  if ((getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, buf, len) as number) !== 0)
    throw new CongestionControlError(`getsockopt(TCP_CONGESTION) failed with errno ${errno()}`, errno());
  const end = buf.indexOf(0);
  return buf.toString('ascii', 0, end < 0 ? Math.min(len[0]!, buf.length) : end);
}

/** Sets TCP_CONGESTION on a connected or connecting socket (or a descriptor). */
export function setCongestionControl(socket: net.Socket | number, name: string): void {
  const fd = fdOf(socket);
  setsockopt ??= libcFunction('int setsockopt(int, int, int, const void *, uint32_t)');
  const value = Buffer.from(name, 'ascii');
  if ((setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, value, value.length) as number) !== 0) {
    const code = errno();
    throw new CongestionControlError(
      `setsockopt(TCP_CONGESTION, ${name}) failed with errno ${code}${code === 1 ? ' (EPERM: not in net.ipv4.tcp_allowed_congestion_control)' : ''}`,
      code,
    );
  }
}
