/**
 * Worker-thread userspace path manager for the pm-latency benchmark: the fastest honest reaction
 * a Node process can give with this project's netlink codecs.
 *
 * The main-thread MptcpPmClient waits for events with poll() on a koffi worker and then hops to
 * the event loop: two thread wake-ups between the kernel's event and our SUBFLOW_CREATE. Here a
 * worker thread blocks in poll() itself and, on an `established` event, encodes and sends
 * MPTCP_PM_CMD_SUBFLOW_CREATE from the same thread: one wake-up, as for the kernel's own PM worker.
 *
 * The hot path avoids the general codecs' per-message allocations (measured: ~20-40 µs per
 * encode or decode, mostly small typed-array and DataView allocation and the GC they cause): the
 * established event is read in place (peekEstablished: token, daddr, dport, server side), and the SUBFLOW_CREATE
 * message is built once per remote address with the project's encoder, then only the token,
 * port and sequence number are patched (their offsets found by encoding twice and diffing).
 *
 * With `realtimePriority` the thread runs SCHED_FIFO (a separate, clearly labelled benchmark case).
 *
 * Contract: the main thread creates both netlink sockets (in the client namespace; the events one
 * joined to mptcp_pm_events), resolves the family id, and passes the fds in `workerData`. It
 * controls the reactor through a shared Int32Array: [STOP] ≠ 0 ends the loop (within
 * POLL_TIMEOUT_MS), [ACTIVE] ≠ 0 makes it react (set it with Atomics.store + Atomics.notify; while
 * it is 0 the reactor sleeps and on activation discards the events queued meanwhile); the reactor counts into [CREATED], [ERRORS],
 * [RETRIES] and writes the last errno into [LAST_ERRNO]. It never closes the fds.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { u32Attr } from '../netlink/attributes.js';
import { emitGenlPayload } from '../netlink/genl.js';
import {
  emitMessage,
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  parseErrorPayload,
  parseMessages,
} from '../netlink/message.js';
import { encodePmAddress, MPTCP_PM_ATTR, MPTCP_PM_CMD, MPTCP_PM_VER } from '../netlink/mptcp-pm.js';
import {
  decodePmEvent,
  emitPmEvent,
  ipv4Text,
  MPTCP_EVENT,
  peekEstablished,
  warmUpEvents,
} from '../netlink/mptcp-pm-events.js';
import { errno, libcFunction } from '../native/libc.js';
import { useRealtimeScheduling } from '../pm/realtime.js';

export const SLOT = { STOP: 0, ACTIVE: 1, CREATED: 2, ERRORS: 3, RETRIES: 4, LAST_ERRNO: 5 } as const;
export const SLOTS = 6;

export interface ReactorData {
  eventsFd: number;
  cmdFd: number;
  familyId: number;
  local: { addr: string; id: number; ifindex: number };
  shared: SharedArrayBuffer;
  /** SCHED_FIFO priority for the reactor thread (../pm/realtime.ts); default scheduling when absent. */
  realtimePriority?: number;
}

const POLL_TIMEOUT_MS = 50;
const MAX_ENOTCONN_RETRIES = 500;
const RETRY_WAIT_MS = 0.02;
const ENOTCONN = 107;
const MSG_DONTWAIT = 0x40;
const POLLIN = 1;
const AF_NETLINK = 16;

