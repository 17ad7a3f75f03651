/**
 * Kernel MPTCP client sockets handed to Node: connect() makes an IPPROTO_MPTCP descriptor (bound to
 * localAddress/localPort when given), wraps it in `new net.Socket({ fd })` and lets Node/libuv do the
 * non-blocking connect on that same handle (Node 20 reuses a socket's existing handle in connect()).
 * The result is an ordinary net.Socket, returned synchronously like net.connect's.
 *
 * Contract:
 * - Never blocks the event loop: socket/bind/dup3 are instantaneous; connect is libuv's.
 * - Hostnames: the socket is first made AF_INET6 (or AF_INET if IPv6 is unavailable); when dns.lookup
 *   returns the other family, a descriptor of that family replaces it in place (dup3 onto the same
 *   number, before libuv has registered it), so remoteAddress is the real address, not v4-mapped.
 * - `timeout` (ms) is a connect deadline: past it the socket is destroyed with ConnectTimeoutError.
 * - Mode 'prefer' (default) falls back to plain TCP when the kernel has no MPTCP; 'require' fails with
 *   MptcpUnavailableError (emitted as 'error' on the returned socket); false = plain TCP.
 * - Happy-eyeballs (autoSelectFamily) is off: it would replace our handle with plain TCP ones.
 */
import dns from 'node:dns';
import net from 'node:net';
import { NativeCallError } from '../native/libc.js';
import { O_CLOEXEC, SO_RCVBUF, SO_SNDBUF, SOL_SOCKET } from './constants.js';
import { ConnectTimeoutError } from './errors.js';
import { type CreatedFd, createStreamFd, type MptcpMode, normalizeMode } from './fd.js';
import { inSocketNamespace, setsockoptInt, sysBind, sysClose, sysDup3 } from './native.js';
import { encodeSockAddr } from './sockaddr.js';

export interface MptcpConnectOptions {
  port: number | string;
  host?: string;
  localAddress?: string;
  localPort?: number;
  family?: 0 | 4 | 6;
  hints?: number;
  /** Connect deadline in ms (0/undefined: none). */
  timeout?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  allowHalfOpen?: boolean;
  /** 'prefer' (default), 'require', or false for plain TCP through the same code path. */
  mptcp?: MptcpMode | boolean;
  /** SO_RCVBUF / SO_SNDBUF in bytes (fixed buffers, no autotuning); unset: kernel defaults. */
  receiveBufferBytes?: number;
  sendBufferBytes?: number;
  // Other net.connect / http.Agent options are accepted and ignored.
  [key: string]: unknown;
}

export interface ConnectState {
  mptcp: boolean;
  fallbackReason?: string;
}

const states = new WeakMap<net.Socket, ConnectState>();

/** How the client socket was made: MPTCP descriptor or TCP fallback (undefined if not ours). */
export function connectState(socket: net.Socket): ConnectState | undefined {
  return states.get(socket);
}

function normalizeConnectArgs(args: unknown[]): { opts: MptcpConnectOptions; listener?: () => void } {
  const last = args[args.length - 1];
  const listener = typeof last === 'function' ? (last as () => void) : undefined;
  const rest = listener ? args.slice(0, -1) : args;
  if (rest[0] !== null && typeof rest[0] === 'object')
    return { opts: rest[0] as MptcpConnectOptions, listener };
  const opts: MptcpConnectOptions = { port: rest[0] as number };
  if (typeof rest[1] === 'string') opts.host = rest[1];
  return { opts, listener };
}

function failedSocket(err: Error): net.Socket {
  const s = new net.Socket();
  process.nextTick(() => s.destroy(err));
  return s;
}

function applyBuffers(c: CreatedFd, opts: MptcpConnectOptions): void {
  if (opts.receiveBufferBytes) setsockoptInt(c.fd, SOL_SOCKET, SO_RCVBUF, opts.receiveBufferBytes);
  if (opts.sendBufferBytes) setsockoptInt(c.fd, SOL_SOCKET, SO_SNDBUF, opts.sendBufferBytes);
}

function bindIfAsked(c: CreatedFd, opts: MptcpConnectOptions): void {
  applyBuffers(c, opts);
  if (opts.localAddress === undefined && !opts.localPort) return;
  const address = opts.localAddress ?? (c.family === 6 ? '::' : '0.0.0.0');
  sysBind(c.fd, encodeSockAddr(address, Number(opts.localPort ?? 0)));
}

