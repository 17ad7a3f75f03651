import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { test } from 'node:test';
import { SCHEDULER_NAMES } from '../../src/core/schedulers/index.js';
import { PathEmulator } from '../../src/lab/relay.js';
import { connect, createServer, type MptcpSocket } from '../../src/node/index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function transfer(scheduler: string, backupSecond = false) {
  let serverSocket: MptcpSocket | undefined;
  const server = createServer({ scheduler }, (s) => {
    serverSocket = s;
    s.pipe(s);
  });
  server.listen([{ port: 0, host: '127.0.0.1' }]);
  await once(server, 'listening');
  const port = server.address()!.port;
  const fast = await PathEmulator.start({
    name: 'fast',
    targetHost: '127.0.0.1',
    targetPort: port,
    delayMs: 2,
    rateMbps: 200,
  });
  const slow = await PathEmulator.start({
    name: 'slow',
    targetHost: '127.0.0.1',
    targetPort: port,
    delayMs: 10,
    rateMbps: 200,
  });
  const client = connect({
    scheduler,
    paths: [
      { host: '127.0.0.1', port: fast.port, name: 'fast' },
      { host: '127.0.0.1', port: slow.port, name: 'slow', backup: backupSecond },
    ],
  });
  await once(client, 'connect');
  const deadline = Date.now() + 5000;
  while (client.subflows.filter((s) => s.state === 'established').length < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const data = randomBytes(2_000_000);
  const chunks: Buffer[] = [];
  client.on('data', (c: Buffer) => chunks.push(c));
  for (let i = 0; i < data.length; i += 100_000) {
    if (!client.write(data.subarray(i, i + 100_000))) await once(client, 'drain');
    await new Promise((r) => setTimeout(r, 2)); // paced: every scheduler gets a choice each time
  }
  client.end();
  await once(client, 'end');
  const result = {
    ok: sha(Buffer.concat(chunks)) === sha(data),
    sent: Object.fromEntries(client.subflows.map((s) => [s.path, s.bytesSent])) as Record<string, number>,
    duplicatesAtServer: serverSocket!.stats!.duplicateBytesReceived,
  };
  assert.deepEqual(Object.keys(result.sent).sort(), ['fast', 'slow']);
  if (!client.destroyed) await once(client, 'close');
  if (!serverSocket!.destroyed) await once(serverSocket!, 'close');
  await Promise.all([fast.close(), slow.close()]);
  server.close();
  return result;
}

for (const name of SCHEDULER_NAMES) {
  test(`scheduler ${name} over real sockets: byte-exact through two emulated paths`, async () => {
    const r = await transfer(name);
    assert.ok(r.ok, 'echoed stream equals the sent stream');
    assert.ok((r.sent.fast ?? 0) > 0, 'the fast path carried data');
    if (name === 'roundrobin' || name === 'redundant')
      assert.ok((r.sent.slow ?? 0) > 200_000, `slow path: ${r.sent.slow}`);
    if (name === 'redundant') assert.ok(r.duplicatesAtServer > 0, 'the receiver dropped redundant copies');
    else assert.equal(r.duplicatesAtServer, 0);
  });
}

test('backup semantics over real sockets: a backup subflow carries nothing while the primary is usable', async () => {
  for (const name of ['minrtt', 'roundrobin', 'redundant']) {
    const r = await transfer(name, true);
    assert.ok(r.ok);
    assert.equal(r.sent.slow ?? 0, 0, `${name}: backup path carried ${r.sent.slow} bytes`);
  }
});
