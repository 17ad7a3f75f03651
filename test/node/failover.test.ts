import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { TcpRstReason } from '../../src/wire/types.js';
import { encodeFrameHeader, PREAMBLE } from '../../src/core/frame.js';
import { PathEmulator } from '../../src/lab/relay.js';
import { connect, createServer, type MptcpSocket } from '../../src/node/index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error('timed out waiting'));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

test('failover mid-stream through emulated paths: the primary is cut, nothing is lost', async () => {
  const received: Buffer[] = [];
  let serverSocket: MptcpSocket | undefined;
  const done = new Promise<void>((resolve) => {
    const server = createServer((s) => {
      serverSocket = s;
      s.on('data', (c: Buffer) => received.push(c));
      s.on('end', () => {
        s.end();
        server.close();
        resolve();
      });
    });
    server.listen([{ port: 0, host: '127.0.0.1' }]);
    (globalThis as { __server?: unknown }).__server = server;
  });
  const server = (globalThis as { __server?: import('../../src/node/index.js').MptcpServer }).__server!;
  await once(server, 'listening');
  const port = server.address()!.port;
  const a = await PathEmulator.start({
    name: 'a',
    targetHost: '127.0.0.1',
    targetPort: port,
    delayMs: 5,
    rateMbps: 40,
  });
  const b = await PathEmulator.start({
    name: 'b',
    targetHost: '127.0.0.1',
    targetPort: port,
    delayMs: 15,
    rateMbps: 40,
  });
  const client = connect({
    paths: [
      { host: '127.0.0.1', port: a.port, name: 'a' },
      { host: '127.0.0.1', port: b.port, name: 'b' },
    ],
  });
  await once(client, 'connect');
  await waitFor(() => client.subflows.filter((s) => s.state === 'established').length === 2);
  const data = randomBytes(4 * 1024 * 1024);
  const closedEvents: unknown[] = [];
  client.on('subflowClosed', (e) => closedEvents.push(e));
  // Write in pieces; cut path a after the first third.
  let offset = 0;
  const piece = 256 * 1024;
  while (offset < data.length) {
    const chunk = data.subarray(offset, offset + piece);
    offset += chunk.length;
    if (!client.write(chunk)) await once(client, 'drain');
    if (offset === 5 * piece) a.cut();
  }
  client.end();
  client.resume();
  await done;
  await once(client, 'close'); // both DATA_FINs acknowledged: a graceful close, no abort
  assert.equal(sha(Buffer.concat(received)), sha(data), 'the server received exactly what was sent');
  assert.ok(closedEvents.length >= 1, 'the cut subflow was declared failed');
  assert.ok(
    client.reinjectedBytes > 0 || client.stats!.reinjectedBytes > 0,
    'bytes in flight on the cut path were reinjected',
  );
  assert.equal(serverSocket!.stats!.bytesRead, data.length);
  if (!serverSocket!.destroyed) await once(serverSocket!, 'close');
  await a.close();
  await b.close();
});

test('a forged join (unknown token, then wrong HMAC) is refused while the connection goes on', async () => {
  const refusals: string[] = [];
  const server = createServer((s) => s.pipe(s));
  server.on('refused', (r: { reason: string }) => refusals.push(r.reason));
  server.listen([{ port: 0, host: '127.0.0.1' }]);
  await once(server, 'listening');
  const port = server.address()!.port;
  const client = connect({ port, host: '127.0.0.1' });
  await once(client, 'connect');

  // 1. A join with a token nobody has.
  const forged = net.connect(port, '127.0.0.1');
  await once(forged, 'connect');
  const syn = encodeFrameHeader({
    flags: 0,
    window: 65535,
    subflowAck: 1,
    payloadLength: 0,
    options: [
      {
        kind: 'mp_join',
        form: 'syn',
        backup: false,
        addressId: 9,
        token: (client.tokens!.remote! ^ 0x5a5a5a5a) >>> 0,
        nonce: 1234,
      },
    ],
  });
  forged.write(Buffer.concat([PREAMBLE, syn]));
  const reply = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    forged.on('data', (c) => chunks.push(c));
    forged.on('close', () => resolve(Buffer.concat(chunks)));
  });
  // The reply is the preamble and a frame carrying MP_TCPRST with an MPTCP-specific reason.
  assert.ok(reply.subarray(0, PREAMBLE.length).equals(Buffer.from(PREAMBLE)));
  assert.ok(reply.includes(Buffer.from([30, 4, 0x80, TcpRstReason.MPTCP_SPECIFIC])), 'MP_TCPRST sent');

  // 2. A join with the right token but a third-ACK HMAC that is wrong.
  const forged2 = net.connect(port, '127.0.0.1');
  await once(forged2, 'connect');
  forged2.write(
    Buffer.concat([
      PREAMBLE,
      encodeFrameHeader({
        flags: 0,
        window: 65535,
        subflowAck: 1,
        payloadLength: 0,
        options: [
          {
            kind: 'mp_join',
            form: 'syn',
            backup: false,
            addressId: 9,
            token: client.tokens!.remote!,
            nonce: 77,
          },
        ],
      }),
    ]),
  );
  await once(forged2, 'data'); // the SYN/ACK with the server's HMAC
  forged2.write(
    encodeFrameHeader({
      flags: 0,
      window: 65535,
      subflowAck: 1,
      payloadLength: 0,
      options: [{ kind: 'mp_join', form: 'ack', hmac: new Uint8Array(20) }],
    }),
  );
  await once(forged2, 'close');
  assert.deepEqual(refusals.length, 1);

  // The real connection is unaffected.
  const echoed: Buffer[] = [];
  client.on('data', (c: Buffer) => echoed.push(c));
  client.end('still here');
  await once(client, 'end');
  assert.equal(Buffer.concat(echoed).toString(), 'still here');
  assert.equal(client.subflows.length, 1);
  server.close();
});

test('a slow reader bounds the memory of both ends', async () => {
  const receiveBufferBytes = 256 * 1024;
  const sendBufferBytes = 512 * 1024;
  let serverSocket: MptcpSocket | undefined;
  const server = createServer({ receiveBufferBytes }, (s) => {
    serverSocket = s;
    s.pause(); // the application does not read
  });
  server.listen([{ port: 0, host: '127.0.0.1' }]);
  await once(server, 'listening');
  const client = connect({ port: server.address()!.port, host: '127.0.0.1', sendBufferBytes });
  await once(client, 'connect');
  let accepted = 0;
  const chunk = Buffer.alloc(64 * 1024, 7);
  // Keep writing while 'drain' keeps coming; stop when it has not come for 500 ms.
  for (let i = 0; i < 400; i++) {
    accepted += chunk.length;
    if (client.write(chunk)) continue;
    const drained = await Promise.race([
      once(client, 'drain').then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
    ]);
    if (!drained) break;
  }
  const bound = sendBufferBytes + receiveBufferBytes + 4 * chunk.length;
  assert.ok(accepted < bound, `the writer was stopped after ${accepted} bytes (bound ${bound})`);
  assert.ok(client.writableNeedDrain);
  // The server's core holds at most its receive window.
  const serverConn = (serverSocket as unknown as { conn: { readableBytes: number } }).conn;
  assert.ok(
    serverConn.readableBytes <= receiveBufferBytes,
    `server core holds ${serverConn.readableBytes} bytes`,
  );
  // Now read: everything arrives.
  const total = accepted;
  let got = 0;
  serverSocket!.on('data', (c: Buffer) => {
    got += c.length;
  });
  serverSocket!.resume();
  client.end();
  await once(serverSocket!, 'end');
  assert.equal(got, total);
  server.close();
});
