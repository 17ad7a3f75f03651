import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type PathEvent,
  PathEmulator,
  PathEmulatorError,
  type PathEmulatorOptions,
  startPathEmulators,
} from '../../src/lab/relay.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Sink {
  server: Server;
  port: number;
  sockets: Socket[];
  chunks: Buffer[];
  /** chunks received, per accepted connection, in accept order */
  perSocket: Buffer[][];
  received(): number;
  ended: boolean;
  closed: boolean;
  errors: string[];
}

/** A server that records what it receives (and echoes it when echo is set). */
async function startSink(echo = false): Promise<Sink> {
  const sink: Sink = {
    server: createServer({ allowHalfOpen: true }),
    port: 0,
    sockets: [],
    chunks: [],
    perSocket: [],
    received: () => sink.chunks.reduce((n, c) => n + c.length, 0),
    ended: false,
    closed: false,
    errors: [],
  };
  sink.server.on('connection', (s) => {
    sink.sockets.push(s);
    const mine: Buffer[] = [];
    sink.perSocket.push(mine);
    s.setNoDelay(true);
    s.on('data', (b: Buffer) => {
      sink.chunks.push(b);
      mine.push(b);
      if (echo) s.write(b);
    });
    s.on('end', () => {
      sink.ended = true;
      s.end();
    });
    s.on('close', () => {
      sink.closed = true;
    });
    s.on('error', (e: NodeJS.ErrnoException) => sink.errors.push(e.code ?? e.message));
  });
  sink.server.listen(0, '127.0.0.1');
  await once(sink.server, 'listening');
  sink.port = (sink.server.address() as { port: number }).port;
  cleanups.push(async () => {
    for (const s of sink.sockets) s.destroy();
    await new Promise<void>((r) => sink.server.close(() => r()));
  });
  return sink;
}

async function startPath(opts: Partial<PathEmulatorOptions> & { targetPort: number }): Promise<PathEmulator> {
  const path = await PathEmulator.start({ name: 'test', targetHost: '127.0.0.1', ...opts });
  cleanups.push(() => path.close());
  return path;
}

async function dial(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port, noDelay: true, allowHalfOpen: true });
  await once(s, 'connect');
  cleanups.push(() => {
    s.destroy();
  });
  return s;
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const sha = (bufs: Buffer[] | Buffer): string =>
  createHash('sha256')
    .update(Array.isArray(bufs) ? Buffer.concat(bufs) : bufs)
    .digest('hex');

test('without delay or rate, bytes pass through both ways byte-exact', async () => {
  const sink = await startSink(true);
  const path = await startPath({ targetPort: sink.port });
  const c = await dial(path.port);
  const payload = randomBytes(1 << 20);
  const back: Buffer[] = [];
  c.on('data', (b: Buffer) => back.push(b));
  c.end(payload);
  await once(c, 'end');
  assert.equal(sha(back), sha(payload));
  assert.equal(sha(sink.chunks), sha(payload));
  const st = path.stats();
  assert.equal(st.up.bytes, payload.length);
  assert.equal(st.down.bytes, payload.length);
  assert.equal(st.connectionsAccepted, 1);
});

test('one-way delay: a ping-pong round trip takes at least twice the delay', async () => {
  const sink = await startSink(true);
  const delayMs = 25;
  const path = await startPath({ targetPort: sink.port, delayMs });
  const c = await dial(path.port);
  const rtts: number[] = [];
  for (let i = 0; i < 8; i++) {
    const t0 = performance.now();
    c.write('x');
    await once(c, 'data');
    rtts.push(performance.now() - t0);
  }
  rtts.sort((a, b) => a - b);
  assert.ok(rtts[0]! >= 2 * delayMs, `min rtt ${rtts[0]} < ${2 * delayMs}`);
  assert.ok(rtts[4]! < 2 * delayMs + 60, `median rtt ${rtts[4]} is far above ${2 * delayMs}`);
  // setDelay applies from now on.
  path.setDelay(5);
  const t0 = performance.now();
  c.write('y');
  await once(c, 'data');
  const rtt = performance.now() - t0;
  assert.ok(rtt >= 10 && rtt < 2 * delayMs, `rtt after setDelay(5) was ${rtt}`);
});

