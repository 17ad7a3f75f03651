/**
 * Kernel MPTCP behaviours that need a private network namespace: MPTCP disabled by sysctl (fallback
 * and 'require'), and connect deadlines against a port whose SYNs are dropped by nftables.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ConnectTimeoutError,
  connect,
  connectAsync,
  connectState,
  createServer,
  isMultipath,
  listenState,
  MptcpUnavailableError,
} from '../../src/kernel/index.js';
import { Netns, withNetns } from '../../src/lab/netns.js';
import { closeServer, listening, netnsMptcpSkip, readAll } from './helpers.js';

const skip = netnsMptcpSkip();

describe('kernel MPTCP in a namespace with net.mptcp.enabled=0', { skip }, () => {
  let ns: Netns;
  before(() => {
    ns = Netns.create('mptcp-kd');
    const r = ns.exec('sysctl', ['-qw', 'net.mptcp.enabled=0']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => ns?.delete());

  test("mptcp: 'require' fails with MptcpUnavailableError naming ENOPROTOOPT and the fix", async () => {
    const s = withNetns(ns, () => connect({ port: 9, host: '127.0.0.1', mptcp: 'require' }));
    const err = await new Promise<Error>((resolve) => s.once('error', resolve));
    assert.ok(err instanceof MptcpUnavailableError, String(err));
    assert.equal(err.code, 'ENOPROTOOPT');
    assert.match(err.message, /ENOPROTOOPT/);
    assert.match(err.message, /disabled/);
    assert.match(err.message, /sysctl -w net\.mptcp\.enabled=1/);

    const server = createServer({ mptcp: 'require' });
    withNetns(ns, () => server.listen(0, '127.0.0.1'));
    await assert.rejects(listening(server), MptcpUnavailableError);
  });

  test('default mode falls back to plain TCP: server and client work, isMultipath false', async () => {
    const server = createServer((c) => {
      c.end(`multipath=${isMultipath(c)}`);
    });
    withNetns(ns, () => server.listen(0, '127.0.0.1'));
    const port = await listening(server);
    try {
      assert.deepEqual(listenState(server), { mptcp: false, fallbackReason: 'ENOPROTOOPT' });
      const s = withNetns(ns, () => connect({ port, host: '127.0.0.1' }));
      await new Promise((r) => s.once('connect', r));
      assert.deepEqual(connectState(s), { mptcp: false, fallbackReason: 'ENOPROTOOPT' });
      assert.equal(isMultipath(s), false);
      assert.equal((await readAll(s)).toString(), 'multipath=false');
    } finally {
      await closeServer(server);
    }
  });
});

describe('hostnames inside withNetns', { skip }, () => {
  test('connect to localhost from inside a namespace stays in that namespace', async () => {
    const ns = Netns.create('mptcp-kh');
    const server = createServer((c) => c.end(`multipath=${isMultipath(c)}`));
    try {
      withNetns(ns, () => server.listen(0)); // dual-stack, only inside the namespace
      const port = await listening(server);
      // 'localhost' resolves after withNetns returned; if it yields 127.0.0.1, the IPv6 placeholder is
      // replaced by an IPv4 socket, which must be made in the namespace too.
      const s = withNetns(ns, () => connect({ port, host: 'localhost', timeout: 5000 }));
      await new Promise((resolve, reject) => {
        s.once('connect', resolve);
        s.once('error', reject);
      });
      assert.equal(isMultipath(s), true);
      assert.equal((await readAll(s)).toString(), 'multipath=true');
    } finally {
      await closeServer(server);
      ns.delete();
    }
  });
});

describe('connect deadline against dropped SYNs', { skip }, () => {
  let ns: Netns;
  const DROPPED_PORT = 9;
  before(() => {
    ns = Netns.create('mptcp-kt');
    for (const args of [
      ['add', 'table', 'inet', 'blackhole'],
      ['add', 'chain', 'inet', 'blackhole', 'out', '{ type filter hook output priority 0 ; }'],
      ['add', 'rule', 'inet', 'blackhole', 'out', 'tcp', 'dport', String(DROPPED_PORT), 'drop'],
    ]) {
      const r = ns.exec('nft', args);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(() => ns?.delete());

  test('timeout → ConnectTimeoutError, and the event loop keeps running meanwhile', async () => {
    let ticks = 0;
    const iv = setInterval(() => ticks++, 5);
    const started = Date.now();
    const attempts = Array.from({ length: 4 }, () =>
      withNetns(ns, () => connectAsync({ port: DROPPED_PORT, host: '127.0.0.1', timeout: 300 })).then(
        () => assert.fail('connected through a drop rule'),
        (e: Error) => e,
      ),
    );
    const errors = await Promise.all(attempts);
    clearInterval(iv);
    const elapsed = Date.now() - started;
    for (const err of errors) {
      assert.ok(err instanceof ConnectTimeoutError, String(err));
      assert.equal(err.code, 'ETIMEDOUT');
      assert.match(err.message, /127\.0\.0\.1:9 timed out after 300 ms/);
    }
    assert.ok(elapsed >= 290 && elapsed < 3000, `elapsed ${elapsed} ms`);
    assert.ok(ticks >= 20, `only ${ticks} timer ticks in ${elapsed} ms: the event loop was blocked`);
  });
});
