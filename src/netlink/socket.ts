/**
 * A netlink socket (AF_NETLINK, SOCK_RAW) through koffi, with request/response matching.
 *
 * Contract:
 * - `NetlinkSocket.open(protocol)` is synchronous, so the socket lives in the network namespace
 *   the calling thread is in at that moment (this is what `withNetns` relies on).
 * - Nothing blocks the event loop. While a request is pending or a notification listener is set,
 *   the event loop itself waits for data: a dup of the descriptor is handed to libuv as a pipe
 *   handle (Node's pipe_wrap binding) and each datagram arrives as a 'data' chunk, so a kernel
 *   notification wakes this thread directly (one wake-up, no helper thread; this is the reaction
 *   path of a userspace PM). After each such datagram has been dispatched, the datagrams queued
 *   behind it are read synchronously (non-blocking recv) in the same callback. Where that binding
 *   is unavailable, readiness is awaited with `poll()` through koffi's `.async` (a helper thread,
 *   POLL_INTERVAL_MS timeout) and datagrams are read with non-blocking `recv` on the main thread.
 *   Either way an idle socket keeps no process alive.
 * - Replies: a request is written into a reused send buffer and sent synchronously; its reply,
 *   queued by the kernel before sendto returns, is read at once with `recv(MSG_DONTWAIT)`.
 * - `request` matches replies by sequence number: a plain request resolves with its reply messages
 *   on the kernel's ACK, a dump resolves with all parts at NLMSG_DONE; an NLMSG_ERROR rejects with
 *   `NetlinkError` (errno name + the kernel's extended-ACK message). Each request has a timeout.
 * - Messages not matching a pending request (multicast notifications, seq 0) go to the listener.
 *   With `setListener(l, { eventLoop: false })` nothing reads for the listener but its owner:
 *   `waitReadable(ms)` blocks the calling thread in poll() and `readNow()` reads what is queued
 *   (a thread that does nothing else then wakes once per event, as the kernel's PM worker does).
 * - `close()` resolves within about POLL_INTERVAL_MS: it sets a flag, closes the reader, waits for
 *   any outstanding koffi poll to return, rejects pending requests with NetlinkClosedError, then
 *   closes the fd.
 * - One datagram is read into a RECV_BUFFER_BYTES buffer; a longer one (MSG_TRUNC) is an error.
 */
import { errno, errnoName, koffi, libcFunction, NativeCallError } from '../native/libc.js';
import { type BpfInstruction, encodeBpf } from './bpf.js';
import {
  encodedLength,
  type NetlinkMessage,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  parseErrorPayload,
  parseMessages,
} from './message.js';

export const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;
export const NETLINK_SOCK_DIAG = 4;
export const NETLINK_GENERIC = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
export const SOL_NETLINK = 270;
export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_DROP_MEMBERSHIP = 2;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
const MSG_TRUNC = 0x20;
const F_DUPFD_CLOEXEC = 1030;
const MSG_DONTWAIT = 0x40;
const POLLIN = 0x1;
const SOCKADDR_NL_BYTES = 12;
const POLLFD_BYTES = 8;
/** Initial size of the reused send buffer (grows for larger requests). */
const SEND_BUFFER_BYTES = 4096;

/** Largest datagram read at once (the kernel's dump skbs are at most 32 KiB). */
export const RECV_BUFFER_BYTES = 64 * 1024;
/** Socket receive buffer requested (events arrive in bursts). */
export const SOCKET_RCVBUF_BYTES = 1024 * 1024;
/** Poll timeout: bounds how long `close()` waits. */
export const POLL_INTERVAL_MS = 100;
/** Default time to wait for a reply before rejecting with ETIMEDOUT. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/** Bound on messages collected for one dump. */
export const MAX_DUMP_MESSAGES = 65536;

const ETIMEDOUT = 110;
const EAGAIN = 11;
const EINTR = 4;
const ENOBUFS = 105;
const EBADMSG = 74;

/** The kernel answered a request with an error (NLMSG_ERROR with errno ≠ 0). */
export class NetlinkError extends Error {
  override readonly name = 'NetlinkError';
  /** Symbolic errno ("ENOENT"). */
  readonly code: string;
  constructor(
    /** What was asked ("MPTCP_PM_CMD_DEL_ADDR"). */
    readonly operation: string,
    /** Positive errno. */
    readonly errno: number,
    /** The kernel's extended-ACK text (NLMSGERR_ATTR_MSG), when it gave one. */
    readonly extackMessage?: string,
  ) {
    super(`${operation} failed: ${errnoName(errno)}${extackMessage ? ` (${extackMessage})` : ''}`);
    this.code = errnoName(errno);
  }
}