test('jitter never reorders bytes', async () => {
  const sink = await startSink();
  const path = await startPath({ targetPort: sink.port, delayMs: 2, jitterMs: 20 });
  const c = await dial(path.port);
  const parts: Buffer[] = [];
  for (let i = 0; i < 50; i++) {
    const b = randomBytes(100 + i * 37);
    parts.push(b);
    c.write(b);
    if (i % 5 === 0) await sleep(1);
  }
  c.end();
  await until(() => sink.ended, 5000, 'end at the sink');
  assert.equal(sha(sink.chunks), sha(parts));
});

test('rate limit: 2 MB at 20 Mbit/s takes at least ~0.75 s', async () => {
  const sink = await startSink();
  const path = await startPath({ targetPort: sink.port, rateMbps: 20 });
  const c = await dial(path.port);
  const payload = randomBytes(2 * 1024 * 1024);
  const t0 = performance.now();
  c.end(payload);
  await until(() => sink.ended, 10_000, 'end at the sink');
  const elapsed = (performance.now() - t0) / 1000;
  assert.equal(sink.received(), payload.length);
  assert.equal(sha(sink.chunks), sha(payload));
  // ideal: 2 MiB * 8 / 20e6 = 0.84 s
  assert.ok(elapsed >= 0.75, `took ${elapsed.toFixed(3)} s, too fast for 20 Mbit/s`);
  assert.ok(elapsed < 3, `took ${elapsed.toFixed(3)} s, far too slow for 20 Mbit/s`);
});

test('a rate-limited path with delay still reaches its rate (bytes in flight are allowed)', async () => {
  const sink = await startSink();
  const path = await startPath({
    targetPort: sink.port,
    rateMbps: 20,
    delayMs: 50,
    queueLimitBytes: 32 * 1024,
  });
  const c = await dial(path.port);
  const t0 = performance.now();
  c.end(randomBytes(2 * 1024 * 1024));
  await until(() => sink.ended, 10_000, 'end at the sink');
  const elapsed = (performance.now() - t0) / 1000;
  // ideal 0.84 s + 0.05 s; a 32 KB window alone over 50 ms would cap it at 5 Mbit/s (3.4 s)
  assert.ok(elapsed >= 0.8 && elapsed < 1.6, `took ${elapsed.toFixed(3)} s`);
  assert.ok(path.stats().up.maxQueuedBytes <= 32 * 1024 + 125_000 + 65_536);
});

