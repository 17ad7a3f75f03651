import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { addAddress, cleanupAll, Netns, sysctl, vethPair, withNetns } from '../../src/lab/netns.js';
import { MptcpPmClient } from '../../src/netlink/mptcp-pm-client.js';
import { type KernelPmEvent, MPTCP_EVENT, peekEstablished } from '../../src/netlink/mptcp-pm-events.js';
import { kernelPmSkipReason, PY_CLIENT, PY_SERVER } from './kernel-env.js';
import { firstLine } from '../helpers/child-output.js';

const skip = kernelPmSkipReason();
type SubEstablished = Extract<KernelPmEvent, { type: 'sub_established' }>;
type Established = Extract<KernelPmEvent, { type: 'established' }>;
const hasToken = (ev: KernelPmEvent, token: number) => 'token' in ev && ev.token === token;
const EVENT_TIMEOUT_MS = 10_000;
const CLI = fileURLToPath(new URL('../../../bin/mptcp.js', import.meta.url));

/** Two namespaces joined by two veth paths: a (10.71.1.1, 10.71.2.1) ↔ b (10.71.1.2, 10.71.2.2). */
function twoPaths(): { a: Netns; b: Netns } {
  const a = Netns.create('mptcp-ev');
  const b = Netns.create('mptcp-ev');
  vethPair(a, 'a1', b, 'b1');
  vethPair(a, 'a2', b, 'b2');
  addAddress(a, 'a1', '10.71.1.1/24');
  addAddress(b, 'b1', '10.71.1.2/24');
  addAddress(a, 'a2', '10.71.2.1/24');
  addAddress(b, 'b2', '10.71.2.2/24');
  return { a, b };
}

