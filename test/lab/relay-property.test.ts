import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { PathEmulator } from '../../src/lab/relay.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

type Op =
  | { at: number; kind: 'cut' | 'restore' }
  | { at: number; kind: 'stall'; ms: number }
  | { at: number; kind: 'rate'; mbps: number }
  | { at: number; kind: 'delay'; ms: number; jitter: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    at: fc.integer({ min: 0, max: 250 }),
    kind: fc.constantFrom('cut' as const, 'restore' as const),
  }),
  fc.record({
    at: fc.integer({ min: 0, max: 250 }),
    kind: fc.constant('stall' as const),
    ms: fc.integer({ min: 1, max: 80 }),
  }),
  fc.record({
    at: fc.integer({ min: 0, max: 250 }),
    kind: fc.constant('rate' as const),
    mbps: fc.constantFrom(0, 5, 20, 100),
  }),
  fc.record({
    at: fc.integer({ min: 0, max: 250 }),
    kind: fc.constant('delay' as const),
    ms: fc.integer({ min: 0, max: 20 }),
    jitter: fc.integer({ min: 0, max: 10 }),
  }),
);

test('any mix of delay, jitter, rate, cuts and stalls delivers both directions byte-exact', async () => {
  // An echo server: what comes back must equal what was sent, through the relay both ways.
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const targetPort = (server.address() as { port: number }).port;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          delayMs: fc.integer({ min: 0, max: 15 }),
          jitterMs: fc.integer({ min: 0, max: 10 }),
          rateMbps: fc.constantFrom(0, 8, 40),
          queueLimitBytes: fc.constantFrom(4096, 65_536, 262_144),
          sizes: fc.array(fc.integer({ min: 1, max: 40_000 }), { minLength: 1, maxLength: 12 }),
          ops: fc.array(opArb, { maxLength: 6 }),
        }),
        async ({ sizes, ops, ...timing }) => {
          const path = await PathEmulator.start({
            name: 'p',
            targetHost: '127.0.0.1',
            targetPort,
            ...timing,
          });
          let c: Socket | undefined;
          const timers: NodeJS.Timeout[] = [];
          try {
            c = connect({ host: '127.0.0.1', port: path.port, allowHalfOpen: true });
            await once(c, 'connect');
            const back: Buffer[] = [];
            c.on('data', (b: Buffer) => back.push(b));
            const ended = once(c, 'end');
            for (const op of ops) {
              timers.push(
                setTimeout(() => {
                  if (op.kind === 'cut') path.cut();
                  else if (op.kind === 'restore') path.restore();
                  else if (op.kind === 'stall') path.stall(op.ms);
                  else if (op.kind === 'rate') path.setRate(op.mbps);
                  else if (op.kind === 'delay') path.setDelay(op.ms, op.jitter);
                }, op.at),
              );
            }
            const sent = sizes.map((n) => randomBytes(n));
            for (const b of sent) {
              c.write(b);
              await sleep(sizes.length > 6 ? 1 : 10);
            }
            c.end();
            await sleep(260); // let every op fire, then make sure the path ends up open
            path.restore();
            path.setRate(0);
            const deadline = performance.now() + 10_000;
            await Promise.race([
              ended,
              (async () => {
                while (performance.now() < deadline) await sleep(50);
                throw new Error('no end within 10 s');
              })(),
            ]);
            const all = Buffer.concat(sent);
            assert.equal(sha(Buffer.concat(back)), sha(all));
            const st = path.stats();
            assert.equal(st.up.bytes, all.length);
            assert.equal(st.down.bytes, all.length);
          } finally {
            for (const t of timers) clearTimeout(t);
            c?.destroy();
            await path.close();
          }
        },
      ),
      { numRuns: 12 },
    );
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
