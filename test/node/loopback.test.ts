import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { connect, createServer, type MptcpServer, type MptcpSocket } from '../../src/node/index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function listen(server: MptcpServer, count = 1): Promise<number[]> {
  server.listen(Array.from({ length: count }, () => ({ port: 0, host: '127.0.0.1' })));
  await once(server, 'listening');
  return server.addresses().map((a) => a.port);
}

function collect(socket: MptcpSocket | net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

test('echo over two subflows on two ports, both directions, byte-exact', async () => {
  const server = createServer((s) => {
    s.pipe(s);
  });
  const [p1, p2] = await listen(server, 2);
  const client = connect({
    paths: [
      { host: '127.0.0.1', port: p1! },
      { host: '127.0.0.1', port: p2! },
    ],
  });
  await once(client, 'connect');
  assert.equal(client.multipath, true);
  await new Promise<void>((resolve) => {
    const check = () =>
      client.subflows.filter((s) => s.state === 'established').length === 2
        ? resolve()
        : setTimeout(check, 10);
    check();
  });
  const data = randomBytes(8 * 1024 * 1024);
  const received = collect(client);
  client.end(data);
  const echoed = await received;
  assert.equal(sha(echoed), sha(data));
  const subflows = client.subflows;
  assert.equal(subflows.length, 2);
  for (const s of subflows) assert.ok(s.bytesSent > 0, `subflow ${s.id} carried data`);
  assert.deepEqual(new Set(subflows.map((s) => s.remotePort)), new Set([p1, p2]));
  client.destroy();
  server.close();
});

test('fallback: our client against a plain net server', async () => {
  const plain = net.createServer((s) => s.pipe(s));
  plain.listen(0, '127.0.0.1');
  await once(plain, 'listening');
  const port = (plain.address() as net.AddressInfo).port;
  const client = connect({ port, host: '127.0.0.1', fallbackTimeoutMs: 500 });
  const received = collect(client);
  client.end('hello plain world');
  assert.equal((await received).toString(), 'hello plain world');
  assert.equal(client.multipath, false);
  plain.close();
});

test('fallback: a plain net client against our server', async () => {
  let serverSide: MptcpSocket | undefined;
  const server = createServer((s) => {
    serverSide = s;
    s.pipe(s);
  });
  const [port] = await listen(server);
  const client = net.connect(port!, '127.0.0.1');
  const received = collect(client);
  client.end('plain in, plain out');
  assert.equal((await received).toString(), 'plain in, plain out');
  assert.equal(serverSide?.multipath, false);
  server.close();
});

test('works with stream.pipeline and as http.Agent createConnection', async () => {
  const server = createServer();
  const httpServer = http.createServer((req, res) => {
    res.end(`hello ${req.url}`);
  });
  server.on('connection', (s) => httpServer.emit('connection', s));
  const [port] = await listen(server);
  const agent = new http.Agent({ keepAlive: false });
  (agent as unknown as { createConnection: unknown }).createConnection = (opts: {
    port: number;
    host: string;
  }) => connect({ port: opts.port, host: opts.host });
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/mp', agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  assert.equal(body, 'hello /mp');

  // pipeline: stream a buffer through the connection and back.
  const echo = createServer((s) => s.pipe(s));
  const [p2] = await listen(echo);
  const client = connect(p2!, '127.0.0.1');
  const data = randomBytes(1_000_000);
  const received = collect(client);
  await pipeline(
    (async function* () {
      yield data;
    })(),
    client,
  );
  assert.equal(sha(await received), sha(data));
  server.close();
  echo.close();
  httpServer.close();
});

test('on Linux, each subflow snapshot carries the kernel TCP_INFO of its socket', {
  skip: process.platform !== 'linux' && 'TCP_INFO is read on Linux only',
}, async () => {
  const { enableKernelTcpInfo } = await import('../../src/node/index.js');
  assert.equal(await enableKernelTcpInfo(), true);
  const server = createServer((s) => {
    s.on('error', () => {}); // the client aborts (destroy → MP_FASTCLOSE → ECONNRESET here)
    s.pipe(s);
  });
  const [port] = await listen(server);
  const client = connect(port!, '127.0.0.1');
  await once(client, 'connect');
  client.write(randomBytes(100_000));
  await new Promise((r) => setTimeout(r, 100));
  const [sf] = client.subflows;
  assert.ok(sf?.kernel, 'kernel tcp_info present');
  assert.ok(
    sf.kernel.rttUs > 0 && sf.kernel.cwnd > 0 && sf.kernel.rtoUs >= 200_000,
    JSON.stringify(sf.kernel),
  );
  client.destroy();
  server.close();
});