function main(d: ReactorData): void {
  if (d.realtimePriority !== undefined) useRealtimeScheduling(d.realtimePriority);
  const poll = libcFunction('int poll(void *, unsigned long, int)');
  const recv = libcFunction('intptr_t recv(int, void *, size_t, int)');
  const sendto = libcFunction('intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)');
  const ctl = new Int32Array(d.shared);
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(d.eventsFd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  const buf = Buffer.alloc(64 * 1024);
  const ackBuf = Buffer.alloc(8 * 1024);
  const kernel = Buffer.alloc(12);
  kernel.writeUInt16LE(AF_NETLINK, 0);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let seq = 1;

  const encode = (token: number, remote: { addr: string; port: number }, msgSeq: number): Uint8Array =>
    emitMessage(
      { type: d.familyId, flags: NLM_F_REQUEST | NLM_F_ACK, seq: msgSeq, pid: 0 },
      emitGenlPayload(MPTCP_PM_CMD.SUBFLOW_CREATE, MPTCP_PM_VER, [
        u32Attr(MPTCP_PM_ATTR.TOKEN, token),
        encodePmAddress(d.local),
        encodePmAddress(remote, MPTCP_PM_ATTR.ADDR_REMOTE),
      ]),
    );
  const templates = new Map<string, Template>();
  const template = (daddr: string): Template => {
    let t = templates.get(daddr);
    if (!t) {
      t = makeTemplate((token, port, msgSeq) => encode(token, { addr: daddr, port }, msgSeq));
      templates.set(daddr, t);
    }
    return t;
  };

  /** Sends SUBFLOW_CREATE and returns the kernel's errno (0 = done). */
  const create = (token: number, daddr: string, dport: number): number => {
    seq++;
    const t = template(daddr);
    t.fill(token, dport, seq);
    if (Number(sendto(d.cmdFd, t.buf, t.buf.length, 0, kernel, 12)) < 0) return errno();
    // mptcp_pm answers inside sendmsg: the ACK is already queued.
    for (;;) {
      const n = Number(recv(d.cmdFd, ackBuf, ackBuf.length, MSG_DONTWAIT));
      if (n <= 0) return n === 0 ? 0 : errno();
      for (const m of parseMessages(ackBuf.subarray(0, n)).messages) {
        if (m.type === NLMSG_ERROR && m.seq === seq) return parseErrorPayload(m.payload, m.flags)?.errno ?? 0;
      }
    }
  };

  warmUp(d.familyId, template);

  let active = false;
  while (Atomics.load(ctl, SLOT.STOP) === 0) {
    if (Atomics.load(ctl, SLOT.ACTIVE) === 0) {
      // Inactive: sleep without touching the socket, so that this thread does not compete for
      // the CPU with the other cases' reactors (the machine may have few cores).
      active = false;
      Atomics.wait(ctl, SLOT.ACTIVE, 0, POLL_TIMEOUT_MS);
      continue;
    }
    if (!active) {
      // Events queued while inactive belong to other cases' connections: discard them.
      while (Number(recv(d.eventsFd, buf, buf.length, MSG_DONTWAIT)) > 0) {}
      active = true;
    }
    if (poll(pfd, 1, POLL_TIMEOUT_MS) <= 0) continue;
    for (;;) {
      const n = Number(recv(d.eventsFd, buf, buf.length, MSG_DONTWAIT));
      if (n <= 0) break;
      let pos = 0;
      while (pos + 16 <= n) {
        const len = buf.readUInt32LE(pos);
        if (len < 16 || pos + len > n) break;
        const type = buf.readUInt16LE(pos + 4);
        const ev =
          type === d.familyId && Atomics.load(ctl, SLOT.ACTIVE) !== 0
            ? readEstablished(buf, pos, len)
            : undefined;
        pos += (len + 3) & ~3;
        if (!ev) continue;
        let err = create(ev.token, ev.daddr, ev.dport);
        for (let i = 0; err === ENOTCONN && i < MAX_ENOTCONN_RETRIES; i++) {
          Atomics.add(ctl, SLOT.RETRIES, 1);
          Atomics.wait(pause, 0, 0, RETRY_WAIT_MS);
          err = create(ev.token, ev.daddr, ev.dport);
        }
        if (err === 0) Atomics.add(ctl, SLOT.CREATED, 1);
        else {
          Atomics.add(ctl, SLOT.ERRORS, 1);
          Atomics.store(ctl, SLOT.LAST_ERRNO, err);
        }
      }
    }
  }
}

/** Iterations of warmUp (as MptcpPmClient's warm-up: enough for TurboFan on this path). */
const WARM_UP_ITERATIONS = 10_000;

/**
 * Runs the reaction path's JS (reading events in place, patching the command template) on
 * synthetic events of every kind before the first real one, without sending anything: this
 * thread's code is otherwise interpreted for its first few hundred events.
 */
function warmUp(familyId: number, template: (daddr: string) => Template): void {
  const datagrams = warmUpEvents().map((e) => {
    const m = emitMessage({ type: familyId, flags: 0, seq: 0, pid: 0 }, emitPmEvent(e));
    const b = Buffer.alloc(m.length);
    b.set(m);
    return b;
  });
  for (let i = 0; i < WARM_UP_ITERATIONS; i++) {
    const b = datagrams[i % datagrams.length]!;
    const ev = readEstablished(b, 0, b.length);
    if (ev) template(ev.daddr).fill(i & 2 ? 0x8000_0000 + i : i, ev.dport, i);
  }
}

interface Template {
  buf: Buffer;
  fill(token: number, port: number, seq: number): void;
}

/**
 * A message to patch: `encode(token, port, seq)` is called twice with different values; the
 * positions of the probe values (in whichever byte order the encoder wrote them: the token is
 * host order, the port attribute too, MPTCP_PM_ADDR_ATTR_PORT being a plain u16) are where the
 * fields live. The sequence number is at nlmsghdr offset 8.
 */
function makeTemplate(encode: (token: number, port: number, seq: number) => Uint8Array): Template {
  const TOKEN_PROBE = 0x11223344;
  const PORT_PROBE = 0x5566;
  const a = Buffer.from(encode(TOKEN_PROBE, PORT_PROBE, 1));
  const b = Buffer.from(encode(0x778899aa, 0xbbcc, 1));
  const find = (probe: Buffer): number => {
    for (let i = 0; i + probe.length <= a.length; i++) {
      if (a.subarray(i, i + probe.length).equals(probe) && !b.subarray(i, i + probe.length).equals(probe))
        return i;
    }
    return -1;
  };
  const le32 = Buffer.alloc(4);
  le32.writeUInt32LE(TOKEN_PROBE);
  const tokenOff = find(le32);
  const le16 = Buffer.alloc(2);
  le16.writeUInt16LE(PORT_PROBE);
  const be16 = Buffer.alloc(2);
  be16.writeUInt16BE(PORT_PROBE);
  const portLe = find(le16);
  const portOff = portLe >= 0 ? portLe : find(be16);
  if (tokenOff < 0 || portOff < 0) throw new Error('SUBFLOW_CREATE template: fields not found');
  return {
    buf: a,
    fill(token: number, port: number, seq: number) {
      a.writeUInt32LE(token >>> 0, tokenOff);
      if (portLe >= 0) a.writeUInt16LE(port, portOff);
      else a.writeUInt16BE(port, portOff);
      a.writeUInt32LE(seq >>> 0, 8);
    },
  };
}

/**
 * The `established` event of a client-side connection in the message at `pos` of length `len`:
 * IPv4 read in place (peekEstablished), IPv6 decoded; undefined for anything else.
 */
function readEstablished(
  buf: Buffer,
  pos: number,
  len: number,
): { token: number; daddr: string; dport: number } | undefined {
  const payload = buf.subarray(pos + NLMSG_HDRLEN, pos + len);
  if (payload[0] !== MPTCP_EVENT.ESTABLISHED) return undefined;
  const peek = peekEstablished(payload);
  if (peek)
    return peek.serverSide
      ? undefined
      : { token: peek.token, daddr: ipv4Text(peek.daddr4), dport: peek.dport };
  const ev = decodePmEvent(payload);
  return ev?.type === 'established' && !ev.serverSide
    ? { token: ev.token, daddr: ev.daddr, dport: ev.dport }
    : undefined;
}

if (parentPort && (workerData as ReactorData | undefined)?.shared) {
  main(workerData as ReactorData);
  parentPort.postMessage('stopped');
}