function makeFd(family: 4 | 6, mode: MptcpMode, opts: MptcpConnectOptions, bind = true): CreatedFd {
  const c = createStreamFd(family, mode);
  try {
    if (bind) bindIfAsked(c, opts);
    else applyBuffers(c, opts);
  } catch (err) {
    sysClose(c.fd);
    throw err;
  }
  return c;
}

/** Like net.connect / net.createConnection, over a kernel MPTCP socket. */
export function connect(options: MptcpConnectOptions, connectListener?: () => void): net.Socket;
export function connect(port: number, host?: string, connectListener?: () => void): net.Socket;
export function connect(...args: unknown[]): net.Socket {
  const { opts, listener } = normalizeConnectArgs(args);
  let mode: MptcpMode;
  try {
    mode = normalizeMode(opts.mptcp);
  } catch (err) {
    return failedSocket(err as Error);
  }
  const host = opts.host || 'localhost';
  const port = Number(opts.port);
  // Validate before a descriptor exists (Node would throw later, leaking it).
  if (opts.port === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer 0..65535, got ${String(opts.port)}`);
  }
  const hostFamily = net.isIP(host);
  const localFamily = opts.localAddress ? net.isIP(opts.localAddress.split('%')[0]!) : 0;
  const wanted = (hostFamily || localFamily || (opts.family === 4 || opts.family === 6 ? opts.family : 0)) as
    | 0
    | 4
    | 6;

  let current: CreatedFd;
  try {
    if (wanted !== 0) current = makeFd(wanted, mode, opts);
    else {
      // Family unknown until dns.lookup: a placeholder, bound (localPort) only once the family is known.
      try {
        current = makeFd(6, mode, opts, false);
      } catch (err) {
        if (!(err instanceof NativeCallError) || err.code !== 'EAFNOSUPPORT') throw err;
        current = makeFd(4, mode, opts, false);
      }
    }
  } catch (err) {
    return failedSocket(err as Error);
  }

  const socket = new net.Socket({
    fd: current.fd,
    readable: true,
    writable: true,
    allowHalfOpen: opts.allowHalfOpen,
    manualStart: true,
  } as net.SocketConstructorOpts);
  const record = (c: CreatedFd) => {
    const st: ConnectState = { mptcp: c.mptcp };
    if (c.fallbackReason) st.fallbackReason = c.fallbackReason;
    states.set(socket, st);
  };
  record(current);

  // Resolve, then make sure the descriptor's family matches the address (see header).
  const lookup = (
    hostname: string,
    dnsOpts: dns.LookupOptions,
    cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
  ) => {
    dns.lookup(hostname, { family: wanted, hints: dnsOpts.hints ?? 0 }, (err, address, family) => {
      if (err) return cb(err, '', 0);
      try {
        if (family !== current.family) {
          // Made in the placeholder's network namespace (it may come from inside withNetns).
          const replacement = inSocketNamespace(current.fd, () => makeFd(family as 4 | 6, mode, opts));
          sysDup3(replacement.fd, current.fd, O_CLOEXEC);
          sysClose(replacement.fd);
          current = { ...replacement, fd: current.fd };
          record(current);
        } else if (wanted === 0) {
          bindIfAsked(current, opts);
        }
      } catch (e) {
        return cb(e as NodeJS.ErrnoException, '', 0);
      }
      cb(null, address, family);
    });
  };

  const timeoutMs = Number(opts.timeout ?? 0);
  if (timeoutMs > 0) {
    const timer = setTimeout(() => {
      if (socket.connecting || socket.pending) socket.destroy(new ConnectTimeoutError(host, port, timeoutMs));
    }, timeoutMs);
    const clear = () => clearTimeout(timer);
    socket.once('connect', clear);
    socket.once('close', clear);
  }

  const connectOpts: net.TcpSocketConnectOpts = { port, host, lookup, autoSelectFamily: false };
  if (opts.noDelay !== undefined) connectOpts.noDelay = opts.noDelay;
  if (opts.keepAlive !== undefined) connectOpts.keepAlive = opts.keepAlive;
  if (opts.keepAliveInitialDelay !== undefined)
    connectOpts.keepAliveInitialDelay = opts.keepAliveInitialDelay;
  if (listener) socket.connect(connectOpts, listener);
  else socket.connect(connectOpts);
  return socket;
}

export const createConnection = connect;

/** connect() as a promise: resolves once connected, rejects with the connect error or timeout. */
export function connectAsync(options: MptcpConnectOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(options);
    const onError = (err: Error) => reject(err);
    s.once('error', onError);
    s.once('connect', () => {
      s.off('error', onError);
      resolve(s);
    });
  });
}
