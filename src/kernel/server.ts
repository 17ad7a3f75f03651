/**
 * Kernel MPTCP listeners handed to Node: createServer() returns an ordinary net.Server whose
 * listen() first makes an IPPROTO_MPTCP socket (koffi: socket, SO_REUSEADDR, bind, listen) and then
 * calls Node's own `listen({ fd })`. `enableMptcp(server)` does the same to any net.Server
 * (http.Server, https.Server…), so `enableMptcp(http.createServer(handler)).listen(8080)` serves HTTP
 * over MPTCP.
 *
 * Contract: listen() accepts Node's forms (port, host, backlog, callback / options object). No host or
 * '::' → an IPv6 dual-stack socket (IPV6_V6ONLY off, unless `ipv6Only`), or IPv4 0.0.0.0 where IPv6
 * is unavailable. A hostname is resolved with dns.lookup first. Failures are emitted as 'error' on the
 * server, like Node's. `fd`, `handle` and `path` listens pass through untouched. Mode 'prefer' falls
 * back to plain TCP when the kernel has no MPTCP; 'require' emits MptcpUnavailableError.
 */
import dns from 'node:dns';
import net from 'node:net';
import { NativeCallError } from '../native/libc.js';
import {
  DEFAULT_BACKLOG,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  SO_RCVBUF,
  SO_REUSEADDR,
  SOL_SOCKET,
} from './constants.js';
import { SocketSystemError } from './errors.js';
import { type CreatedFd, createStreamFd, type MptcpMode, normalizeMode } from './fd.js';
import { sysBind, sysClose, sysListen, setsockoptInt } from './native.js';
import { encodeSockAddr } from './sockaddr.js';

export interface MptcpServerOptions extends net.ServerOpts {
  /** 'prefer' (default), 'require', or false for plain TCP through the same code path. */
  mptcp?: MptcpMode | boolean;
  /**
   * SO_RCVBUF for the listener (inherited by accepted connections); turns off receive autotuning.
   * On loopback kernel MPTCP's autotuning stalls; a fixed 4 MiB buffer avoids it (see bench).
   */
  receiveBufferBytes?: number;
}

export interface ListenState {
  /** Whether the listening socket is an MPTCP socket. */
  mptcp: boolean;
  /** errno name when 'prefer' fell back to plain TCP. */
  fallbackReason?: string;
}

const states = new WeakMap<net.Server, ListenState>();
const patched = new WeakSet<net.Server>();

/** How the server's listening socket was made (undefined before listen). */
export function listenState(server: net.Server): ListenState | undefined {
  return states.get(server);
}

/**
 * Makes a bound, listening socket descriptor synchronously (host must be an IP literal or undefined).
 * Exposed for callers that need the fd itself (e.g. inside withNetns).
 */
