import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Netns, netnsAvailable, run } from '../../src/lab/netns.js';
import { lossCommands, parseLossCounters, tbfArgs } from '../../src/lab/shaping.js';
import {
  listLabNamespaces,
  parseTopology,
  removeLabNamespaces,
  Topology,
  TopologyError,
} from '../../src/lab/topology.js';

const TOPOLOGY_DIR = 'scenarios/topologies';

test('every scenarios/topologies/*.json file is a valid topology', () => {
  const files = readdirSync(TOPOLOGY_DIR).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 1);
  for (const f of files) {
    const spec = parseTopology(JSON.parse(readFileSync(join(TOPOLOGY_DIR, f), 'utf8')));
    assert.ok(spec.paths.length >= 1, f);
  }
});

test('parseTopology rejects bad documents with the offending field', () => {
  const bad: Array<[unknown, RegExp]> = [
    [null, /object/],
    [{ name: 'x', paths: [] }, /paths/],
    [{ name: 'bad name', paths: [{ name: 'a' }] }, /name/],
    [{ name: 'x', paths: [{ name: 'a', rateMbps: -1 }] }, /paths\[0\]\.rateMbps/],
    [{ name: 'x', paths: [{ name: 'a', lossPct: 101 }] }, /paths\[0\]\.lossPct/],
    [{ name: 'x', paths: [{ name: 'a' }, { name: 'a' }] }, /used twice/],
    [{ name: 'x', paths: [{ name: 'a', lossPercent: 1 }] }, /not a known field/],
  ];
  for (const [doc, re] of bad)
    assert.throws(
      () => parseTopology(doc),
      (e: Error) => e instanceof TopologyError && re.test(e.message),
    );
  assert.deepEqual(parseTopology({ name: 'ok', paths: [{ name: 'wifi', rateMbps: 20, lossPct: 0.5 }] }), {
    name: 'ok',
    paths: [{ name: 'wifi', rateMbps: 20, lossPct: 0.5 }],
  });
});

test('parseTopology: the router option', () => {
  const paths = [{ name: 'a' }];
  assert.equal(parseTopology({ name: 'x', paths }).router, undefined);
  assert.equal(parseTopology({ name: 'x', paths, router: false }).router, undefined);
  assert.deepEqual(parseTopology({ name: 'x', paths, router: true }).router, { hash: 'l4' });
  assert.deepEqual(parseTopology({ name: 'x', paths, router: {} }).router, { hash: 'l4' });
  assert.deepEqual(parseTopology({ name: 'x', paths, router: { hash: 'l3' } }).router, { hash: 'l3' });
  for (const router of ['yes', 1, null, [], { hash: 'l5' }, { hash: 'l4', extra: 1 }]) {
    assert.throws(
      () => parseTopology({ name: 'x', paths, router }),
      (e: Error) => e instanceof TopologyError && /^router must be/.test(e.message),
      JSON.stringify(router),
    );
  }
  assert.throws(
    () => parseTopology({ name: 'x', paths, routers: true }),
    (e: Error) => e instanceof TopologyError && /routers is not a known field/.test(e.message),
  );
  const four = parseTopology(JSON.parse(readFileSync(join(TOPOLOGY_DIR, 'four-paths-router.json'), 'utf8')));
  assert.deepEqual(four.router, { hash: 'l4' });
  assert.deepEqual(
    four.paths.map((p) => [p.rateMbps, p.delayMs]),
    [
      [8, 10],
      [8, 20],
      [8, 30],
      [8, 40],
    ],
  );
});

test('shaping command lines', () => {
  assert.deepEqual(tbfArgs('cli0', 20), [
    'qdisc',
    'replace',
    'dev',
    'cli0',
    'root',
    'tbf',
    'rate',
    '20000kbit',
    'burst',
    '16384',
    'latency',
    '50ms',
  ]);
  const loss = lossCommands('srv1', 5);
  assert.equal(loss.length, 4);
  assert.ok(loss[1]!.at(-1)!.includes('hook ingress device "srv1"'));
  assert.deepEqual(loss[3]!.slice(5, 11), ['numgen', 'random', 'mod', '10000', '<', '500']);
  // 100 %: nft rejects "numgen … mod 10000 < 10000", so the rule is a plain drop.
  assert.deepEqual(lossCommands('srv1', 100)[3]!.slice(5), ['counter', 'drop', 'comment', '"loss"']);
});

test('parseLossCounters reads the seen and loss counters of nft -j output', () => {
  const json = JSON.stringify({
    nftables: [
      { metainfo: { json_schema_version: 1 } },
      { chain: { family: 'netdev', table: 'mptcp_lab', name: 'in_srv1' } },
      { rule: { comment: 'seen', expr: [{ counter: { packets: 1000, bytes: 1500000 } }] } },
      {
        rule: {
          comment: 'loss',
          expr: [{ match: {} }, { counter: { packets: 51, bytes: 76500 } }, { drop: null }],
        },
      },
    ],
  });
  assert.deepEqual(parseLossCounters(json), { seen: 1000, dropped: 51 });
});

// ---- packet level (root + netns) ---------------------------------------------------------------

const avail = netnsAvailable();
const tools = ['tc', 'nft', 'ethtool', 'python3'].filter(
  (t) => run('sh', ['-c', `command -v ${t}`]).code !== 0,
);
const skip = !avail.ok ? avail.reason : tools.length > 0 ? `missing tools: ${tools.join(', ')}` : false;

