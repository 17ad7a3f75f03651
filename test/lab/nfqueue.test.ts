/**
 * NFQUEUE delay line against the real kernel: two namespaces joined by a veth pair, the delay on
 * the receiving side's PREROUTING. Needs root, network namespaces, iptables with the NFQUEUE
 * target and python3; skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { addAddress, cleanupAll, Netns, netnsAvailable, run, vethPair } from '../../src/lab/netns.js';
import {
  countNfqueueRules,
  delayIngress,
  kernelQueueCounters,
  startDelayQueue,
} from '../../src/lab/nfqueue.js';

const ADDR_A = '10.214.0.1';
const ADDR_B = '10.214.0.2';
const DELAY_MS = 20;
const TOLERANCE_MS = 3;
const PINGS = 40;
const BULK_BYTES = 8 * 1024 * 1024;

function skipReason(): string | false {
  const ns = netnsAvailable();
  if (!ns.ok) return ns.reason;
  if (run('iptables', ['-V']).code !== 0) return 'iptables is not installed';
  if (run('python3', ['-c', 'pass']).code !== 0) return 'python3 is not installed';
  // The NFQUEUE target must be usable: try it in a throwaway namespace.
  const probe = Netns.create('mptcp-nfqprobe');
  try {
    const r = probe.exec('iptables', ['-t', 'mangle', '-A', 'PREROUTING', '-j', 'NFQUEUE', '--queue-bypass']);
    if (r.code !== 0) return `iptables NFQUEUE target unavailable: ${r.stderr.trim()}`;
  } finally {
    probe.delete();
  }
  return false;
}

const skip = skipReason();

/** TCP echo server: prints its port, echoes every byte, serves connections one after another. */
const PY_ECHO = `
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
`;

/** TCP ping-pong: N one-byte round trips; prints the median RTT in ms. */
const PY_PING = `
import socket, sys, time, statistics
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
rtts = []
for i in range(int(sys.argv[3])):
    t = time.perf_counter(); s.sendall(b"x")
    if s.recv(1) != b"x": sys.exit("bad echo")
    rtts.append((time.perf_counter() - t) * 1000)
print(statistics.median(rtts[2:]))
`;

/** Bulk sink: prints its port, then "<bytes> <sha256>" of one connection's data. */
const PY_SINK = `
import socket, hashlib
s = socket.socket(); s.bind(("0.0.0.0", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    d = c.recv(1 << 20)
    if not d: break
    h.update(d); n += len(d)
print(n, h.hexdigest(), flush=True)
`;

/** Bulk source: sends argv[3] deterministic bytes; prints their sha256. */
const PY_SOURCE = `
import socket, sys, hashlib, random
n = int(sys.argv[3]); data = random.Random(7).randbytes(n)
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
s.sendall(data); s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
print(n, hashlib.sha256(data).hexdigest(), flush=True)
`;

/** UDP sink: prints its port, then how many datagrams arrived until 1 s of silence. */
const PY_UDP_SINK = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 0))
print(s.getsockname()[1], flush=True)
s.settimeout(5); n = 0
try:
    s.recv(100); n = 1; s.settimeout(1)
    while True:
        s.recv(100); n += 1
except socket.timeout: pass
print(n, flush=True)
`;

/** UDP source: sends argv[3] datagrams, 1 ms apart (no socket-buffer loss on either side). */
const PY_UDP_SOURCE = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[3])):
    s.sendto(b"x", (sys.argv[1], int(sys.argv[2]))); time.sleep(0.001)
`;

/** Starts a python server in `ns`; resolves with its port and a function resolving its output. */
function pyServer(ns: Netns, script: string): Promise<{ port: number; done: Promise<string>; kill(): void }> {
  const child = ns.spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const done = new Promise<string>((resolve) => child.on('exit', () => resolve(out)));
  let started = false;
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (!started && nl >= 0) {
        started = true;
        const port = Number.parseInt(out.slice(0, nl), 10);
        out = out.slice(nl + 1);
        resolve({ port, done, kill: () => child.kill() });
      }
    });
    child.on('exit', (code) => reject(new Error(`python server exited (${code}): ${err}`)));
  });
}

async function medianRtt(a: Netns, port: number): Promise<number> {
  const r = await a.execAsync('python3', ['-c', PY_PING, ADDR_B, String(port), String(PINGS)], 60_000);
  assert.equal(r.code, 0, r.stderr);
  return Number(r.stdout.trim());
}