/** The socket was closed while a request was pending. */
export class NetlinkClosedError extends Error {
  override readonly name = 'NetlinkClosedError';
}

interface Pending {
  operation: string;
  dump: boolean;
  messages: NetlinkMessage[];
  deadline: number;
  resolve(messages: NetlinkMessage[]): void;
  reject(err: Error): void;
}

/** Receives unsolicited messages, or an error (ENOBUFS: the kernel dropped notifications). */
export interface NotificationListener {
  message(msg: NetlinkMessage): void;
  error(err: Error): void;
}

export interface ListenOptions {
  /**
   * Read on the event loop (default true). False: nothing reads the socket for the listener but
   * its owner, with `waitReadable` and `readNow` (a thread that blocks in poll() itself, see
   * ../pm/kernel-driver.ts).
   */
  eventLoop?: boolean;
}

/** SOL_SOCKET options of socket filters (include/uapi/asm-generic/socket.h). */
const SO_ATTACH_FILTER = 26;
/** struct sock_fprog on 64-bit Linux: u16 len, padding, pointer. */
const SOCK_FPROG_BYTES = 16;

let sockFprogDeclared = false;

/** setsockopt taking a struct sock_fprog (koffi marshals the filter bytes as its pointer). */
function setsockoptProgram(): (fd: number, level: number, name: number, prog: object, len: number) => number {
  if (!sockFprogDeclared) {
    koffi().struct('mptcp_sock_fprog', { len: 'uint16', filter: 'void *' });
    sockFprogDeclared = true;
  }
  return libcFunction('int setsockopt(int, int, int, mptcp_sock_fprog *, uint32_t)');
}

function native() {
  return {
    socket: libcFunction('int socket(int, int, int)'),
    bind: libcFunction('int bind(int, const void *, uint32_t)'),
    getsockname: libcFunction('int getsockname(int, void *, void *)'),
    setsockopt: libcFunction('int setsockopt(int, int, int, const void *, uint32_t)'),
    sendto: libcFunction('intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)'),
    recv: libcFunction('intptr_t recv(int, void *, size_t, int)'),
    poll: libcFunction('int poll(void *, unsigned long, int)'),
    close: libcFunction('int close(int)'),
    fcntl: libcFunction('int fcntl(int, int, int)'),
  };
}

type PollCallback = (err: unknown, n: number) => void;

/** A libuv pipe handle of Node's internal pipe_wrap binding (what net.Socket uses for pipes). */
interface PipeHandle {
  open(fd: number): number;
  readStart(): number;
  close(): void;
  ref(): void;
  unref(): void;
  onread: ((ab?: ArrayBuffer) => void) | undefined;
}
interface PipeWrapBinding {
  Pipe: new (type: number) => PipeHandle;
  constants: { SOCKET: number };
}
/** Node's internal stream_wrap binding: where StreamBase reports a read's size and offset. */
interface StreamWrapBinding {
  streamBaseState?: Int32Array;
  kReadBytesOrError?: number;
  kArrayBufferOffset?: number;
}

function kernelAddress(): Buffer {
  const b = Buffer.alloc(SOCKADDR_NL_BYTES);
  b.writeUInt16LE(AF_NETLINK, 0);
  return b;
}

/** Writes a netlink header (include/uapi/linux/netlink.h struct nlmsghdr, host order) at 0. */
function writeHeader(b: Buffer, len: number, type: number, flags: number, seq: number): void {
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type & 0xffff, 4);
  b.writeUInt16LE(flags & 0xffff, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  b.writeUInt32LE(0, 12);
}

function intArg(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  return b;
}

