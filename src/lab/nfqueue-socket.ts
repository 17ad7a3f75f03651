/**
 * One NFQUEUE queue bound over a NETLINK_NETFILTER socket: binding and configuration, reading
 * queued packets' ids without blocking, sending verdicts. Built on the project's NetlinkSocket for
 * creation (so it lives in the namespace the caller opens it in) and on raw libc calls for the hot
 * path (the request/response pump of NetlinkSocket is not used at all).
 *
 * Contract:
 * - `NfqueueSocket.open(netns?)` is synchronous: the socket belongs to `netns` (via withNetns) or
 *   to the current namespace. Its receive buffer is raised with SO_RCVBUFFORCE (root) so bursts of
 *   queued packets are not lost before they are read.
 * - `bind(queueNum, …)` sends NFQNL_MSG_CONFIG requests with NLM_F_ACK and reads their ACKs
 *   synchronously (nfnetlink answers inside sendmsg); a refusal throws NfqueueError with the
 *   errno name (EPERM: another socket holds the queue, or not root). Copy mode is
 *   NFQNL_COPY_META: the kernel sends metadata only, never packet bytes.
 * - `waitReadableAny(fds, timeoutMs)` waits with ppoll(2) on a koffi worker thread (nanosecond
 *   timeout, the event loop never blocks) and resolves true when one of the sockets has data.
 * - `readPacketIds(onPacket)` reads queued messages (at most MAX_DATAGRAMS_PER_READ datagrams) with
 *   MSG_DONTWAIT and calls `onPacket(id)`
 *   for each NFQNL_MSG_PACKET in arrival order; NLMSG_ERROR replies to verdicts are counted in
 *   `verdictErrors`, receive-buffer overruns (ENOBUFS) in `overruns`.
 * - `sendVerdicts(payloads)` sends NFQNL_MSG_VERDICT / VERDICT_BATCH messages (no ACK asked) in
 *   one datagram.
 * - `close()` unbinds (the kernel drops what is still queued: release it first) and closes.
 */
import { errno, errnoName, libcFunction, NativeCallError } from '../native/libc.js';
import { NLM_F_ACK, NLM_F_REQUEST, NLMSG_ERROR, nlmsgAlign, parseErrorPayload } from '../netlink/message.js';
import {
  AF_INET,
  AF_INET6,
  emitConfig,
  emitNfqMessage,
  NETLINK_NETFILTER,
  NFQA_CFG_F,
  NFQNL_CFG_CMD,
  NFQNL_COPY,
  NFQNL_MSG,
  nfqMessageType,
  packetIdFast,
} from '../netlink/nfnetlink-queue.js';
import { AF_NETLINK, NetlinkSocket } from '../netlink/socket.js';
import { withNetns } from './netns.js';

/** Receive buffer forced on the socket: ~20k queued-packet messages (each ~800 bytes of truesize). */
export const NFQ_RCVBUF_BYTES = 16 * 1024 * 1024;
/** Packets the kernel may hold for one queue (its default, 1024, is too small for 20 ms at 1 Gbit/s). */
export const DEFAULT_QUEUE_MAXLEN = 65_536;
const RECV_BUFFER_BYTES = 64 * 1024;
/** Bound on datagrams read per readPacketIds call, so a flood cannot starve the releases. */
export const MAX_DATAGRAMS_PER_READ = 4096;
const SOL_SOCKET = 1;
const SO_RCVBUFFORCE = 33;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;
const EINTR = 4;
const ENOBUFS = 105;
const POLLIN = 0x1;
const POLLFD_BYTES = 8;
const NLMSG_HDRLEN = 16;
const SOCKADDR_NL_BYTES = 12;

export class NfqueueError extends Error {
  override readonly name = 'NfqueueError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

function fns() {
  return {
    setsockopt: libcFunction('int setsockopt(int, int, int, const void *, uint32_t)'),
    sendto: libcFunction('intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)'),
    recv: libcFunction('intptr_t recv(int, void *, size_t, int)'),
  };
}

export interface BindOptions {
  queueMaxLen?: number;
  /** Accept instead of drop when the queue overflows (default false: overflow is loss). */
  failOpen?: boolean;
}

export class NfqueueSocket {
  private readonly f = fns();
  private readonly recvBuffer = Buffer.alloc(RECV_BUFFER_BYTES);
  private readonly kernelAddr = Buffer.alloc(SOCKADDR_NL_BYTES);
  private readonly backlog: number[] = [];
  private seq = 1;
  private queueNum: number | undefined;
  verdictErrors = 0;
  overruns = 0;

