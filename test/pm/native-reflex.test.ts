/**
 * The native reflex thread (native/pm-reflex.c through src/pm/native-reflex.ts) on socket pairs
 * standing in for its netlink sockets: this test writes events where the thread reads them, reads
 * the requests it sends, and answers them as the kernel would (NLMSG_ERROR). Skips, saying why,
 * where the library was not built (no C compiler).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { u32Attr } from '../../src/netlink/attributes.js';
import { emitGenlPayload } from '../../src/netlink/genl.js';
import { emitMessage, NLMSG_ERROR } from '../../src/netlink/message.js';
import { prepareSubflowCreate, SUBFLOW_CREATE_TOKEN_OFFSET } from '../../src/netlink/mptcp-pm-client.js';
import { encodePmAddress, MPTCP_PM_ATTR, MPTCP_PM_CMD } from '../../src/netlink/mptcp-pm.js';
import { emitPmEvent, type KernelPmEvent, peekEstablished } from '../../src/netlink/mptcp-pm-events.js';
import { libcFunction } from '../../src/native/libc.js';
import { fullmesh } from '../../src/pm/controllers/fullmesh.js';
import { ReflexCache, type SubflowCreateEncoder } from '../../src/pm/kernel-reflex.js';
import { KernelPmState } from '../../src/pm/kernel-state.js';
import {
  NativeReflexError,
  NativeReflexThread,
  nativeReflexUnavailableReason,
} from '../../src/pm/native-reflex.js';

const FAMILY = 0x1c;
const unavailable = nativeReflexUnavailableReason();
if (unavailable) console.log(`# skipping native reflex tests: ${unavailable}`);

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const MSG_DONTWAIT = 0x40;
const ENOTCONN = 107;
const EINVAL = 22;

const libc = {
  socketpair: () => libcFunction('int socketpair(int, int, int, _Out_ int *)'),
  send: () => libcFunction('intptr_t send(int, const void *, size_t, int)'),
  recv: () => libcFunction('intptr_t recv(int, void *, size_t, int)'),
  poll: () => libcFunction('int poll(void *, unsigned long, int)'),
  close: () => libcFunction('int close(int)'),
};

function pair(): [number, number] {
  const fds = new Int32Array(2);
  assert.equal(libc.socketpair()(AF_UNIX, SOCK_DGRAM, 0, fds), 0);
  return [fds[0]!, fds[1]!];
}

function sendBytes(fd: number, b: Uint8Array): void {
  assert.equal(Number(libc.send()(fd, b, b.length, 0)), b.length);
}

/** The next datagram on fd within `ms`, or undefined. */
function recvWithin(fd: number, ms: number): Buffer | undefined {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(1, 4);
  if (libc.poll()(pfd, 1, ms) <= 0) return undefined;
  const buf = Buffer.alloc(4096);
  const n = Number(libc.recv()(fd, buf, buf.length, MSG_DONTWAIT));
  return n > 0 ? buf.subarray(0, n) : undefined;
}

/** The kernel's answer to a request: NLMSG_ERROR with -errno and the request's sequence number. */
function ack(fd: number, request: Buffer, errno: number): void {
  const payload = Buffer.alloc(4 + 16);
  payload.writeInt32LE(-errno, 0);
  request.copy(payload, 4, 0, 16);
  sendBytes(fd, emitMessage({ type: NLMSG_ERROR, flags: 0, seq: request.readUInt32LE(8), pid: 0 }, payload));
}

function ipv4(text: string): number {
  return text.split('.').reduce((a, p) => a * 256 + Number(p), 0);
}

function established(token: number, over: Partial<KernelPmEvent & { type: 'established' }> = {}): Uint8Array {
  const ev: KernelPmEvent = {
    type: 'established',
    token,
    family: 4,
    saddr: '10.0.0.1',
    daddr: '10.9.0.1',
    sport: 40000,
    dport: 8080,
    serverSide: false,
    flags: 0,
    ...over,
  } as KernelPmEvent;
  return emitMessage({ type: FAMILY, flags: 0, seq: 0, pid: 0 }, emitPmEvent(ev));
}

function subflowCreate(local: string, id: number): Uint8Array {
  return emitMessage(
    { type: FAMILY, flags: 5, seq: 0, pid: 0 },
    emitGenlPayload(MPTCP_PM_CMD.SUBFLOW_CREATE, 1, [
      u32Attr(MPTCP_PM_ATTR.TOKEN, 0),
      encodePmAddress({ addr: local, id }),
      encodePmAddress({ addr: '10.9.0.1', port: 8080 }, MPTCP_PM_ATTR.ADDR_REMOTE),
    ]),
  );
}

