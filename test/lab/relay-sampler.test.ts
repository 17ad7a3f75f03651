import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PathEmulator } from '../../src/lab/relay.js';
import { RelaySampler } from '../../src/lab/relay-sampler.js';
import { lineChart } from '../../src/lab/svg.js';

test('the sampler turns relay counters into a throughput series with cut/restore annotations', async (t) => {
  let received = 0;
  const server = createServer((s) => {
    s.on('data', (b: Buffer) => {
      received += b.length;
    });
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const path = await PathEmulator.start({
    name: 'wifi',
    targetHost: '127.0.0.1',
    targetPort: (server.address() as { port: number }).port,
    rateMbps: 16,
    schedule: [
      { atMs: 500, action: 'cut' },
      { atMs: 900, action: 'restore' },
    ],
  });
  const sampler = new RelaySampler([path], 'up', 100);
  const c = connect({ host: '127.0.0.1', port: path.port });
  t.after(async () => {
    c.destroy();
    await path.close();
    await new Promise<void>((r) => server.close(() => r()));
  });
  await once(c, 'connect');
  c.write(Buffer.alloc(4 * 1024 * 1024)); // 2 s at 16 Mbit/s: more than the test runs
  await sleep(1300);
  const { throughput, annotations } = sampler.stop();
  assert.equal(throughput.length, 1);
  const pts = throughput[0]!.points;
  assert.ok(pts.length >= 10, `only ${pts.length} samples`);
  const during = pts.filter(([x]) => x > 0.65 && x < 0.85).map(([, y]) => y);
  const before = pts.filter(([x]) => x > 0.15 && x < 0.45).map(([, y]) => y);
  assert.ok(during.length > 0 && during.every((y) => y === 0), `traffic during the cut: ${during}`);
  const avg = before.reduce((a, b) => a + b, 0) / before.length;
  assert.ok(avg > 10 && avg < 20, `average ${avg.toFixed(2)} Mbit/s before the cut at 16 Mbit/s`);
  // The integral of the series is the byte count.
  let bits = 0;
  for (let i = 1; i < pts.length; i++) bits += pts[i]![1] * 1e6 * (pts[i]![0] - pts[i - 1]![0]);
  const forwarded = path.stats().up.bytes;
  assert.ok(Math.abs(bits / 8 - forwarded) < forwarded * 0.02 + 2000, `${bits / 8} vs ${forwarded}`);
  assert.ok(received <= forwarded);
  assert.deepEqual(
    annotations.map((a) => a.label),
    ['wifi cut', 'wifi up'],
  );
  const svg = lineChart({ title: 'wifi', series: throughput, annotations });
  assert.ok(!/NaN/.test(svg) && svg.includes('wifi cut'));
});