export class NetlinkSocket {
  private readonly fns = native();
  private readonly recvBuffer = Buffer.alloc(RECV_BUFFER_BYTES);
  private readonly pending = new Map<number, Pending>();
  private seq = Math.floor(Math.random() * 0x7fff_0000) + 1;
  private closed = false;
  /** Reads the descriptor on the event loop (see openReader); undefined when not needed or unavailable. */
  private reader: PipeHandle | undefined;
  private readerUnavailable = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** A poll() is outstanding on koffi's thread. */
  private polling = false;
  /** Resolves `close()` once the outstanding poll has returned. */
  private pollReturned: (() => void) | undefined;
  private sendBuffer = Buffer.alloc(SEND_BUFFER_BYTES);
  private readonly kernelAddr = kernelAddress();
  private readonly pfd = Buffer.alloc(POLLFD_BYTES);
  private readonly pollAsync: (pfd: Buffer, n: number, timeoutMs: number, cb: PollCallback) => void;
  private listener: NotificationListener | undefined;
  private rawPeek: ((buf: Uint8Array, length: number) => void) | undefined;
  /** The listener is fed by the owner's readNow() calls, not by the event loop. */
  private ownerReads = false;

  private constructor(
    readonly fd: number,
    readonly protocol: number,
    /** The port id (nl_pid) the kernel assigned at bind. */
    readonly portId: number,
  ) {
    this.pfd.writeInt32LE(fd, 0);
    this.pfd.writeInt16LE(POLLIN, 4);
    const poll = this.fns.poll as unknown as { async: NetlinkSocket['pollAsync'] };
    this.pollAsync = poll.async.bind(poll);
  }