/** Starts the python3 MPTCP server in `ns`; resolves with its port. */
async function startServer(ns: Netns): Promise<{ server: ChildProcess; port: number }> {
  const server = ns.spawn('python3', ['-c', PY_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = Number(await firstLine(server));
  assert.ok(port > 0);
  return { server, port };
}

async function startClient(ns: Netns, host: string, port: number): Promise<ChildProcess> {
  const client = ns.spawn('python3', ['-c', PY_CLIENT, host, String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  assert.equal(await firstLine(client), 'up');
  return client;
}

/** A two-path lab with a client of `a`'s kernel PM; children kept with `keep` are stopped after `fn`. */
async function withTwoPaths(
  fn: (t: {
    a: Netns;
    b: Netns;
    pm: MptcpPmClient;
    keep: (c: ChildProcess) => ChildProcess;
  }) => Promise<void>,
): Promise<void> {
  const { a, b } = twoPaths();
  const children: ChildProcess[] = [];
  const pm = await withNetns(a, () => MptcpPmClient.open());
  try {
    const keep = (c: ChildProcess): ChildProcess => {
      children.push(c);
      return c;
    };
    await fn({ a, b, pm, keep });
  } finally {
    for (const c of children) await stop(c);
    await pm.close();
    a.delete();
    b.delete();
  }
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

describe('netlink/mptcp-pm events from real kernel MPTCP connections', () => {
  after(() => cleanupAll());

  test('in-kernel PM: created → established → announced → sub_established → closed', { skip }, async () => {
    const { a, b } = twoPaths();
    const pm = await withNetns(a, () => MptcpPmClient.open());
    let server: ChildProcess | undefined;
    let client: ChildProcess | undefined;
    try {
      // b announces its second address; a accepts it and opens one more subflow.
      b.exec('ip', ['mptcp', 'endpoint', 'add', '10.71.2.2', 'signal']);
      b.exec('ip', ['mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
      await pm.setLimits({ subflows: 2, addAddrAccepted: 2 });
      const sub = pm.subscribeEvents();
      const seen: KernelPmEvent[] = [];
      sub.on('event', (ev: KernelPmEvent) => seen.push(ev));
      const subEstablished = sub.waitFor(
        (ev): ev is SubEstablished => ev.type === 'sub_established',
        EVENT_TIMEOUT_MS,
      );
      const started = await startServer(b);
      server = started.server;
      const port = started.port;
      client = await startClient(a, '10.71.1.2', port);
      const sf = await subEstablished;
      client.stdin?.end();
      await sub.waitFor((ev) => ev.type === 'closed' && hasToken(ev, sf.token), EVENT_TIMEOUT_MS);
      const mine = seen.filter((ev) => hasToken(ev, sf.token));
      const order = mine.map((ev) => ev.type);
      const idx = (t: string) => order.indexOf(t as KernelPmEvent['type']);
      assert.ok(idx('created') === 0, order.join(','));
      assert.ok(idx('established') > idx('created'), order.join(','));
      assert.ok(idx('announced') > 0, order.join(','));
      assert.ok(idx('sub_established') > idx('established'), order.join(','));
      assert.equal(order.at(-1), 'closed', order.join(','));
      const created = mine[0]!;
      assert.ok(created.type === 'created');
      assert.equal(created.saddr, '10.71.1.1');
      assert.equal(created.daddr, '10.71.1.2');
      assert.equal(created.dport, port);
      assert.equal(created.serverSide, false);
      const ann = mine.find((ev) => ev.type === 'announced');
      assert.ok(ann?.type === 'announced');
      assert.equal(ann.daddr, '10.71.2.2');
      assert.equal(sf.daddr, '10.71.2.2');
      assert.equal(sf.saddr, '10.71.2.1');
      assert.equal(sf.dport, port);
    } finally {
      await stop(client);
      await stop(server);
      await pm.close();
      a.delete();
      b.delete();
    }
  });

  test('waitEvents (eventLoop false): the established hook runs before the event is delivered', {
    skip,
  }, async () => {
    await withTwoPaths(async ({ a, b, pm, keep }) => {
      const order: string[] = [];
      const hookedTokens: number[] = [];
      const delivered: KernelPmEvent[] = [];
      const sub = pm.subscribeEvents({
        eventLoop: false,
        onEstablished: (payload) => {
          const peek = peekEstablished(payload);
          assert.ok(peek);
          hookedTokens.push(peek.token);
          order.push('hook');
        },
      });
      sub.on('event', (ev: KernelPmEvent) => {
        delivered.push(ev);
        order.push(ev.type);
      });
      const started = await startServer(b);
      keep(started.server);
      // The client runs while this thread waits in poll(): the child's 'up' line is read afterwards.
      keep(
        a.spawn('python3', ['-c', PY_CLIENT, '10.71.1.2', String(started.port)], {
          stdio: ['pipe', 'pipe', 'pipe'],
        }),
      );
      const deadline = Date.now() + EVENT_TIMEOUT_MS;
      while (!delivered.some((e) => e.type === 'established') && Date.now() < deadline) {
        pm.waitEvents(50);
        await new Promise((r) => setImmediate(r));
      }
      const est = delivered.find((e): e is Established => e.type === 'established');
      assert.ok(est, `no established event: ${order.join(',')}`);
      assert.deepEqual(hookedTokens, [est.token]);
      assert.ok(order.indexOf('hook') < order.indexOf('established'), order.join(','));
      assert.ok(delivered.some((e) => e.type === 'created' && e.token === est.token));
      sub.close();
    });
  });

  test('dropEvents: the kernel filters created events out; the others still arrive', { skip }, async () => {
    await withTwoPaths(async ({ a, b, pm, keep }) => {
      pm.dropEvents([MPTCP_EVENT.CREATED]);
      const sub = pm.subscribeEvents();
      const seen: string[] = [];
      sub.on('event', (ev: KernelPmEvent) => seen.push(ev.type));
      const established = sub.waitFor((ev): ev is Established => ev.type === 'established', EVENT_TIMEOUT_MS);
      const started = await startServer(b);
      keep(started.server);
      const client = keep(await startClient(a, '10.71.1.2', started.port));
      const est = await established;
      client.stdin?.end();
      await sub.waitFor((ev) => ev.type === 'closed' && hasToken(ev, est.token), EVENT_TIMEOUT_MS);
      assert.ok(!seen.includes('created'), seen.join(','));
      // Removing the filter's effect brings them back (a new server: the first one served once).
      pm.dropEvents([]);
      const created = sub.waitFor((ev) => ev.type === 'created', EVENT_TIMEOUT_MS);
      const second = await startServer(b);
      keep(second.server);
      keep(await startClient(a, '10.71.1.2', second.port));
      await created;
    });
  });

  test('userspace PM: on established, subflowCreate opens a second subflow', { skip }, async () => {
    const { a, b } = twoPaths();
    // Select the userspace path manager in a (newer kernels: path_manager, older: pm_type).
    const pmSet = a.exec('sysctl', ['-qw', 'net.mptcp.path_manager=userspace']);
    if (pmSet.code !== 0) sysctl(a, 'net.mptcp.pm_type', 1);
    b.exec('ip', ['mptcp', 'limits', 'set', 'subflows', '2']);
    const pm = await withNetns(a, () => MptcpPmClient.open());
    const peer = await withNetns(b, () => MptcpPmClient.open());
    let server: ChildProcess | undefined;
    let client: ChildProcess | undefined;
    try {
      const sub = pm.subscribeEvents();
      const peerSub = peer.subscribeEvents();
      const established = sub.waitFor((ev): ev is Established => ev.type === 'established', EVENT_TIMEOUT_MS);
      const started = await startServer(b);
      server = started.server;
      client = await startClient(a, '10.71.1.2', started.port);
      const est = await established;
      assert.equal(est.saddr, '10.71.1.1');
      // Nothing joins by itself under the userspace PM: we ask for the second path.
      const joined = sub.waitFor(
        (ev): ev is SubEstablished => ev.type === 'sub_established' && hasToken(ev, est.token),
        EVENT_TIMEOUT_MS,
      );
      await pm.subflowCreate(
        est.token,
        { addr: '10.71.2.1', id: 2 },
        { addr: '10.71.2.2', port: started.port },
      );
      const sf = await joined;
      assert.equal(sf.saddr, '10.71.2.1');
      assert.equal(sf.daddr, '10.71.2.2');
      assert.equal(sf.localId, 2);
      // The kernel now lists two subflows for the connection (ss shows the MPTCP socket's subflows).
      const ss = a.exec('ss', ['-tnH', 'state', 'established']);
      assert.match(ss.stdout, /10\.71\.2\.1:\d+\s+10\.71\.2\.2:/);
      // And it refuses a token it does not know.
      await assert.rejects(
        pm.subflowCreate(
          est.token ^ 0xffff,
          { addr: '10.71.2.1', id: 3 },
          { addr: '10.71.2.2', port: started.port },
        ),
      );
      // Mark the new subflow backup (MP_PRIO): the peer reports the priority change.
      const prio = peerSub.waitFor((ev) => ev.type === 'sub_priority', EVENT_TIMEOUT_MS);
      await pm.setFlags(
        { token: est.token, addr: sf.saddr, port: sf.sport, remote: { addr: sf.daddr, port: sf.dport } },
        ['backup'],
      );
      const pr = await prio;
      assert.ok(pr.type === 'sub_priority');
      assert.equal(pr.backup, true);
      assert.equal(pr.daddr, sf.saddr);
      // Tear the subflow down again by its 4-tuple.
      const gone = sub.waitFor((ev) => ev.type === 'sub_closed' && hasToken(ev, est.token), EVENT_TIMEOUT_MS);
      await pm.subflowDestroy(
        est.token,
        { addr: sf.saddr, port: sf.sport },
        { addr: sf.daddr, port: sf.dport },
      );
      await gone;
      // ADD_ADDR / REMOVE_ADDR from a's userspace PM, as seen by the peer's kernel in b.
      const announced = peerSub.waitFor((ev) => ev.type === 'announced', EVENT_TIMEOUT_MS);
      await pm.announce(est.token, { addr: '10.71.2.1', id: 5 });
      const ann = await announced;
      assert.ok(ann.type === 'announced');
      assert.equal(ann.daddr, '10.71.2.1');
      assert.equal(ann.remoteId, 5);
      const removed = peerSub.waitFor(
        (ev) => ev.type === 'removed' && ev.token === ann.token,
        EVENT_TIMEOUT_MS,
      );
      await pm.remove(est.token, 5);
      assert.equal((await removed).type, 'removed');
      client.stdin?.end();
      await sub.waitFor((ev) => ev.type === 'closed' && hasToken(ev, est.token), EVENT_TIMEOUT_MS);
    } finally {
      await stop(client);
      await stop(server);
      await peer.close();
      await pm.close();
      a.delete();
      b.delete();
    }
  });

  test('mptcp monitor --json prints one JSON event per line and exits 0 on SIGINT', { skip }, async () => {
    const { a, b } = twoPaths();
    let server: ChildProcess | undefined;
    let client: ChildProcess | undefined;
    const monitor = a.spawn(process.execPath, [CLI, 'monitor', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      let err = '';
      monitor.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      monitor.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
      });
      // The monitor prints nothing until it sees an event, so we cannot tell when it has joined the
      // group: open connections (each a new token) until one shows up completely, at most 5 times.
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      let port = 0;
      for (let attempt = 0; attempt < 5 && !out.includes('"type":"closed"'); attempt++) {
        await sleep(attempt === 0 ? 300 : 0);
        await stop(server);
        const started = await startServer(b);
        server = started.server;
        port = started.port;
        client = await startClient(a, '10.71.1.2', port);
        client.stdin?.end();
        const deadline = Date.now() + 2000;
        while (!out.includes('"type":"closed"') && Date.now() < deadline) await sleep(50);
      }
      const exited = once(monitor, 'exit');
      monitor.kill('SIGINT');
      const [code] = await exited;
      assert.equal(code, 0, err);
      const events = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as KernelPmEvent);
      // The last connection is seen from start to end, in order.
      const last = events.at(-1);
      assert.ok(last?.type === 'closed', out);
      const mine = events.filter((e) => 'token' in e && e.token === last.token);
      assert.deepEqual(
        mine.map((e) => e.type),
        ['created', 'established', 'closed'],
      );
      const first = mine[0]!;
      assert.ok(first.type === 'created');
      assert.equal(first.dport, port);
    } finally {
      await stop(monitor);
      await stop(client);
      await stop(server);
      a.delete();
      b.delete();
    }
  });

  test('mptcp monitor prints the same lines as ip mptcp monitor (modulo column width)', {
    skip,
  }, async () => {
    const { a, b } = twoPaths();
    b.exec('ip', ['mptcp', 'endpoint', 'add', '10.71.2.2', 'signal']);
    b.exec('ip', ['mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
    a.exec('ip', ['mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
    let server: ChildProcess | undefined;
    let client: ChildProcess | undefined;
    const ours = a.spawn(process.execPath, [CLI, 'monitor'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const theirs = a.spawn('ip', ['mptcp', 'monitor'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (c: ChildProcess) => {
      const box = { text: '' };
      c.stdout?.on('data', (d: Buffer) => {
        box.text += d.toString();
      });
      return box;
    };
    const ourOut = collect(ours);
    const ipOut = collect(theirs);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const closedIn = (t: string) => /CLOSED\] token=/.test(t);
    try {
      for (let attempt = 0; attempt < 5 && !(closedIn(ourOut.text) && closedIn(ipOut.text)); attempt++) {
        await sleep(attempt === 0 ? 300 : 0);
        await stop(server);
        const started = await startServer(b);
        server = started.server;
        client = await startClient(a, '10.71.1.2', started.port);
        client.stdin?.end();
        const deadline = Date.now() + 2000;
        while (!(closedIn(ourOut.text) && closedIn(ipOut.text)) && Date.now() < deadline) await sleep(50);
      }
      await sleep(200);
      const token = /CLOSED\] token=([0-9a-f]{8})\s*$/.exec(ourOut.text.trim())?.[1];
      assert.ok(token, ourOut.text);
      const norm = (t: string) =>
        t
          .split('\n')
          .filter((l) => l.includes(`token=${token}`))
          .map((l) => l.replace(/^\[\s*/, '[').trimEnd());
      const mine = norm(ourOut.text);
      assert.ok(mine.length >= 4, ourOut.text);
      assert.deepEqual(mine, norm(ipOut.text));
    } finally {
      await stop(ours);
      await stop(theirs);
      await stop(client);
      await stop(server);
      a.delete();
      b.delete();
    }
  });
});