test('half-close: the client ends, the target still answers, then both sides close', async () => {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    const got: Buffer[] = [];
    s.on('data', (b: Buffer) => got.push(b));
    s.on('end', () => {
      setTimeout(() => s.end(`got ${Buffer.concat(got).length}`), 50);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  const path = await startPath({ targetPort: (server.address() as { port: number }).port, delayMs: 5 });
  const c = await dial(path.port);
  const reply: Buffer[] = [];
  c.on('data', (b: Buffer) => reply.push(b));
  c.end(Buffer.alloc(1000));
  await once(c, 'end');
  assert.equal(Buffer.concat(reply).toString(), 'got 1000');
  await until(() => path.stats().connectionsActive === 0, 2000, 'the relayed connection to finish');
  assert.equal(path.stats().up.bytes, 1000);
});

test('with jitter the one-way delay never goes below the base delay', async () => {
  const sink = await startSink(true);
  const path = await startPath({ targetPort: sink.port, delayMs: 10, jitterMs: 10 });
  const c = await dial(path.port);
  const rtts: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    c.write('x');
    await once(c, 'data');
    rtts.push(performance.now() - t0);
  }
  assert.ok(Math.min(...rtts) >= 20, `rtt ${Math.min(...rtts)} < 2 × 10 ms`);
  assert.ok(Math.max(...rtts) < 40 + 60, `rtt ${Math.max(...rtts)} far above 2 × (10 + 10) ms`);
});

test('connections over one path share its rate', async () => {
  const sink = await startSink();
  const path = await startPath({ targetPort: sink.port, rateMbps: 20 });
  const a = await dial(path.port);
  const b = await dial(path.port);
  const t0 = performance.now();
  a.end(randomBytes(1024 * 1024));
  b.end(randomBytes(1024 * 1024));
  await until(() => sink.received() === 2 * 1024 * 1024, 10_000, 'both transfers');
  const elapsed = (performance.now() - t0) / 1000;
  // 2 MiB in total over one 20 Mbit/s link: ≥ 0.84 s ideal; each at a full 20 Mbit/s would take 0.42 s
  assert.ok(elapsed >= 0.75, `took ${elapsed.toFixed(3)} s: the connections did not share the link`);
  assert.ok(elapsed < 3, `took ${elapsed.toFixed(3)} s`);
});

test('setRate applies from now on', async () => {
  const sink = await startSink();
  const path = await startPath({ targetPort: sink.port, rateMbps: 2 });
  const c = await dial(path.port);
  c.write(randomBytes(4 * 1024 * 1024));
  await sleep(300);
  const slow = sink.received(); // ≈ 75 KB at 2 Mbit/s
  assert.ok(slow < 150_000, `${slow} bytes in 300 ms at 2 Mbit/s`);
  path.setRate(200);
  await until(() => sink.received() >= 4 * 1024 * 1024, 5000, 'the rest at 200 Mbit/s');
});

test('the queue bound holds: the source is paused, never buffered without bound', async () => {
  const sink = await startSink();
  const limit = 32 * 1024;
  const path = await startPath({ targetPort: sink.port, rateMbps: 1, queueLimitBytes: limit });
  const c = await dial(path.port);
  let ok = true;
  for (let i = 0; i < 64 && ok; i++) ok = c.write(randomBytes(16 * 1024));
  await sleep(500);
  const st = path.stats();
  assert.ok(st.up.queuedBytes > 0, 'expected bytes queued on a 1 Mbit/s link');
  assert.ok(st.up.maxQueuedBytes <= limit + 65_536, `queue reached ${st.up.maxQueuedBytes} > bound`);
  // 1 Mbit/s for 0.5 s ≈ 62 KB: far less than what was written has crossed.
  assert.ok(sink.received() < 200_000, `${sink.received()} bytes crossed a 1 Mbit/s link in 0.5 s`);
});

test('cut is a silent blackhole; restore delivers everything byte-exact', async () => {
  const sink = await startSink();
  const path = await startPath({ targetPort: sink.port, delayMs: 5 });
  const events: PathEvent[] = [];
  path.on('event', (e: PathEvent) => events.push(e));
  const c = await dial(path.port);
  let clientClosed = false;
  c.on('close', () => {
    clientClosed = true;
  });
  const first = randomBytes(100_000);
  c.write(first);
  await until(() => sink.received() === first.length, 3000, 'the first part');
  path.cut();
  assert.equal(path.stats().state, 'cut');
  const second = randomBytes(200_000);
  c.end(second);
  // A connection opened while cut hangs: accepted, but never reaches the target.
  const late = await dial(path.port);
  late.write('late');
  await sleep(500);
  assert.equal(sink.received(), first.length, 'bytes crossed a cut path');
  assert.equal(sink.ended, false, "the far side saw 'end' through a cut path");
  assert.equal(sink.closed, false);
  assert.equal(clientClosed, false);
  assert.equal(sink.sockets.length, 1, 'a connection accepted while cut reached the target');
  path.restore();
  await until(() => sink.ended, 5000, 'end after restore');
  assert.equal(sha(sink.perSocket[0]!), sha([first, second]));
  await until(() => sink.sockets.length === 2, 3000, 'the late connection after restore');
  await until(() => Buffer.concat(sink.perSocket[1]!).toString() === 'late', 3000, 'the late bytes');
  assert.deepEqual(
    events.filter((e) => e.type === 'state').map((e) => e.state),
    ['cut', 'up'],
  );
});

test('stall stops delivery for its duration, then resumes', async () => {
  const sink = await startSink();
  const path = await startPath({ targetPort: sink.port });
  const c = await dial(path.port);
  c.write('!');
  await until(() => sink.received() === 1, 3000, 'the first byte');
  path.stall(300);
  assert.equal(path.stats().state, 'stalled');
  const t0 = performance.now();
  c.write('hello');
  await until(() => sink.received() === 6, 3000, 'bytes after the stall');
  const waited = performance.now() - t0;
  assert.ok(waited >= 280, `delivered after ${waited} ms, during the stall`);
  assert.equal(path.stats().state, 'up');
});

test('reset destroys both sides with RST', async () => {
  const sink = await startSink();
  const path = await startPath({ targetPort: sink.port });
  const c = await dial(path.port);
  c.write('x');
  await until(() => sink.received() === 1, 3000, 'first byte');
  const clientError = new Promise<string>((resolve) => {
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
  path.reset();
  assert.equal(await clientError, 'ECONNRESET');
  await until(() => sink.closed, 3000, 'the target side to close');
  assert.deepEqual(sink.errors, ['ECONNRESET']);
  await until(() => path.stats().connectionsActive === 0, 1000, 'no active connection');
});

test('a refused target resets the client', async () => {
  const sink = await startSink();
  const port = sink.port;
  await new Promise<void>((r) => sink.server.close(() => r()));
  const path = await startPath({ targetPort: port });
  const c = connect({ host: '127.0.0.1', port: path.port });
  cleanups.push(() => {
    c.destroy();
  });
  const [err] = (await once(c, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNRESET');
});

test('the schedule fires in order at its times', async () => {
  const sink = await startSink();
  const schedule = [
    { atMs: 150, action: 'restore' as const },
    { atMs: 40, action: 'stall' as const, value: 30 },
    { atMs: 100, action: 'cut' as const },
    { atMs: 100, action: 'rate' as const, value: 5 },
    { atMs: 170, action: 'delay' as const, value: 3 },
  ];
  const path = await startPath({ targetPort: sink.port, schedule });
  const events: PathEvent[] = [];
  path.on('event', (e: PathEvent) => events.push(e));
  await sleep(300);
  const fired = events.filter((e) => e.type === 'schedule');
  assert.deepEqual(
    fired.map((e) => e.detail),
    ['stall', 'cut', 'rate', 'restore', 'delay'],
  );
  const wanted = [40, 100, 100, 150, 170];
  fired.forEach((e, i) => {
    assert.ok(e.tMs >= wanted[i]! - 1, `${e.detail} fired at ${e.tMs} < ${wanted[i]}`);
  });
  assert.deepEqual(
    events.filter((e) => e.type === 'state').map((e) => e.state),
    ['stalled', 'up', 'cut', 'up'],
  );
  const st = path.stats();
  assert.equal(st.rateMbps, 5);
  assert.equal(st.delayMs, 3);
});

test('bad options throw PathEmulatorError', async () => {
  await assert.rejects(
    PathEmulator.start({ name: 'x', targetHost: '127.0.0.1', targetPort: 1, delayMs: -1 }),
    PathEmulatorError,
  );
  await assert.rejects(
    PathEmulator.start({
      name: 'x',
      targetHost: '127.0.0.1',
      targetPort: 1,
      schedule: [{ atMs: 1, action: 'rate' }],
    }),
    PathEmulatorError,
  );
});

test('startPathEmulators starts one relay per path and cleans up when one fails', async () => {
  const sink = await startSink(true);
  const paths = await startPathEmulators({ host: '127.0.0.1', port: sink.port }, [
    { name: 'wifi', delayMs: 5 },
    { name: 'lte', delayMs: 20, rateMbps: 10 },
  ]);
  cleanups.push(async () => {
    await Promise.all(paths.map((p) => p.close()));
  });
  assert.deepEqual(
    paths.map((p) => p.name),
    ['wifi', 'lte'],
  );
  for (const p of paths) {
    const c = await dial(p.port);
    c.write('ping');
    await once(c, 'data');
  }
  const taken = paths[0]!.port;
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const freePort = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  await assert.rejects(
    startPathEmulators({ host: '127.0.0.1', port: sink.port }, [
      { name: 'ok', listenPort: freePort },
      { name: 'clash', listenPort: taken },
    ]),
    /EADDRINUSE/,
  );
  // the relay that did start was closed again
  const refused = connect({ host: '127.0.0.1', port: freePort });
  const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNREFUSED');
});
