import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { connect } from '../../src/node/index.js';

const run = promisify(execFile);
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGTERM');
});

async function startServe(args: string[]): Promise<{ child: ChildProcess; ports: number[] }> {
  const child = spawn(process.execPath, ['bin/mptcp.js', 'serve', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const e = JSON.parse(line);
    if (e.event === 'listening') {
      return {
        child,
        ports: String(e.addresses)
          .split(',')
          .map((a: string) => Number(a.split(':').pop())),
      };
    }
  }
  throw new Error('serve exited before listening');
}

test('interoperates with itself across processes; mptcp status sees the connection', async () => {
  const { child, ports } = await startServe(['--port', '0,0']);
  assert.equal(ports.length, 2);
  const client = connect({ paths: ports.map((port) => ({ host: '127.0.0.1', port })) });
  await once(client, 'connect');
  const deadline = Date.now() + 5000;
  while (client.subflows.filter((s) => s.state === 'established').length < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const { stdout } = await run(process.execPath, ['bin/mptcp.js', 'status', String(child.pid), '--json']);
  const status = JSON.parse(stdout);
  assert.equal(status.endpoints.length, 1);
  const conn = status.endpoints[0].connections[0];
  assert.equal(conn.multipath, true);
  assert.equal(conn.subflows.length, 2);
  assert.equal(conn.localToken, client.tokens!.remote!.toString(16).padStart(8, '0'));
  const text = await run(process.execPath, ['bin/mptcp.js', 'status', String(child.pid)]);
  assert.match(text.stdout, /subflow 1 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ established/);

  const data = randomBytes(3_000_000);
  const chunks: Buffer[] = [];
  client.on('data', (c: Buffer) => chunks.push(c));
  client.end(data);
  await once(client, 'end');
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  assert.equal(sha(Buffer.concat(chunks)), sha(data));
  child.kill('SIGTERM');
  await once(child, 'exit');
});

test('mptcp connect --bytes through two paths to mptcp serve, and bad arguments', async () => {
  const { child, ports } = await startServe(['--port', '0,0', '--scheduler', 'roundrobin']);
  const { stdout } = await run(process.execPath, [
    'bin/mptcp.js',
    'connect',
    `127.0.0.1:${ports[0]}`,
    `127.0.0.1:${ports[1]}`,
    '--bytes',
    '2000000',
    '--json',
  ]);
  const r = JSON.parse(stdout);
  assert.equal(r.received, 2_000_000);
  assert.equal(r.multipath, true);
  child.kill('SIGTERM');
  for (const args of [
    ['connect'],
    ['connect', 'nohost'],
    ['connect', '127.0.0.1:1', '--scheduler', 'x'],
    ['serve'],
    ['serve', '--port', 'abc'],
    ['status', 'me'],
  ]) {
    const e = await run(process.execPath, ['bin/mptcp.js', ...args]).then(
      () => ({ code: 0 }),
      (err: { code: number }) => err,
    );
    assert.equal(e.code, 2, args.join(' '));
  }
});

test('--congestion with an algorithm the kernel lacks is a usage error (exit 2) for serve and connect', async () => {
  for (const args of [
    ['serve', '--port', '0', '--congestion', 'no-such-cc'],
    ['connect', '127.0.0.1:9', '--congestion', 'no-such-cc'],
  ]) {
    const r = await run(process.execPath, ['bin/mptcp.js', ...args]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /no-such-cc/);
  }
});
