/**
 * Worker-thread userspace path manager for the pm-latency benchmark: the fastest honest reaction
 * a Node process can give with this project's netlink codecs.
 *
 * The main-thread MptcpPmClient waits for events with poll() on a koffi worker and then hops to
 * the event loop: two thread wake-ups between the kernel's event and our SUBFLOW_CREATE. Here a
 * worker thread blocks in poll() itself and, on an `established` event, encodes and sends
 * MPTCP_PM_CMD_SUBFLOW_CREATE from the same thread: one wake-up, as for the kernel's own PM worker.
 *
 * Contract: the main thread creates both netlink sockets (in the client namespace; the events one
 * joined to mptcp_pm_events), resolves the family id, and passes the fds in `workerData`. It
 * controls the reactor through a shared Int32Array: [STOP] ≠ 0 ends the loop (within
 * POLL_TIMEOUT_MS), [ACTIVE] ≠ 0 makes it react; the reactor counts into [CREATED], [ERRORS],
 * [RETRIES] and writes the last errno into [LAST_ERRNO]. It never closes the fds.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { u32Attr } from '../src/netlink/attributes.js';
import { emitGenlPayload } from '../src/netlink/genl.js';
import {
  emitMessage,
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_ERROR,
  parseErrorPayload,
  parseMessages,
} from '../src/netlink/message.js';
import { encodePmAddress, MPTCP_PM_ATTR, MPTCP_PM_CMD, MPTCP_PM_VER } from '../src/netlink/mptcp-pm.js';
import { decodePmEvent } from '../src/netlink/mptcp-pm-events.js';
import { errno, libcFunction } from '../src/native/libc.js';

export const SLOT = { STOP: 0, ACTIVE: 1, CREATED: 2, ERRORS: 3, RETRIES: 4, LAST_ERRNO: 5 } as const;
export const SLOTS = 6;

export interface ReactorData {
  eventsFd: number;
  cmdFd: number;
  familyId: number;
  local: { addr: string; id: number; ifindex: number };
  shared: SharedArrayBuffer;
}

const POLL_TIMEOUT_MS = 50;
const MAX_ENOTCONN_RETRIES = 500;
const RETRY_WAIT_MS = 0.02;
const ENOTCONN = 107;
const MSG_DONTWAIT = 0x40;
const POLLIN = 1;
const AF_NETLINK = 16;

function main(d: ReactorData): void {
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

  /** Sends SUBFLOW_CREATE and returns the kernel's errno (0 = done). */
  const create = (token: number, remote: { addr: string; port: number }): number => {
    seq++;
    const msg = emitMessage(
      { type: d.familyId, flags: NLM_F_REQUEST | NLM_F_ACK, seq, pid: 0 },
      emitGenlPayload(MPTCP_PM_CMD.SUBFLOW_CREATE, MPTCP_PM_VER, [
        u32Attr(MPTCP_PM_ATTR.TOKEN, token),
        encodePmAddress(d.local),
        encodePmAddress(remote, MPTCP_PM_ATTR.ADDR_REMOTE),
      ]),
    );
    if (Number(sendto(d.cmdFd, msg, msg.length, 0, kernel, 12)) < 0) return errno();
    // nlctrl and mptcp_pm answer inside sendmsg: the ACK is already queued.
    for (;;) {
      const n = Number(recv(d.cmdFd, ackBuf, ackBuf.length, MSG_DONTWAIT));
      if (n <= 0) return n === 0 ? 0 : errno();
      for (const m of parseMessages(ackBuf.subarray(0, n)).messages) {
        if (m.type === NLMSG_ERROR && m.seq === seq) return parseErrorPayload(m.payload, m.flags)?.errno ?? 0;
      }
    }
  };

  while (Atomics.load(ctl, SLOT.STOP) === 0) {
    if (poll(pfd, 1, POLL_TIMEOUT_MS) <= 0) continue;
    for (;;) {
      const n = Number(recv(d.eventsFd, buf, buf.length, MSG_DONTWAIT));
      if (n <= 0) break;
      for (const m of parseMessages(buf.subarray(0, n)).messages) {
        if (m.type !== d.familyId || Atomics.load(ctl, SLOT.ACTIVE) === 0) continue;
        const ev = decodePmEvent(m.payload);
        if (ev?.type !== 'established' || ev.serverSide) continue;
        let err = create(ev.token, { addr: ev.daddr, port: ev.dport });
        for (let i = 0; err === ENOTCONN && i < MAX_ENOTCONN_RETRIES; i++) {
          Atomics.add(ctl, SLOT.RETRIES, 1);
          Atomics.wait(pause, 0, 0, RETRY_WAIT_MS);
          err = create(ev.token, { addr: ev.daddr, port: ev.dport });
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

if (parentPort && (workerData as ReactorData | undefined)?.shared) {
  main(workerData as ReactorData);
  parentPort.postMessage('stopped');
}