const SERVER_PY = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, int(sys.argv[3]))
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
n = 0
t0 = None
while True:
    b = c.recv(65536)
    if not b:
        break
    if t0 is None:
        t0 = time.monotonic()
    n += len(b)
print(n, time.monotonic() - t0, flush=True)
c.close()
`;

const CLIENT_PY = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, int(sys.argv[5]))
s.settimeout(60)
s.bind((sys.argv[3], 0))
s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(b"x" * int(sys.argv[4]))
s.shutdown(socket.SHUT_WR)
s.recv(1)
`;

const IPPROTO_MPTCP = 262;

/** Sends `bytes` over one path with plain TCP (or MPTCP); returns what the server measured. */
async function transfer(
  topo: Topology,
  pathName: string,
  bytes: number,
  proto = 0,
): Promise<{ bytes: number; seconds: number }> {
  const p = topo.path(pathName);
  const port = 5201;
  const server = topo.server.spawn('python3', ['-c', SERVER_PY, p.serverAddr, String(port), String(proto)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  server.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  server.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
  try {
    for (let i = 0; !out.includes('ready'); i++) {
      if (i > 200) throw new Error(`server did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const c = await (topo.client as Netns).execAsync(
      'python3',
      ['-c', CLIENT_PY, p.serverAddr, String(port), p.clientAddr, String(bytes), String(proto)],
      60_000,
    );
    assert.equal(c.code, 0, `client failed: ${c.stderr}`);
    assert.equal(await exited, 0, `server failed: ${err}`);
  } finally {
    if (server.exitCode === null) server.kill();
  }
  const [n, secs] = out.split('\n')[1]!.trim().split(/\s+/).map(Number);
  return { bytes: n!, seconds: secs! };
}

test('two-path topology: rate holds, loss drops, teardown leaves nothing', { skip }, async (t) => {
  const prefix = `mptcp-labtst${process.pid}`;
  const topo = Topology.build(
    {
      name: 'test',
      paths: [
        { name: 'fast', rateMbps: 20 },
        { name: 'lossy', lossPct: 5 },
      ],
    },
    { prefix, mptcpEndpoints: false },
  );
  try {
    assert.equal(listLabNamespaces(prefix).length, 2);
    assert.match(topo.describe(), /20 Mbit\/s/);

    const rate = await transfer(topo, 'fast', 5_000_000);
    assert.equal(rate.bytes, 5_000_000);
    const mbps = (rate.bytes * 8) / rate.seconds / 1e6;
    t.diagnostic(`fast path: ${mbps.toFixed(2)} Mbit/s (tbf 20 Mbit/s)`);
    assert.ok(mbps > 14 && mbps < 26, `measured ${mbps.toFixed(2)} Mbit/s on a 20 Mbit/s path`);

    const lossy = await transfer(topo, 'lossy', 2_000_000);
    assert.equal(lossy.bytes, 2_000_000);
    const { client, server } = topo.lossCounters('lossy');
    assert.ok(server.dropped > 0, 'the server-side loss rule dropped nothing');
    assert.ok(client.dropped > 0, 'the client-side loss rule dropped nothing (ACKs)');
    const ratio = server.dropped / server.seen;
    t.diagnostic(
      `lossy path: server dropped ${server.dropped}/${server.seen}, client ${client.dropped}/${client.seen}`,
    );
    assert.ok(ratio > 0.02 && ratio < 0.1, `dropped ${(ratio * 100).toFixed(2)}% instead of ~5%`);
    // The unshaped-by-loss path drops nothing.
    assert.deepEqual(topo.lossCounters('fast').server, { seen: 0, dropped: 0 });
  } finally {
    topo.destroy();
  }
  assert.deepEqual(listLabNamespaces(prefix), []);
  assert.deepEqual(removeLabNamespaces(prefix), []);
});

const mptcpProbe = run('sysctl', ['-n', 'net.mptcp.enabled']);
const mptcpSkip = skip || (mptcpProbe.stdout.trim() === '1' ? false : 'kernel MPTCP is not available');

test('kernel MPTCP over two 10 Mbit/s paths uses both (aggregate above one path)', {
  skip: mptcpSkip,
}, async (t) => {
  const prefix = `mptcp-labmpt${process.pid}`;
  const topo = Topology.build(
    {
      name: 'mp',
      paths: [
        { name: 'a', rateMbps: 10 },
        { name: 'b', rateMbps: 10 },
      ],
    },
    { prefix },
  );
  try {
    assert.equal(topo.mptcpConfigured, true, topo.warnings.join('; '));
    assert.match(topo.client.exec('ip', ['mptcp', 'endpoint', 'show']).stdout, /10\.213\.1\.1 .*subflow/);
    const r = await transfer(topo, 'a', 4_000_000, IPPROTO_MPTCP);
    assert.equal(r.bytes, 4_000_000);
    const mbps = (r.bytes * 8) / r.seconds / 1e6;
    t.diagnostic(`MPTCP over 2 x 10 Mbit/s: ${mbps.toFixed(2)} Mbit/s`);
    assert.ok(mbps > 13, `MPTCP reached only ${mbps.toFixed(2)} Mbit/s: the second path was not used`);
  } finally {
    topo.destroy();
  }
  assert.deepEqual(listLabNamespaces(prefix), []);
});