  /** Opens and binds a netlink socket of `protocol` in the calling thread's network namespace. */
  static open(protocol: number): NetlinkSocket {
    const f = native();
    const fd = f.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol) as number;
    if (fd < 0) throw new NativeCallError('socket(AF_NETLINK)', errno());
    try {
      const addr = Buffer.alloc(SOCKADDR_NL_BYTES);
      addr.writeUInt16LE(AF_NETLINK, 0);
      if (f.bind(fd, addr, SOCKADDR_NL_BYTES) < 0) throw new NativeCallError('bind(AF_NETLINK)', errno());
      const len = intArg(SOCKADDR_NL_BYTES);
      if (f.getsockname(fd, addr, len) < 0) throw new NativeCallError('getsockname', errno());
      const portId = addr.readUInt32LE(4);
      // Best effort: extended ACK text and capped ACKs (no echo of the request in errors).
      f.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, intArg(1), 4);
      f.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, intArg(1), 4);
      f.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, intArg(SOCKET_RCVBUF_BYTES), 4);
      return new NetlinkSocket(fd, protocol, portId);
    } catch (err) {
      f.close(fd);
      throw err;
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Attaches a classic BPF filter (./bpf.ts) run by the kernel on each message before it is queued:
   * what it drops is never read and wakes nobody. Replaces any filter attached before.
   */
  attachFilter(program: readonly BpfInstruction[]): void {
    this.assertOpen();
    const filter = encodeBpf(program);
    const r = setsockoptProgram()(
      this.fd,
      SOL_SOCKET,
      SO_ATTACH_FILTER,
      { len: program.length, filter },
      SOCK_FPROG_BYTES,
    );
    if (r < 0) throw new NativeCallError('setsockopt(SO_ATTACH_FILTER)', errno());
  }

  /** Joins multicast group `group` (a genl group id or an rtnetlink group number). */
  joinGroup(group: number): void {
    this.assertOpen();
    if (this.fns.setsockopt(this.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, intArg(group), 4) < 0) {
      throw new NativeCallError('setsockopt(NETLINK_ADD_MEMBERSHIP)', errno(), `group ${group}`);
    }
  }

  /** Routes unsolicited messages to `listener` (replacing any) and starts reading (see ListenOptions). */
  setListener(listener: NotificationListener | undefined, options: ListenOptions = {}): void {
    this.listener = listener;
    this.ownerReads = listener !== undefined && options.eventLoop === false;
    if (listener && !this.ownerReads) this.startPump();
    else this.updateReaderRef();
  }

  /**
   * Blocks the calling thread in poll() until the socket is readable or `timeoutMs` passed (a
   * signal ends it early too). True when readable. For owners that read with `readNow`.
   */
  waitReadable(timeoutMs: number): boolean {
    if (this.closed) return false;
    return (this.fns.poll(this.pfd, 1, Math.max(0, Math.floor(timeoutMs))) as number) > 0;
  }

  /** A listener is set that the event loop reads for (not its owner, see ListenOptions). */
  private get loopListens(): boolean {
    return this.listener !== undefined && !this.ownerReads;
  }

  /** Reads and dispatches every queued datagram now, without blocking. */
  readNow(): void {
    this.drain();
  }

  /**
   * Called by readNow with each datagram, in the socket's receive buffer (valid during the
   * call only), before it is copied and dispatched: the shortest path from the kernel to a reaction.
   */
  setRawPeek(peek: ((buf: Uint8Array, length: number) => void) | undefined): void {
    this.rawPeek = peek;
  }

  /**
   * Sends a request of netlink `type` with `payload` (everything after nlmsghdr) and resolves with
   * the reply messages. `dump` sets NLM_F_DUMP and collects until NLMSG_DONE.
   */
  request(
    type: number,
    payload: Uint8Array,
    options: { dump?: boolean; operation?: string; timeoutMs?: number; flags?: number } = {},
  ): Promise<NetlinkMessage[]> {
    if (this.closed) return Promise.reject(new NetlinkClosedError('netlink socket is closed'));
    const dump = options.dump ?? false;
    const operation = options.operation ?? `netlink request type ${type}`;
    const seq = this.nextSeq();
    const flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK) | (options.flags ?? 0);
    const len = encodedLength(payload.length);
    if (len > this.sendBuffer.length)
      this.sendBuffer = Buffer.alloc(Math.max(len, this.sendBuffer.length * 2));
    const msg = this.sendBuffer;
    writeHeader(msg, len, type, flags, seq);
    msg.set(payload, NLMSG_HDRLEN);
    return this.sendAndTrack(msg, len, seq, operation, dump, options.timeoutMs);
  }

  /**
   * Sends `message`, a whole request with its nlmsghdr already written (an ACK-requesting one:
   * NLM_F_REQUEST | NLM_F_ACK), as is but for a fresh sequence number written at nlmsghdr offset 8;
   * resolves on the kernel's ACK like `request`. For requests encoded ahead of time: nothing is
   * copied or encoded before sendto.
   */
  sendMessage(message: Uint8Array, operation: string): Promise<NetlinkMessage[]> {
    if (this.closed) return Promise.reject(new NetlinkClosedError('netlink socket is closed'));
    if (message.length < NLMSG_HDRLEN) return Promise.reject(new RangeError('not a netlink message'));
    const seq = this.nextSeq();
    message[8] = seq & 0xff;
    message[9] = (seq >>> 8) & 0xff;
    message[10] = (seq >>> 16) & 0xff;
    message[11] = seq >>> 24;
    return this.sendAndTrack(message, message.length, seq, operation, false, undefined);
  }

  private sendAndTrack(
    msg: Uint8Array,
    len: number,
    seq: number,
    operation: string,
    dump: boolean,
    timeoutMs: number | undefined,
  ): Promise<NetlinkMessage[]> {
    const sent = Number(this.fns.sendto(this.fd, msg, len, 0, this.kernelAddr, SOCKADDR_NL_BYTES));
    const sendErrno = sent < 0 ? errno() : 0;
    return new Promise<NetlinkMessage[]>((resolve, reject) => {
      if (sent < 0) {
        reject(new NetlinkError(operation, sendErrno, 'sendto'));
        return;
      }
      this.pending.set(seq, {
        operation,
        dump,
        messages: [],
        deadline: Date.now() + (timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
        resolve,
        reject,
      });
      // Replies to most requests are queued before sendto returns: read them right away.
      this.drain();
      if (this.pending.has(seq)) this.startPump();
      else this.updateReaderRef();
    });
  }

  /** Stops reading, rejects pending requests, closes the descriptor. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listener = undefined;
    this.clearExpiry();
    const reader = this.reader;
    this.reader = undefined;
    reader?.close();
    if (this.polling)
      await new Promise<void>((r) => {
        this.pollReturned = r;
      });
    for (const p of this.pending.values()) p.reject(new NetlinkClosedError(`${p.operation}: socket closed`));
    this.pending.clear();
    this.fns.close(this.fd);
  }

  private nextSeq(): number {
    this.seq = this.seq >= 0xffff_fff0 ? 1 : this.seq + 1;
    return this.seq;
  }

  private assertOpen(): void {
    if (this.closed) throw new NetlinkClosedError('netlink socket is closed');
  }

  /** Starts one poll() unless one is outstanding; its callback drains and polls again while needed. */
  private startPump(): void {
    if (this.closed) return;
    const wanted = this.pending.size > 0 || this.loopListens;
    if (!this.readerUnavailable && wanted) {
      this.reader ??= this.openReader();
      if (this.reader) {
        this.reader.ref();
        if (this.pending.size > 0) this.armExpiry();
        return;
      }
    }
    if (this.polling || !wanted || this.reader) return;
    this.polling = true;
    this.pollAsync(this.pfd, 1, POLL_INTERVAL_MS, this.onPoll);
  }

  private readonly onPoll = (err: unknown, n: number): void => {
    this.polling = false;
    if (this.closed) {
      const r = this.pollReturned;
      this.pollReturned = undefined;
      r?.();
      return;
    }
    if (!err && n > 0) this.drain();
    this.expire();
    // Polls again while a request is pending or a listener is set (a request may have come since).
    // Re-arming costs ~15 µs of main-thread time (koffi's async call setup): it is done after the
    // listeners' reactions, including those they deferred to promise jobs, so that it is not on
    // the path from event to reaction. Data arriving meanwhile makes the next poll return at once.
    if (n > 0) setImmediate(this.rearm);
    else this.startPump();
  };

  private readonly rearm = (): void => this.startPump();

  /**
   * The event-loop reader: a dup of the descriptor opened as a libuv pipe handle (Node's own
   * `pipe_wrap` binding, which accepts any descriptor). libuv polls it in the event loop's own
   * epoll set and read()s each datagram into a fresh buffer, handed to `onread` (the StreamBase
   * protocol: byte count and offset in `stream_wrap`'s streamBaseState), without the net.Socket /
   * Readable layers: a kernel notification wakes this thread directly, with no helper thread.
   * Undefined (and koffi's poll used from then on) when the bindings or the handle are unavailable.
   */
  private openReader(): PipeHandle | undefined {
    let dupFd = -1;
    try {
      const bind = (name: string) => (process as unknown as { binding(n: string): unknown }).binding(name);
      const pipe = bind('pipe_wrap') as PipeWrapBinding;
      const stream = bind('stream_wrap') as StreamWrapBinding;
      const state = stream.streamBaseState;
      const kBytes = stream.kReadBytesOrError;
      const kOffset = stream.kArrayBufferOffset;
      if (!state || typeof kBytes !== 'number' || typeof kOffset !== 'number')
        throw new Error('no stream_wrap');
      dupFd = this.fns.fcntl(this.fd, F_DUPFD_CLOEXEC, 0) as number;
      if (dupFd < 0) throw new NativeCallError('fcntl(F_DUPFD_CLOEXEC)', errno());
      const handle = new pipe.Pipe(pipe.constants.SOCKET);
      if (handle.open(dupFd) !== 0) throw new Error('uv_pipe_open failed');
      dupFd = -1; // the handle owns it now
      handle.onread = (ab?: ArrayBuffer) => {
        const n = state[kBytes]!;
        if (n > 0 && ab) {
          this.onDatagram(new Uint8Array(ab, state[kOffset]!, n));
          // Datagrams queued behind this one (a burst: created + established) are read here, in
          // the same callback, instead of one event-loop iteration (epoll_wait + read + callback)
          // each. The first one's listeners have run (and sent their commands) before this recv.
          if (this.loopListens || this.pending.size > 0) this.drain();
        } else if (n < 0) this.onReaderError(handle, -n);
      };
      if (handle.readStart() !== 0) {
        handle.close();
        throw new Error('uv_read_start failed');
      }
      return handle;
    } catch {
      if (dupFd >= 0) this.fns.close(dupFd);
      this.readerUnavailable = true;
      return undefined;
    }
  }

  private onDatagram(datagram: Uint8Array): void {
    if (this.closed) return;
    for (const msg of parseMessages(datagram).messages) this.dispatch(msg);
    this.updateReaderRef();
  }

  /** read() failed (libuv stops reading then): close the handle; ENOBUFS gets a new one. */
  private onReaderError(handle: PipeHandle, code: number): void {
    if (this.reader === handle) this.reader = undefined;
    handle.close();
    if (this.closed) return;
    if (code === ENOBUFS) {
      this.listener?.error(new NetlinkError('recv', ENOBUFS, 'receive buffer overrun: messages were lost'));
    } else {
      // Anything else (EOF is a negative libuv code too): fail what waits, use koffi's poll from now on.
      this.readerUnavailable = true;
      this.failAll(new NetlinkError('recv', code > 0 && code < 4096 ? code : EBADMSG));
    }
    setImmediate(this.rearm);
  }

  /** Keeps the process alive through the reader only while something waits for data. */
  private updateReaderRef(): void {
    if (!this.reader) return;
    if (this.pending.size > 0 || this.loopListens) this.reader.ref();
    else {
      this.reader.unref();
      this.clearExpiry();
    }
  }

  /** With the reader, pending requests time out by this timer (koffi's poll checks at each return). */
  private armExpiry(): void {
    if (this.expiryTimer) return;
    this.expiryTimer = setInterval(() => {
      this.expire();
      this.updateReaderRef();
    }, POLL_INTERVAL_MS);
    this.expiryTimer.unref();
  }

  private clearExpiry(): void {
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    this.expiryTimer = undefined;
  }

  private expire(): void {
    if (this.pending.size === 0) return;
    const now = Date.now();
    for (const [seq, p] of this.pending) {
      if (now > p.deadline) {
        this.pending.delete(seq);
        p.reject(new NetlinkError(p.operation, ETIMEDOUT, 'no reply from the kernel'));
      }
    }
  }

  /** Reads every queued datagram without blocking and dispatches its messages. */
  private drain(): void {
    while (this.readDatagram()) {}
  }

  /**
   * Reads one queued datagram without blocking and dispatches its messages. False when there was
   * none (or the socket failed or closed).
   */
  private readDatagram(): boolean {
    for (;;) {
      if (this.closed) return false;
      const n = Number(this.fns.recv(this.fd, this.recvBuffer, RECV_BUFFER_BYTES, MSG_DONTWAIT | MSG_TRUNC));
      if (n < 0) {
        const e = errno();
        if (e === EAGAIN) return false;
        if (e === EINTR) continue;
        const err = new NetlinkError(
          'recv',
          e,
          e === ENOBUFS ? 'receive buffer overrun: messages were lost' : undefined,
        );
        if (e === ENOBUFS) {
          this.listener?.error(err);
          continue;
        }
        this.failAll(err);
        return false;
      }
      if (n === 0) return false;
      if (n > RECV_BUFFER_BYTES) {
        this.failAll(
          new NetlinkError('recv', EBADMSG, `datagram of ${n} bytes exceeds ${RECV_BUFFER_BYTES}`),
        );
        continue;
      }
      // The owner's first look, in the receive buffer itself (readNow only).
      this.rawPeek?.(this.recvBuffer, n);
      // A copy (listeners may keep views into it) as a plain Uint8Array, like the reader's
      // datagrams: one object shape for the decoders, so that V8 keeps their optimized code.
      const datagram = new Uint8Array(n);
      datagram.set(this.recvBuffer.subarray(0, n));
      for (const msg of parseMessages(datagram).messages) this.dispatch(msg);
      return true;
    }
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.listener?.error(err);
  }

  private dispatch(msg: NetlinkMessage): void {
    const p = msg.seq !== 0 ? this.pending.get(msg.seq) : undefined;
    if (!p) {
      if (msg.type !== NLMSG_NOOP) this.listener?.message(msg);
      return;
    }
    if (msg.type === NLMSG_ERROR) {
      this.pending.delete(msg.seq);
      const e = parseErrorPayload(msg.payload, msg.flags);
      if (!e) p.reject(new NetlinkError(p.operation, EBADMSG, 'malformed NLMSG_ERROR'));
      else if (e.errno === 0) p.resolve(p.messages);
      else p.reject(new NetlinkError(p.operation, e.errno, e.extackMessage));
      return;
    }
    if (msg.type === NLMSG_DONE) {
      this.pending.delete(msg.seq);
      // NLMSG_DONE carries an int error (negative errno) for dumps that failed midway.
      const code =
        msg.payload.length >= 4
          ? -new DataView(msg.payload.buffer, msg.payload.byteOffset, 4).getInt32(0, true)
          : 0;
      const e = parseErrorPayload(msg.payload, msg.flags);
      if (code > 0) p.reject(new NetlinkError(p.operation, code, e?.extackMessage));
      else if (msg.flags & NLM_F_DUMP_INTR)
        p.reject(new NetlinkError(p.operation, EINTR, 'dump interrupted, retry'));
      else p.resolve(p.messages);
      return;
    }
    if (msg.type === NLMSG_OVERRUN) {
      this.pending.delete(msg.seq);
      p.reject(new NetlinkError(p.operation, ENOBUFS, 'overrun'));
      return;
    }
    if (p.messages.length >= MAX_DUMP_MESSAGES) {
      this.pending.delete(msg.seq);
      p.reject(new NetlinkError(p.operation, ENOBUFS, `more than ${MAX_DUMP_MESSAGES} reply messages`));
      return;
    }
    p.messages.push(msg);
  }
}
