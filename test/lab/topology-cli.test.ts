import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { netnsAvailable, run } from '../../src/lab/netns.js';
import { listLabNamespaces, ROUTER_SERVER_ADDR, removeLabNamespaces } from '../../src/lab/topology.js';
import { handshakeRtts, namespaceNamed, startSink } from './topology-traffic.js';

const avail = netnsAvailable();
const tools = ['tc', 'nft', 'ethtool', 'iptables', 'python3'].filter(
  (t) => run('sh', ['-c', `command -v ${t}`]).code !== 0,
);
const skip = !avail.ok ? avail.reason : tools.length > 0 ? `missing tools: ${tools.join(', ')}` : false;

const BIN = 'bin/mptcp.js';

function startLabUp(prefix: string, file = 'scenarios/topologies/two-paths.json') {
  const child = spawn(process.execPath, [BIN, 'lab', 'up', file, '--prefix', prefix], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lab up did not get ready: ${out}`)), 20_000);
    child.stdout.on('data', () => {
      if (out.includes('running;')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`lab up exited early: ${out}`));
    });
  });
  return { child, ready, output: () => out };
}

test('mptcp lab up builds the topology and removes it on Ctrl-C', { skip }, async (t) => {
  const prefix = `mptcp-labcli${process.pid}`;
  t.after(() => removeLabNamespaces(prefix));
  const lab = startLabUp(prefix);
  await lab.ready;
  const made = listLabNamespaces(prefix);
  assert.equal(made.length, 2, lab.output());
  assert.match(lab.output(), /path wifi: cli0 10\.213\.0\.1\/24/);
  assert.match(lab.output(), /path lte: .*1% loss/);
  const exited = once(lab.child, 'exit');
  lab.child.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 0, lab.output());
  assert.deepEqual(listLabNamespaces(prefix), []);
});

test('mptcp lab up applies delay (NFQUEUE in its process) and builds a router topology', {
  skip,
}, async (t) => {
  const prefix = `mptcp-labclirtr${process.pid}`;
  t.after(() => removeLabNamespaces(prefix));
  const lab = startLabUp(prefix, 'scenarios/topologies/four-paths-router.json');
  await lab.ready;
  const made = listLabNamespaces(prefix);
  assert.equal(made.length, 3, lab.output());
  assert.match(lab.output(), /router hashes flows \(l4\)/);
  assert.match(lab.output(), /path p40: router rtr3 10\.213\.3\.1\/24 .*RTT 80±0 ms/);
  assert.doesNotMatch(lab.output(), /NOT running/);
  const client = namespaceNamed(made.find((n) => n.startsWith(`${prefix}-cli-`))!);
  const server = namespaceNamed(made.find((n) => n.startsWith(`${prefix}-srv-`))!);
  const sink = await startSink(server, ROUTER_SERVER_ADDR, 5303);
  try {
    const rtts = await handshakeRtts(client, ROUTER_SERVER_ADDR, 5303, 6);
    t.diagnostic(`handshake RTTs through lab up's router: ${rtts.join(' ')} ms`);
    assert.ok(Math.min(...rtts) >= 18 && Math.max(...rtts) < 100, `RTTs ${rtts.join(' ')} ms`);
  } finally {
    sink.stop();
  }
  const exited = once(lab.child, 'exit');
  lab.child.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 0, lab.output());
  assert.match(lab.output(), /removed .*-rtr-/);
  assert.deepEqual(listLabNamespaces(prefix), []);
});

test('mptcp lab down removes what a killed lab up left behind', { skip }, async (t) => {
  const prefix = `mptcp-labcl2${process.pid}`;
  t.after(() => removeLabNamespaces(prefix));
  const lab = startLabUp(prefix);
  await lab.ready;
  const exited = once(lab.child, 'exit');
  lab.child.kill('SIGKILL');
  await exited;
  assert.equal(listLabNamespaces(prefix).length, 2, 'SIGKILL should leave the namespaces behind');
  const down = spawn(process.execPath, [BIN, 'lab', 'down', '--prefix', prefix], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  down.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const [code] = await once(down, 'exit');
  assert.equal(code, 0);
  assert.match(out, /removed /);
  assert.deepEqual(listLabNamespaces(prefix), []);
});

test('mptcp lab rejects a bad subcommand and a bad prefix with status 2', async () => {
  for (const args of [
    ['lab', 'sideways'],
    ['lab', 'down', '--prefix', 'a b'],
    ['lab', 'up'],
  ]) {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
    const [code] = await once(child, 'exit');
    assert.equal(code, 2, args.join(' '));
  }
});
