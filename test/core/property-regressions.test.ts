/**
 * Counterexamples the property tests found (shrunk), kept as regression tests. Each names the bug it
 * caught; the fix is described in the core next to the code it changed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimPair } from '../../src/sim/pair.js';
import { runScenario, type Scenario } from './property-harness.js';

const base: Scenario = {
  paths: [{ delayMs: 1, rateBytesPerMs: undefined, backup: false }],
  writes: [1],
  replies: [],
  sendBufferBytes: 8192,
  receiveBufferBytes: 8192,
  serverReadBytesPerMs: undefined,
  clientReadBytesPerMs: undefined,
  faults: [],
  seed: 1,
};

test('a DATA_ACK of a DATA_FIN whose resend is pending is accepted (was: protocol violation)', () => {
  // The DATA_FIN went out on subflow 1, which was killed; the server's DATA_ACK covering it arrived
  // on the new subflow before the DATA_FIN was sent again.
  const sim = new SimPair({ delayMs: 1 });
  assert.ok(sim.waitEstablished());
  sim.write(Uint8Array.of(5));
  sim.end();
  sim.runUntil(() => false, sim.now + 1);
  sim.kill(1);
  sim.join({ delayMs: 1 });
  sim.runUntil(() => false, sim.now + 100);
  const protocol = sim.clientEvents.find((e) => e.type === 'subflow-closed' && e.reason === 'protocol');
  assert.equal(protocol, undefined, JSON.stringify(protocol));
  assert.equal(sim.clientEvents.filter((e) => e.type === 'send-finished').length, 1, "one 'send-finished'");
  runScenario({ ...base, faults: [{ atMs: 1, kind: 'kill', target: 0, durationMs: 1 }] });
});

test("'send-finished' is emitted once, however many DATA_ACKs cover the DATA_FIN", () => {
  const sim = new SimPair({ delayMs: 14, rateBytesPerMs: 1000 }, { clientReadBytesPerMs: 107 });
  assert.ok(sim.waitEstablished());
  sim.write(Uint8Array.of(1));
  sim.end();
  sim.runUntil(() => sim.serverEnded, 5000);
  sim.serverWrite(new Uint8Array(40_000));
  sim.serverEnd();
  assert.ok(sim.runUntil(() => sim.clientReceivedBytes === 40_000 && sim.clientEnded, 60_000));
  assert.equal(sim.clientEvents.filter((e) => e.type === 'send-finished').length, 1);
});

test('a window update lost with a killed subflow does not stall the sender (zero-window persist)', () => {
  runScenario({
    ...base,
    paths: [{ delayMs: 14, rateBytesPerMs: 1000, backup: false }],
    replies: [2417, 5352, 3806, 6135, 10424, 6867, 5490, 9450, 7775, 10419],
    sendBufferBytes: 20_000,
    receiveBufferBytes: 20_000,
    clientReadBytesPerMs: 107,
    faults: [
      { atMs: 0, kind: 'kill', target: 0, durationMs: 1 },
      { atMs: 402, kind: 'kill', target: 0, durationMs: 1 },
    ],
  });
});

test('a window update lost on a silently cut subflow does not stall the sender (zero-window persist)', () => {
  const sim = new SimPair(
    { delayMs: 5 },
    { server: { receiveBufferBytes: 16_384 }, serverReadBytesPerMs: 0 },
  );
  assert.ok(sim.waitEstablished());
  const id2 = sim.join({ delayMs: 5 });
  sim.runUntil(() => sim.client.subflowInfo().every((s) => s.state === 'established'), sim.now + 1000);
  const data = new Uint8Array(50_000).map((_, i) => i * 7);
  sim.write(data);
  sim.end();
  // The server's window fills (its reader is stopped); then every path the server might answer on is
  // cut but one, and the reader resumes: the window update may go on the cut path.
  sim.runUntil(() => false, sim.now + 200);
  assert.equal(sim.server!.receiveBufferedBytes, 16_384);
  sim.cut(1);
  (sim as unknown as { serverReader: { rateBytesPerMs: number } }).serverReader.rateBytesPerMs = 1000;
  assert.ok(sim.runUntil(() => sim.serverEnded && sim.serverReceivedBytes === data.length, sim.now + 30_000));
  assert.ok(Buffer.from(data).equals(sim.serverBytes()));
  assert.ok(id2 > 1);
});

test('the final DATA_ACK is repeated on every subflow: a cut path at the end does not orphan the peer', () => {
  runScenario({
    ...base,
    paths: [
      { delayMs: 6, rateBytesPerMs: 1000, backup: false },
      { delayMs: 15, rateBytesPerMs: undefined, backup: false },
    ],
    writes: [2048, 1848, 9555, 4981, 8193],
    faults: [
      { atMs: 104, kind: 'stall', target: 0, durationMs: 174 },
      { atMs: 231, kind: 'stall', target: 1, durationMs: 262 },
      { atMs: 60, kind: 'kill', target: 0, durationMs: 1 },
    ],
  });
});

test('break-before-make at the end: the side whose DATA_FIN is unacknowledged waits for a new subflow', () => {
  // Was: the server closed when its last subflow died, its DATA_FIN never received; the client's
  // joins were then refused (unknown token) and it never saw 'end'.
  runScenario({
    ...base,
    faults: [
      { atMs: 401, kind: 'kill', target: 0, durationMs: 1 },
      { atMs: 0, kind: 'cut', target: 0, durationMs: 1 },
    ],
  });
});

test('a lost last DATA_ACK ends the connection cleanly after the orphan timeout (like TCP LAST_ACK)', () => {
  const out = runScenario({
    ...base,
    paths: [{ delayMs: 2, rateBytesPerMs: undefined, backup: false }],
    writes: [10240, 18319, 6258],
    serverReadBytesPerMs: 100,
    faults: [
      { atMs: 503, kind: 'stall', target: 0, durationMs: 42 },
      { atMs: 246, kind: 'cut', target: 0, durationMs: 1 },
      { atMs: 232, kind: 'stall', target: 0, durationMs: 1 },
      { atMs: 538, kind: 'kill', target: 3, durationMs: 1 },
    ],
  });
  assert.ok(out.virtualMs > 0);
});

test('harness: a read that opens the window sends the window update (slow reader, 1 byte short)', () => {
  runScenario({ ...base, writes: [6145, 8193], serverReadBytesPerMs: 100 });
});

test('the last DATA_ACK lost while the only surviving path is still joining: a false error on one side only', () => {
  // The client finished while its final DATA_ACKs could only go on a cut path (the new join was not
  // established yet): the server cannot know its data arrived. Tolerated (see runScenario), but only
  // this way round: the client closed cleanly with everything, and the server reports 'every subflow
  // was lost'. (Segmented slow links changed this scenario's timing; it is kept as a replay.)
  runScenario({
    ...base,
    paths: [
      { delayMs: 9, rateBytesPerMs: 1000, backup: false },
      { delayMs: 7, rateBytesPerMs: 2747, backup: false },
    ],
    replies: [20070, 19113, 24324, 6911, 3912, 22749, 15690, 7232],
    sendBufferBytes: 65536,
    receiveBufferBytes: 20000,
    faults: [
      { atMs: 439, kind: 'kill', target: 0, durationMs: 1 },
      { atMs: 239, kind: 'stall', target: 0, durationMs: 200 },
      { atMs: 30, kind: 'cut', target: 0, durationMs: 1 },
    ],
  });
});

test('a slow path (100–200 KB/s) is not taken for a dead one: no subflow fails, the data arrives', () => {
  // Was: the first 128 KiB in flight took longer than the 200 ms probe timeout to drain, the probe
  // waited behind them, and the only subflow was declared dead (then every new one, forever).
  for (const rate of [100, 200]) {
    const sim = new SimPair({ delayMs: 10, rateBytesPerMs: rate });
    assert.ok(sim.waitEstablished());
    const data = new Uint8Array(300_000).map((_, i) => i % 251);
    sim.write(data);
    sim.end();
    assert.ok(
      sim.runUntil(() => sim.serverEnded, sim.now + 60_000),
      `${rate} B/ms: completed`,
    );
    assert.ok(Buffer.from(data).equals(sim.serverBytes()));
    assert.deepEqual(
      sim.clientEvents.filter((e) => e.type === 'subflow-closed'),
      [],
      `${rate} B/ms: no subflow failed`,
    );
  }
});

test('a slow path: acknowledgements queued behind the peer’s data do not fail the subflow', () => {
  // Was: the server's 1-byte reply waited for an acknowledgement queued behind 19 KB of client data
  // at 100 B/ms; the server declared each new subflow dead after 200 ms.
  runScenario({
    ...base,
    paths: [{ delayMs: 1, rateBytesPerMs: 100, backup: false }],
    writes: [13588, 6131],
    replies: [1],
    sendBufferBytes: 65536,
    receiveBufferBytes: 262144,
    faults: [{ atMs: 0, kind: 'kill', target: 0, durationMs: 1 }],
  });
});