  private constructor(private readonly sock: NetlinkSocket) {
    this.kernelAddr.writeUInt16LE(AF_NETLINK, 0);
    const size = Buffer.alloc(4);
    size.writeInt32LE(NFQ_RCVBUF_BYTES, 0);
    // Best effort: without CAP_NET_ADMIN the default buffer stays (bind will fail anyway).
    this.f.setsockopt(sock.fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4);
  }

  /** Opens a NETLINK_NETFILTER socket in `netns` (a name under /var/run/netns) or here. */
  static open(netns?: string): NfqueueSocket {
    const open = () => NetlinkSocket.open(NETLINK_NETFILTER);
    return new NfqueueSocket(netns ? withNetns(netns, open) : open());
  }

  get fd(): number {
    return this.sock.fd;
  }

  /** Binds queue `queueNum` to this socket, metadata-only copies. */
  bind(queueNum: number, options: BindOptions = {}): void {
    // PF_BIND is a no-op since Linux 3.8 but harmless; older kernels need it.
    for (const pf of [AF_INET, AF_INET6])
      this.config(queueNum, { command: { cmd: NFQNL_CFG_CMD.PF_BIND, pf } });
    this.config(queueNum, { command: { cmd: NFQNL_CFG_CMD.BIND } });
    this.queueNum = queueNum;
    this.config(queueNum, {
      params: { copyMode: NFQNL_COPY.META, copyRange: 0 },
      queueMaxLen: options.queueMaxLen ?? DEFAULT_QUEUE_MAXLEN,
      flags: { mask: NFQA_CFG_F.FAIL_OPEN, value: options.failOpen ? NFQA_CFG_F.FAIL_OPEN : 0 },
    });
  }

  private config(queueNum: number, cfg: Parameters<typeof emitConfig>[1]): void {
    const seq = ++this.seq;
    const msg = emitNfqMessage(NFQNL_MSG.CONFIG, NLM_F_REQUEST | NLM_F_ACK, seq, emitConfig(queueNum, cfg));
    this.send(msg, 'NFQNL_MSG_CONFIG');
    // The ACK is queued before sendto returns; packets read meanwhile go to the backlog.
    for (;;) {
      const n = this.recvOne();
      if (n === 0) throw new NfqueueError(`NFQNL_MSG_CONFIG for queue ${queueNum}: no ACK from the kernel`);
      const err = this.scan(n, (id) => this.backlog.push(id), seq);
      if (err === undefined) continue;
      if (err === 0) return;
      const code = errnoName(err);
      const hint =
        code === 'EPERM' || code === 'EBUSY'
          ? ' (another socket is bound to this queue, or no CAP_NET_ADMIN in the namespace)'
          : '';
      throw new NfqueueError(`NFQNL_MSG_CONFIG for queue ${queueNum} failed: ${code}${hint}`, code);
    }
  }

  private send(msg: Uint8Array, what: string): void {
    const n = Number(this.f.sendto(this.sock.fd, msg, msg.length, 0, this.kernelAddr, SOCKADDR_NL_BYTES));
    if (n < 0) throw new NativeCallError(`sendto(${what})`, errno());
  }

  /** Reads one datagram into recvBuffer; its length, or 0 when nothing is queued. */
  private recvOne(): number {
    for (;;) {
      const n = Number(this.f.recv(this.sock.fd, this.recvBuffer, RECV_BUFFER_BYTES, MSG_DONTWAIT));
      if (n >= 0) return n;
      const e = errno();
      if (e === EAGAIN) return 0;
      if (e === EINTR) continue;
      if (e === ENOBUFS) {
        this.overruns++;
        continue;
      }
      throw new NativeCallError('recv(NETLINK_NETFILTER)', e);
    }
  }

