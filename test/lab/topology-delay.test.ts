import assert from 'node:assert/strict';
import { test } from 'node:test';
import { netnsAvailable, run } from '../../src/lab/netns.js';
import { listLabNamespaces, removeLabNamespaces, Topology } from '../../src/lab/topology.js';
import { handshakeRtts, startSink } from './topology-traffic.js';

const avail = netnsAvailable();
const tools = ['tc', 'nft', 'ethtool', 'iptables', 'python3'].filter(
  (t) => run('sh', ['-c', `command -v ${t}`]).code !== 0,
);
const skip = !avail.ok ? avail.reason : tools.length > 0 ? `missing tools: ${tools.join(', ')}` : false;
const PORT = 5301;

test('startDelays: a 20 ms path has an RTT of about 40 ms, none without, back to none after stop', {
  skip,
}, async (t) => {
  const prefix = `mptcp-labdly${process.pid}`;
  t.after(() => removeLabNamespaces(prefix));
  const topo = Topology.build(
    { name: 'dly', paths: [{ name: 'slow', delayMs: 20 }] },
    { prefix, mptcpEndpoints: false },
  );
  try {
    const p = topo.paths[0]!;
    assert.deepEqual(
      topo.delayPlan().map((d) => [d.netns.name, d.iface, d.delayMs]),
      [
        [topo.client.name, p.clientIf, 20],
        [topo.server.name, p.serverIf, 20],
      ],
    );
    const sink = await startSink(topo.server, p.serverAddr, PORT);
    try {
      const before = await handshakeRtts(topo.client, p.serverAddr, PORT, 5);
      t.diagnostic(`no delay: handshake RTTs ${before.join(' ')} ms`);
      assert.ok(Math.max(...before) < 5, `RTT without delay: ${before.join(' ')} ms`);
      assert.match(topo.describe(), /NOT running/);

      await topo.startDelays();
      assert.equal(topo.delaysRunning, true);
      assert.doesNotMatch(topo.describe(), /NOT running/);
      assert.match(topo.describe(), /20±0 ms each way, RTT 40 ms/);
      const delayed = await handshakeRtts(topo.client, p.serverAddr, PORT, 5);
      t.diagnostic(`delayMs 20: handshake RTTs ${delayed.join(' ')} ms`);
      assert.ok(Math.min(...delayed) >= 35, `RTT with 20 ms each way: ${delayed.join(' ')} ms`);
      assert.ok(Math.max(...delayed) < 80, `RTT with 20 ms each way: ${delayed.join(' ')} ms`);

      await topo.stopDelays();
      const after = await handshakeRtts(topo.client, p.serverAddr, PORT, 5);
      t.diagnostic(`after stopDelays: ${after.join(' ')} ms`);
      assert.ok(Math.max(...after) < 5, `RTT after stopDelays: ${after.join(' ')} ms`);
    } finally {
      sink.stop();
    }
  } finally {
    await topo.close();
  }
  assert.deepEqual(listLabNamespaces(prefix), []);
});

test('startDelays: jitterMs spreads the RTT around 2·delayMs', { skip }, async (t) => {
  const prefix = `mptcp-labjit${process.pid}`;
  t.after(() => removeLabNamespaces(prefix));
  const topo = Topology.build(
    { name: 'jit', paths: [{ name: 'shaky', delayMs: 20, jitterMs: 10 }] },
    { prefix, mptcpEndpoints: false },
  );
  try {
    const p = topo.paths[0]!;
    await topo.startDelays();
    const sink = await startSink(topo.server, p.serverAddr, PORT);
    try {
      const rtts = await handshakeRtts(topo.client, p.serverAddr, PORT, 10);
      t.diagnostic(`delayMs 20 jitterMs 10: handshake RTTs ${rtts.join(' ')} ms`);
      const spread = Math.max(...rtts) - Math.min(...rtts);
      assert.ok(spread > 3, `jitter 10 ms each way gave a spread of only ${spread.toFixed(2)} ms`);
      assert.ok(Math.min(...rtts) >= 18 && Math.max(...rtts) < 80, `RTTs ${rtts.join(' ')} ms`);
    } finally {
      sink.stop();
    }
  } finally {
    await topo.close();
  }
  assert.deepEqual(listLabNamespaces(prefix), []);
});
