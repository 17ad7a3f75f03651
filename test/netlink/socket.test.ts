import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emitGetFamilyPayload, GENL_ID_CTRL, parseFamilyReply } from '../../src/netlink/genl.js';
import { resolveGenlFamily } from '../../src/netlink/mptcp-pm-client.js';
import {
  NETLINK_GENERIC,
  NetlinkClosedError,
  NetlinkError,
  NetlinkSocket,
  POLL_INTERVAL_MS,
} from '../../src/netlink/socket.js';

// nlctrl queries are read-only and need no privileges; they only talk to the local kernel.
const skip = process.platform === 'linux' ? false : `netlink needs Linux (this is ${process.platform})`;

describe('netlink/socket (generic netlink controller, no privileges needed)', () => {
  test('resolves the nlctrl family itself through CTRL_CMD_GETFAMILY', { skip }, async () => {
    const sock = NetlinkSocket.open(NETLINK_GENERIC);
    try {
      assert.ok(sock.portId > 0);
      const replies = await sock.request(GENL_ID_CTRL, emitGetFamilyPayload('nlctrl'));
      assert.equal(replies.length, 1);
      const fam = parseFamilyReply(replies[0]!.payload);
      assert.equal(fam?.id, GENL_ID_CTRL);
      assert.equal(fam?.name, 'nlctrl');
      assert.ok(fam?.groups.has('notify'));
    } finally {
      await sock.close();
    }
  });

  test('an unknown family is a NetlinkError ENOENT', { skip }, async () => {
    const sock = NetlinkSocket.open(NETLINK_GENERIC);
    try {
      await assert.rejects(resolveGenlFamily(sock, 'nosuchfam_xyz'), (err: unknown) => {
        assert.ok(err instanceof NetlinkError);
        assert.equal(err.code, 'ENOENT');
        assert.match(err.message, /nosuchfam_xyz/);
        return true;
      });
    } finally {
      await sock.close();
    }
  });

  test('a dump collects every part until NLMSG_DONE (all genl families)', { skip }, async () => {
    const sock = NetlinkSocket.open(NETLINK_GENERIC);
    try {
      const replies = await sock.request(GENL_ID_CTRL, emitGetFamilyPayload('').subarray(0, 4), {
        dump: true,
      });
      const names = replies.map((m) => parseFamilyReply(m.payload)?.name);
      assert.ok(names.includes('nlctrl'), names.join(','));
      assert.ok(replies.length > 3);
    } finally {
      await sock.close();
    }
  });

  test('waiting does not block the event loop, and close() ends a listener promptly', { skip }, async () => {
    const sock = NetlinkSocket.open(NETLINK_GENERIC);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    sock.setListener({ message: () => {}, error: () => {} });
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(timer);
    assert.ok(ticks >= 15, `only ${ticks} timer ticks in 300 ms while the socket waited`);
    const t0 = Date.now();
    await sock.close();
    assert.ok(Date.now() - t0 <= POLL_INTERVAL_MS * 3, `close took ${Date.now() - t0} ms`);
    await assert.rejects(sock.request(GENL_ID_CTRL, emitGetFamilyPayload('nlctrl')), NetlinkClosedError);
    await sock.close(); // idempotent
  });

  test('many concurrent requests are matched to their own replies by sequence number', { skip }, async () => {
    const sock = NetlinkSocket.open(NETLINK_GENERIC);
    try {
      const names = ['nlctrl', 'no_such_a', 'nlctrl', 'no_such_b', 'nlctrl'];
      const results = await Promise.allSettled(
        names.map((n) => sock.request(GENL_ID_CTRL, emitGetFamilyPayload(n))),
      );
      results.forEach((r, i) => {
        if (names[i]!.startsWith('no_such')) assert.equal(r.status, 'rejected');
        else {
          assert.equal(r.status, 'fulfilled');
          assert.equal(
            parseFamilyReply((r as PromiseFulfilledResult<{ payload: Uint8Array }[]>).value[0]!.payload)
              ?.name,
            'nlctrl',
          );
        }
      });
    } finally {
      await sock.close();
    }
  });
});

describe('netlink/socket reading a burst (root: unicast between two user sockets)', () => {
  const rootSkip =
    skip || (process.getuid?.() !== 0 ? 'sending to another user netlink socket needs root' : false);

  test('datagrams queued together are all dispatched, in order, in one event-loop callback', {
    skip: rootSkip,
  }, async () => {
    const { libcFunction } = await import('../../src/native/libc.js');
    const { emitMessage } = await import('../../src/netlink/message.js');
    const sendto = libcFunction('intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)');
    const rx = NetlinkSocket.open(NETLINK_GENERIC);
    const tx = NetlinkSocket.open(NETLINK_GENERIC);
    try {
      const to = Buffer.alloc(12);
      to.writeUInt16LE(16, 0); // AF_NETLINK
      to.writeUInt32LE(rx.portId, 4);
      const COUNT = 5;
      for (let i = 0; i < COUNT; i++) {
        const m = emitMessage({ type: 0x30, flags: 0, seq: 0, pid: 0 }, Uint8Array.of(i, 0, 0, 0));
        assert.equal(Number(sendto(tx.fd, m, m.length, 0, to, 12)), m.length);
      }
      const got: number[] = [];
      let turnsBetween = -1;
      await new Promise<void>((resolve, reject) => {
        rx.setListener({
          message: (msg) => {
            if (got.length === 0) {
              turnsBetween = 0;
              setImmediate(() => {
                turnsBetween = 1;
              });
            } else if (turnsBetween !== 0) reject(new Error(`message ${got.length} came in a later turn`));
            got.push(msg.payload[0]!);
            if (got.length === COUNT) resolve();
          },
          error: reject,
        });
      });
      assert.deepEqual(got, [0, 1, 2, 3, 4]);
    } finally {
      await rx.close();
      await tx.close();
    }
  });
});