const realEncoder: SubflowCreateEncoder = {
  prepareSubflowCreate: (token, local, remote) => prepareSubflowCreate(FAMILY, token, local, remote),
};

const KEY = { saddr4: ipv4('10.0.0.1'), daddr4: ipv4('10.9.0.1'), dport: 8080 };

async function until<T>(what: string, f: () => T | undefined, ms = 2000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('native reflex thread', { skip: unavailable }, () => {
  let ev: [number, number];
  let cmd: [number, number];
  let thread: NativeReflexThread;
  let token = 0x1000;

  before(() => {
    ev = pair();
    cmd = pair();
    thread = NativeReflexThread.start(
      { familyId: FAMILY, eventsGroup: 0, tokenOffset: SUBFLOW_CREATE_TOKEN_OFFSET, maxRetries: 3 },
      { eventsFd: ev[0], cmdFd: cmd[0] },
    );
  });
  after(async () => {
    await thread.close();
    await thread.close(); // idempotent
    for (const fd of [...ev, ...cmd]) libc.close()(fd);
  });

  test('an installed entry: the messages are sent with the token and fresh sequence numbers, in order', async () => {
    const msgs = [subflowCreate('10.0.1.1', 1), subflowCreate('10.0.2.1', 2)];
    thread.put(KEY, 7, msgs);
    const t = ++token;
    const before = thread.stats();
    sendBytes(ev[1], established(t));
    const seqs: number[] = [];
    for (const m of msgs) {
      const req = recvWithin(cmd[1], 2000);
      assert.ok(req, 'a request');
      const expected = Buffer.from(m);
      expected.writeUInt32LE(t, SUBFLOW_CREATE_TOKEN_OFFSET);
      seqs.push(req.readUInt32LE(8));
      expected.writeUInt32LE(req.readUInt32LE(8), 8);
      assert.deepEqual(req, expected);
      ack(cmd[1], req, 0);
    }
    assert.notEqual(seqs[0], seqs[1]);
    const c = await until('sent', () => {
      const x = thread.claim(t);
      return x.state === 'sent' ? x : undefined;
    });
    assert.deepEqual(c, { state: 'sent', entryId: 7, count: 2, errnos: [0, 0] });
    const s = thread.stats();
    assert.equal(s.hits - before.hits, 1);
    assert.equal(s.sent - before.sent, 2);
  });

  test('ENOTCONN is retried; a refusal is recorded per message', async () => {
    thread.put(KEY, 8, [subflowCreate('10.0.1.1', 1), subflowCreate('10.0.2.1', 2)]);
    const t = ++token;
    const before = thread.stats();
    sendBytes(ev[1], established(t));
    const first = recvWithin(cmd[1], 2000)!;
    ack(cmd[1], first, ENOTCONN);
    const again = recvWithin(cmd[1], 2000)!;
    assert.equal(again.readUInt32LE(SUBFLOW_CREATE_TOKEN_OFFSET), t);
    ack(cmd[1], again, 0);
    const second = recvWithin(cmd[1], 2000)!;
    ack(cmd[1], second, EINVAL);
    const c = await until('sent', () => {
      const x = thread.claim(t);
      return x.state === 'sent' ? x : undefined;
    });
    assert.deepEqual(c.errnos, [0, EINVAL]);
    const s = thread.stats();
    assert.equal(s.retries - before.retries, 1);
    assert.equal(s.errors - before.errors, 1);
  });

  test('a connection claimed first is left to the caller; another key is a miss', async () => {
    thread.put(KEY, 9, [subflowCreate('10.0.1.1', 1)]);
    const mine = ++token;
    assert.deepEqual(thread.claim(mine), { state: 'none' });
    assert.deepEqual(thread.claim(mine), { state: 'none' }, 'still the caller’s');
    const before = thread.stats();
    sendBytes(ev[1], established(mine));
    const other = ++token;
    sendBytes(ev[1], established(other, { dport: 9999 }));
    await until('two events', () => (thread.stats().events - before.events === 2 ? true : undefined));
    assert.equal(recvWithin(cmd[1], 50), undefined, 'nothing sent');
    assert.deepEqual(thread.claim(other), { state: 'miss' });
    assert.equal(thread.stats().skipped - before.skipped, 1);
  });

  test('server-side, IPv6 and other events are ignored; clear() drops the entries', async () => {
    thread.put(KEY, 10, [subflowCreate('10.0.1.1', 1)]);
    sendBytes(ev[1], established(++token, { serverSide: true }));
    sendBytes(ev[1], established(++token, { family: 6, saddr: 'fd00::1', daddr: 'fd00::2' }));
    sendBytes(
      ev[1],
      emitMessage({ type: FAMILY, flags: 0, seq: 0, pid: 0 }, emitPmEvent({ type: 'closed', token: 5 })),
    );
    sendBytes(ev[1], established(++token).subarray(0, 30)); // truncated
    assert.equal(recvWithin(cmd[1], 50), undefined);
    thread.clear();
    const t = ++token;
    sendBytes(ev[1], established(t));
    assert.deepEqual(
      await until('miss', () => (thread.claim(t).state === 'miss' ? thread.claim(t) : undefined)),
      {
        state: 'miss',
      },
    );
  });

  test('a wildcard entry: the remote address and port of each connection are written in', async () => {
    const cache = new ReflexCache(fullmesh(), realEncoder, new KernelPmState(), (m) => {
      throw new Error(m);
    });
    const locals = [
      { address: '10.0.0.1', family: 4 as const },
      { address: '10.0.1.1', family: 4 as const },
      { address: '10.0.2.1', family: 4 as const },
    ];
    const w = cache.wildcard4('10.0.0.1', locals)!;
    thread.clear();
    thread.putWildcard(
      KEY.saddr4,
      12,
      w.templates.map((t) => t.request.message),
      w.patches,
    );
    for (const [daddr, dport] of [
      ['192.0.2.77', 443],
      ['203.0.113.5', 65535],
    ] as const) {
      const t = ++token;
      sendBytes(ev[1], established(t, { daddr, dport }));
      const exact = cache.templates4(
        peekEstablished(
          emitPmEvent({
            type: 'established',
            token: t,
            family: 4,
            saddr: '10.0.0.1',
            daddr,
            sport: 40000,
            dport,
            serverSide: false,
            flags: 0,
          }),
        )!,
        locals,
      );
      for (const e of exact) {
        const req = recvWithin(cmd[1], 2000);
        assert.ok(req, 'a request');
        const expected = Buffer.from(e.request.message);
        expected.writeUInt32LE(t, SUBFLOW_CREATE_TOKEN_OFFSET);
        expected.writeUInt32LE(req.readUInt32LE(8), 8);
        assert.deepEqual(req, expected, `${daddr}:${dport}`);
        ack(cmd[1], req, 0);
      }
      const c = await until('sent', () => {
        const x = thread.claim(t);
        return x.state === 'sent' ? x : undefined;
      });
      assert.equal(c.entryId, 12);
      assert.equal(c.count, exact.length);
    }
    // An exact entry wins over the wildcard.
    thread.put(KEY, 13, [subflowCreate('10.0.1.1', 1)]);
    const t = ++token;
    sendBytes(ev[1], established(t));
    const req = recvWithin(cmd[1], 2000)!;
    ack(cmd[1], req, 0);
    assert.equal(
      (
        await until('sent', () => {
          const x = thread.claim(t);
          return x.state === 'sent' ? x : undefined;
        })
      ).entryId,
      13,
    );
    thread.clear();
  });

  test('put checks the message list', () => {
    assert.throws(() => thread.put(KEY, 1, []), RangeError);
    assert.throws(
      () =>
        thread.put(
          KEY,
          1,
          Array.from({ length: 9 }, () => subflowCreate('10.0.1.1', 1)),
        ),
      RangeError,
    );
    const short = subflowCreate('10.0.1.1', 1).slice(0, 16);
    assert.throws(() => thread.put(KEY, 1, [short]), NativeReflexError);
    const lying = subflowCreate('10.0.1.1', 1);
    lying[0] = 200; // nlmsg_len beyond the bytes
    assert.throws(() => thread.put(KEY, 1, [lying]), NativeReflexError);
  });

  test('property: arbitrary datagrams never make the thread send, and it still answers after them', async () => {
    thread.put(KEY, 11, [subflowCreate('10.0.1.1', 1)]);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 120 }), (bytes) => {
        if (bytes.length > 0) sendBytes(ev[1], bytes);
      }),
      { numRuns: 300 },
    );
    // A random datagram can be a valid event only by a 1-in-2^100 chance: none is answered.
    assert.equal(recvWithin(cmd[1], 100), undefined);
    const t = ++token;
    sendBytes(ev[1], established(t));
    const req = recvWithin(cmd[1], 2000);
    assert.ok(req);
    ack(cmd[1], req, 0);
    await until('sent', () => (thread.claim(t).state === 'sent' ? true : undefined));
  });
});