  /**
   * Walks the messages of the datagram in recvBuffer[0, n): packet ids to `onPacket`; returns the
   * errno (0 = ACK) of an NLMSG_ERROR answering `seq`, else undefined.
   */
  private scan(n: number, onPacket: (id: number) => void, seq = -1): number | undefined {
    const b = this.recvBuffer;
    const packetType = nfqMessageType(NFQNL_MSG.PACKET);
    let result: number | undefined;
    let pos = 0;
    while (pos + NLMSG_HDRLEN <= n) {
      const len = b.readUInt32LE(pos);
      if (len < NLMSG_HDRLEN || pos + len > n) break;
      const type = b.readUInt16LE(pos + 4);
      const payload = b.subarray(pos + NLMSG_HDRLEN, pos + len);
      if (type === packetType) {
        const id = packetIdFast(payload);
        if (id >= 0) onPacket(id);
      } else if (type === NLMSG_ERROR) {
        const e = parseErrorPayload(payload, b.readUInt16LE(pos + 6));
        if (e && e.request.seq === seq) result = e.errno;
        else if (e && e.errno !== 0) this.verdictErrors++;
      }
      pos += nlmsgAlign(len);
    }
    return result;
  }

  /** Calls `onPacket(id)` for every packet queued so far; returns how many. Never blocks. */
  readPacketIds(onPacket: (id: number) => void): number {
    let count = 0;
    while (this.backlog.length > 0) {
      onPacket(this.backlog.shift()!);
      count++;
    }
    const counted = (id: number) => {
      count++;
      onPacket(id);
    };
    for (let i = 0; i < MAX_DATAGRAMS_PER_READ; i++) {
      const n = this.recvOne();
      if (n === 0) break;
      this.scan(n, counted);
    }
    return count;
  }

  /** Sends verdict payloads (from emitVerdict / emitVerdictBatch), in order, in one datagram. */
  sendVerdicts(verdicts: readonly { batch: boolean; payload: Uint8Array }[]): void {
    if (verdicts.length === 0) return;
    const msgs = verdicts.map((v) =>
      emitNfqMessage(
        v.batch ? NFQNL_MSG.VERDICT_BATCH : NFQNL_MSG.VERDICT,
        NLM_F_REQUEST,
        ++this.seq,
        v.payload,
      ),
    );
    const total = msgs.reduce((s, m) => s + nlmsgAlign(m.length), 0);
    const out = new Uint8Array(total);
    let pos = 0;
    for (const m of msgs) {
      out.set(m, pos);
      pos += nlmsgAlign(m.length);
    }
    this.send(out, 'NFQNL_MSG_VERDICT');
  }

  /** Unbinds the queue (best effort) and closes the socket. */
  async close(): Promise<void> {
    if (this.sock.isClosed) return;
    if (this.queueNum !== undefined) {
      try {
        this.config(this.queueNum, { command: { cmd: NFQNL_CFG_CMD.UNBIND } });
      } catch {
        // the socket is going away anyway; closing it unbinds too
      }
    }
    await this.sock.close();
  }
}

/** Resolves true when one of `fds` is readable, false after `timeoutMs` (ppoll, off-thread). */
export function waitReadableAny(fds: readonly number[], timeoutMs: number): Promise<boolean> {
  const pollfds = Buffer.alloc(POLLFD_BYTES * fds.length);
  fds.forEach((fd, i) => {
    pollfds.writeInt32LE(fd, i * POLLFD_BYTES);
    pollfds.writeInt16LE(POLLIN, i * POLLFD_BYTES + 4);
  });
  const ns = Math.max(0, Math.round(timeoutMs * 1e6));
  const timespec = Buffer.alloc(16);
  timespec.writeBigInt64LE(BigInt(Math.floor(ns / 1e9)), 0);
  timespec.writeBigInt64LE(BigInt(ns % 1e9), 8);
  const ppoll = libcFunction('int ppoll(void *, unsigned long, const void *, const void *)') as unknown as {
    async(...args: unknown[]): void;
  };
  return new Promise((resolve) => {
    ppoll.async(pollfds, fds.length, timespec, null, (err: unknown, n: number) => resolve(!err && n > 0));
  });
}