export function createListenFd(
  host: string | undefined,
  port: number,
  opts: { mode?: MptcpMode; backlog?: number; ipv6Only?: boolean; receiveBufferBytes?: number } = {},
): CreatedFd {
  const mode = opts.mode ?? 'prefer';
  let created: CreatedFd;
  let address: string;
  if (host === undefined || host === '::') {
    try {
      created = createStreamFd(6, mode);
      address = '::';
    } catch (err) {
      if (host !== undefined || !(err instanceof NativeCallError) || err.code !== 'EAFNOSUPPORT') throw err;
      created = createStreamFd(4, mode);
      address = '0.0.0.0';
    }
  } else {
    const family = net.isIP(host.split('%')[0]!);
    if (family === 0) throw new TypeError(`listen host must be an IP address here, got '${host}'`);
    created = createStreamFd(family as 4 | 6, mode);
    address = host;
  }
  try {
    setsockoptInt(created.fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (opts.receiveBufferBytes) setsockoptInt(created.fd, SOL_SOCKET, SO_RCVBUF, opts.receiveBufferBytes);
    if (created.family === 6) setsockoptInt(created.fd, IPPROTO_IPV6, IPV6_V6ONLY, opts.ipv6Only ? 1 : 0);
    try {
      sysBind(created.fd, encodeSockAddr(address, port));
    } catch (err) {
      if (err instanceof NativeCallError) throw new SocketSystemError('listen', err.errno, address, port);
      throw err;
    }
    sysListen(created.fd, opts.backlog ?? DEFAULT_BACKLOG);
  } catch (err) {
    sysClose(created.fd);
    throw err;
  }
  return created;
}

interface ParsedListen {
  passThrough: boolean;
  port: number;
  host?: string;
  backlog?: number;
  ipv6Only?: boolean;
  callback?: () => void;
}

function parseListenArgs(args: unknown[]): ParsedListen {
  const last = args[args.length - 1];
  const callback = typeof last === 'function' ? (last as () => void) : undefined;
  const rest = callback ? args.slice(0, -1) : args;
  const first = rest[0];
  if (first !== null && typeof first === 'object') {
    const o = first as net.ListenOptions & { fd?: number; handle?: unknown; _handle?: unknown };
    if (o.fd !== undefined || o.handle !== undefined || o._handle !== undefined || o.path !== undefined) {
      return { passThrough: true, port: 0 };
    }
    return {
      passThrough: false,
      port: o.port === undefined ? 0 : Number(o.port),
      host: o.host,
      backlog: o.backlog,
      ipv6Only: o.ipv6Only,
      callback,
    };
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return { passThrough: true, port: 0 }; // UNIX path
  const port = first === undefined || first === null ? 0 : Number(first);
  const host = typeof rest[1] === 'string' ? rest[1] : undefined;
  const backlogArg = typeof rest[1] === 'number' ? rest[1] : rest[2];
  return {
    passThrough: false,
    port,
    host,
    backlog: typeof backlogArg === 'number' ? backlogArg : undefined,
    callback,
  };
}

/** Patches `server.listen` to listen on a kernel MPTCP socket. Returns the same server. */
export function enableMptcp<S extends net.Server>(
  server: S,
  mode: MptcpMode | boolean = 'prefer',
  socketOptions: { receiveBufferBytes?: number } = {},
): S {
  if (patched.has(server)) return server;
  patched.add(server);
  const m = normalizeMode(mode);
  const original = server.listen.bind(server) as (...a: unknown[]) => S;
  const fail = (err: Error) => process.nextTick(() => server.emit('error', err));
  const listenOn = (p: ParsedListen, host: string | undefined) => {
    let created: CreatedFd;
    try {
      created = createListenFd(host, p.port, {
        mode: m,
        backlog: p.backlog,
        ipv6Only: p.ipv6Only,
        receiveBufferBytes: socketOptions.receiveBufferBytes,
      });
    } catch (err) {
      fail(err as Error);
      return;
    }
    const state: ListenState = { mptcp: created.mptcp };
    if (created.fallbackReason) state.fallbackReason = created.fallbackReason;
    states.set(server, state);
    const opts: net.ListenOptions = { fd: created.fd } as net.ListenOptions;
    if (p.backlog !== undefined) opts.backlog = p.backlog;
    if (p.callback) original(opts, p.callback);
    else original(opts);
  };
  (server as { listen: unknown }).listen = (...args: unknown[]): S => {
    const p = parseListenArgs(args);
    if (!Number.isInteger(p.port) || p.port < 0 || p.port > 65535) {
      throw new RangeError(`listen port must be an integer 0..65535, got ${String(args[0])}`);
    }
    if (p.passThrough) return original(...args);
    const host = p.host === '' ? undefined : p.host;
    if (host === undefined || net.isIP(host.split('%')[0]!) !== 0) {
      listenOn(p, host);
    } else {
      dns.lookup(host, (err, address) => {
        if (err) fail(err);
        else listenOn(p, address);
      });
    }
    return server;
  };
  return server;
}

/** Like net.createServer, listening on kernel MPTCP sockets. */
export function createServer(
  options?: MptcpServerOptions | ((socket: net.Socket) => void),
  connectionListener?: (socket: net.Socket) => void,
): net.Server {
  if (typeof options === 'function') return enableMptcp(net.createServer(options));
  const { mptcp, receiveBufferBytes, ...rest } = options ?? {};
  return enableMptcp(net.createServer(rest, connectionListener), mptcp ?? 'prefer', { receiveBufferBytes });
}
