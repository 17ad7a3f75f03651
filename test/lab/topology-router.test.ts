import assert from 'node:assert/strict';
import { test } from 'node:test';
import { netnsAvailable, run } from '../../src/lab/netns.js';
import {
  listLabNamespaces,
  loadTopology,
  ROUTER_SERVER_ADDR,
  removeLabNamespaces,
  Topology,
  type TopologySpec,
} from '../../src/lab/topology.js';
import { handshakeRtts, pushConnections, startSink } from './topology-traffic.js';

const avail = netnsAvailable();
const tools = ['tc', 'nft', 'ethtool', 'iptables', 'python3'].filter(
  (t) => run('sh', ['-c', `command -v ${t}`]).code !== 0,
);
const skip = !avail.ok ? avail.reason : tools.length > 0 ? `missing tools: ${tools.join(', ')}` : false;
const PORT = 5302;
const CONNECTIONS = 16;
const BYTES_PER_CONNECTION = 100_000;
/** A router link "carried" connections when it forwarded at least this much in the run. */
const CARRIED_BYTES = 50_000;

/** Pushes CONNECTIONS connections through the router; returns the bytes each router link forwarded. */
async function spread(topo: Topology): Promise<number[]> {
  const sink = await startSink(topo.server, topo.target, PORT);
  try {
    const before = topo.sentBytes();
    await pushConnections(topo.client, topo.target, PORT, CONNECTIONS, BYTES_PER_CONNECTION);
    return topo.sentBytes().map((b, i) => b - before[i]!);
  } finally {
    sink.stop();
  }
}

test('router topology (four-paths-router.json): l4 hash spreads TCP connections, delays per path', {
  skip,
}, async (t) => {
  const prefix = `mptcp-labrtr${process.pid}`;
  t.after(() => removeLabNamespaces(prefix));
  const spec = loadTopology('scenarios/topologies/four-paths-router.json');
  assert.deepEqual(spec.router, { hash: 'l4' });
  const topo = Topology.build(spec, { prefix });
  try {
    assert.equal(listLabNamespaces(prefix).length, 3);
    assert.ok(topo.router);
    assert.equal(topo.target, ROUTER_SERVER_ADDR);
    assert.match(topo.describe(), /router hashes flows \(l4\)/);
    await topo.startDelays();
    assert.equal(topo.delayPlan().length, 4, 'one delay line per path, on the server end');

    const bytes = await spread(topo);
    t.diagnostic(`bytes forwarded per router link: ${bytes.join(' ')}`);
    const carried = bytes.filter((b) => b >= CARRIED_BYTES).length;
    assert.ok(carried >= 2, `${CONNECTIONS} connections all went over one link: ${bytes.join(' ')}`);
    const total = bytes.reduce((a, b) => a + b, 0);
    assert.ok(total >= CONNECTIONS * BYTES_PER_CONNECTION, `forwarded only ${total} bytes`);

    // Each new connection hashes onto a path with RTT 2·delayMs ∈ {20, 40, 60, 80} ms.
    const sink = await startSink(topo.server, topo.target, PORT + 1);
    try {
      const rtts = await handshakeRtts(topo.client, topo.target, PORT + 1, 12);
      t.diagnostic(`handshake RTTs through the router: ${rtts.join(' ')} ms`);
      assert.ok(Math.min(...rtts) >= 18, `an RTT below the smallest path's 20 ms: ${rtts.join(' ')}`);
      assert.ok(Math.max(...rtts) < 100, `an RTT above the largest path's 80 ms: ${rtts.join(' ')}`);
      const buckets = new Set(rtts.map((r) => Math.round(r / 20)));
      assert.ok(buckets.size >= 2, `all handshakes took one path: ${rtts.join(' ')}`);
    } finally {
      sink.stop();
    }
  } finally {
    await topo.close();
  }
  assert.deepEqual(listLabNamespaces(prefix), []);
});

test('router topology with the l3 hash keeps every connection of one address pair on one link', {
  skip,
}, async (t) => {
  const prefix = `mptcp-labrtr3${process.pid}`;
  t.after(() => removeLabNamespaces(prefix));
  const spec: TopologySpec = {
    name: 'l3',
    router: { hash: 'l3' },
    paths: [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }],
  };
  const topo = Topology.build(spec, { prefix, mptcpEndpoints: false });
  try {
    const bytes = await spread(topo);
    t.diagnostic(`bytes forwarded per router link (l3): ${bytes.join(' ')}`);
    assert.equal(bytes.filter((b) => b >= CARRIED_BYTES).length, 1, bytes.join(' '));
  } finally {
    await topo.close();
  }
  assert.deepEqual(listLabNamespaces(prefix), []);
});