describe('lab/nfqueue delay line (kernel)', { skip }, () => {
  after(() => cleanupAll());

  test(`${DELAY_MS} ms one-way delay raises the RTT by ${DELAY_MS} ± ${TOLERANCE_MS} ms, bulk is byte-exact, stop restores`, async () => {
    const a = Netns.create('mptcp-nfq');
    const b = Netns.create('mptcp-nfq');
    try {
      vethPair(a, 'nfa0', b, 'nfb0');
      addAddress(a, 'nfa0', `${ADDR_A}/24`);
      addAddress(b, 'nfb0', `${ADDR_B}/24`);
      const echo = await pyServer(b, PY_ECHO);
      try {
        const base = await medianRtt(a, echo.port);
        assert.ok(base < 5, `base RTT ${base} ms`);

        const q = await startDelayQueue({
          netns: b.name,
          queueNum: 7,
          delayMs: DELAY_MS,
          rule: { iface: 'nfb0', direction: 'ingress' },
        });
        let stopped = false;
        try {
          assert.equal(countNfqueueRules(b, 'iptables'), 1);
          assert.equal(countNfqueueRules(b, 'ip6tables'), 1);
          const delayed = await medianRtt(a, echo.port);
          const added = delayed - base;
          assert.ok(
            Math.abs(added - DELAY_MS) <= TOLERANCE_MS,
            `RTT ${base.toFixed(3)} → ${delayed.toFixed(3)} ms: added ${added.toFixed(3)} ms`,
          );

          // Bulk transfer A → B through the delayed ingress: complete and byte-exact.
          const sink = await pyServer(b, PY_SINK);
          const src = await a.execAsync(
            'python3',
            ['-c', PY_SOURCE, ADDR_B, String(sink.port), String(BULK_BYTES)],
            120_000,
          );
          assert.equal(src.code, 0, src.stderr);
          const got = (await sink.done).trim();
          assert.equal(got, src.stdout.trim());
          assert.match(got, new RegExp(`^${BULK_BYTES} [0-9a-f]{64}$`));

          const st = q.stats();
          assert.ok(st.received > BULK_BYTES / 1500, `received ${st.received}`);
          assert.equal(st.dropped + st.overflowed, 0);
          assert.equal(st.kernelQueueDropped ?? 0, 0);
          assert.equal(st.kernelUserDropped ?? 0, 0);
          assert.equal(st.errors, 0, st.lastError);
          assert.ok(st.maxHeld > 0);
          assert.equal(st.released + st.held, st.received);

          await q.stop();
          stopped = true;
          assert.equal(countNfqueueRules(b, 'iptables'), 0);
          assert.equal(countNfqueueRules(b, 'ip6tables'), 0);
          assert.equal(kernelQueueCounters(b.name, 7), undefined, 'queue still bound after stop');
          const restored = await medianRtt(a, echo.port);
          assert.ok(restored < base + 1, `RTT after stop ${restored} ms (base ${base} ms)`);
        } finally {
          if (!stopped) await q.stop();
        }
      } finally {
        echo.kill();
      }
    } finally {
      a.delete();
      b.delete();
    }
  });

  test('setDelay changes the delay of later packets; jitter keeps packets in order', async () => {
    const a = Netns.create('mptcp-nfq');
    const b = Netns.create('mptcp-nfq');
    try {
      vethPair(a, 'nfa0', b, 'nfb0');
      addAddress(a, 'nfa0', `${ADDR_A}/24`);
      addAddress(b, 'nfb0', `${ADDR_B}/24`);
      const echo = await pyServer(b, PY_ECHO);
      const q = await startDelayQueue({
        netns: b.name,
        queueNum: 0,
        delayMs: 5,
        rule: { iface: 'nfb0' },
      });
      try {
        const r5 = await medianRtt(a, echo.port);
        q.setDelay(15, 2);
        const r15 = await medianRtt(a, echo.port);
        assert.ok(Math.abs(r15 - r5 - 10) <= TOLERANCE_MS, `5 ms: ${r5} ms, 15 ms ±2: ${r15} ms`);
        // Bulk with jitter: TCP would see reordering as dupacks; the data must still be exact.
        const sink = await pyServer(b, PY_SINK);
        const src = await a.execAsync(
          'python3',
          ['-c', PY_SOURCE, ADDR_B, String(sink.port), '1000000'],
          60_000,
        );
        assert.equal(src.code, 0, src.stderr);
        assert.equal((await sink.done).trim(), src.stdout.trim());
      } finally {
        await q.stop();
        echo.kill();
      }
    } finally {
      a.delete();
      b.delete();
    }
  });

  test('several queues share one loop: delays on both sides add up, idle queues cost nothing', async () => {
    const a = Netns.create('mptcp-nfq');
    const b = Netns.create('mptcp-nfq');
    const queues: Array<{ stop(): Promise<void> }> = [];
    try {
      vethPair(a, 'nfa0', b, 'nfb0');
      addAddress(a, 'nfa0', `${ADDR_A}/24`);
      addAddress(b, 'nfb0', `${ADDR_B}/24`);
      const echo = await pyServer(b, PY_ECHO);
      try {
        const base = await medianRtt(a, echo.port);
        // Two queue numbers taken first, so delayIngress must skip them in b.
        queues.push(await startDelayQueue({ netns: b.name, queueNum: 0, delayMs: 1 }));
        queues.push(await startDelayQueue({ netns: b.name, queueNum: 1, delayMs: 1 }));
        const qb = await delayIngress(b.name, 'nfb0', { delayMs: 10 });
        const qa = await delayIngress(a.name, 'nfa0', { delayMs: 5 });
        queues.push(qb, qa);
        assert.equal(qb.queueNum, 2);
        assert.equal(qa.queueNum, 0);
        // More bound queues than libuv has pool threads (4): they must not starve anything.
        for (let q = 3; q <= 5; q++)
          queues.push(await startDelayQueue({ netns: b.name, queueNum: q, delayMs: 1 }));
        const rtt = await medianRtt(a, echo.port);
        assert.ok(Math.abs(rtt - base - 15) <= TOLERANCE_MS, `RTT ${base} → ${rtt} ms with 10 + 5 ms`);
        const { readFile } = await import('node:fs/promises');
        assert.ok((await readFile('/proc/self/status', 'utf8')).length > 0, 'thread pool still serves fs');
      } finally {
        await Promise.all(queues.map((q) => q.stop()));
        echo.kill();
      }
      assert.equal(countNfqueueRules(a), 0);
      assert.equal(countNfqueueRules(b), 0);
    } finally {
      a.delete();
      b.delete();
    }
  });

  test('lossPct drops that share of packets with NF_DROP, counted in stats', async () => {
    const a = Netns.create('mptcp-nfq');
    const b = Netns.create('mptcp-nfq');
    try {
      vethPair(a, 'nfa0', b, 'nfb0');
      addAddress(a, 'nfa0', `${ADDR_A}/24`);
      addAddress(b, 'nfb0', `${ADDR_B}/24`);
      const sink = await pyServer(b, PY_UDP_SINK);
      // Deterministic "random": every other packet is lost.
      let i = 0;
      const q = await startDelayQueue({
        netns: b.name,
        queueNum: 3,
        delayMs: 1,
        lossPct: 50,
        random: () => (i++ % 2 === 0 ? 0.1 : 0.9),
        // IPv4 only: IPv6 neighbour discovery would take turns in the alternation.
        rule: { iface: 'nfb0', family: 'ipv4' },
      });
      try {
        const src = await a.execAsync(
          'python3',
          ['-c', PY_UDP_SOURCE, ADDR_B, String(sink.port), '400'],
          30_000,
        );
        assert.equal(src.code, 0, src.stderr);
        const got = Number((await sink.done).trim());
        const st = q.stats();
        assert.equal(st.received, 400);
        assert.equal(st.dropped, 200);
        assert.equal(got, 200);
        assert.equal(st.released, 200);
      } finally {
        await q.stop();
        sink.kill();
      }
    } finally {
      a.delete();
      b.delete();
    }
  });

  test('IPv6 traffic is delayed too (ip6tables rule, AF_INET6 packets)', async () => {
    const a = Netns.create('mptcp-nfq');
    const b = Netns.create('mptcp-nfq');
    try {
      vethPair(a, 'nfa0', b, 'nfb0');
      addAddress(a, 'nfa0', 'fd00:214::1/64');
      addAddress(b, 'nfb0', 'fd00:214::2/64');
      const echo = await pyServer(
        b,
        PY_ECHO.replace('socket.socket()', 'socket.socket(socket.AF_INET6)').replace('"0.0.0.0"', '"::"'),
      );
      const rtt6 = async () => {
        const r = await a.execAsync(
          'python3',
          ['-c', PY_PING, 'fd00:214::2', String(echo.port), String(PINGS)],
          60_000,
        );
        assert.equal(r.code, 0, r.stderr);
        return Number(r.stdout.trim());
      };
      try {
        const base = await rtt6();
        const q = await delayIngress(b.name, 'nfb0', { delayMs: DELAY_MS, family: 'ipv6' });
        try {
          const delayed = await rtt6();
          assert.ok(Math.abs(delayed - base - DELAY_MS) <= TOLERANCE_MS, `IPv6 RTT ${base} → ${delayed} ms`);
        } finally {
          await q.stop();
        }
        assert.equal(countNfqueueRules(b, 'ip6tables'), 0);
      } finally {
        echo.kill();
      }
    } finally {
      a.delete();
      b.delete();
    }
  });
});
