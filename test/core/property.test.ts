/**
 * Property tests of the userspace MPTCP core on the virtual clock (SimPair): whatever the write sizes,
 * paths, reordering, faults and backpressure, the delivered stream equals the sent stream byte for
 * byte, both sides finish, and the buffers stay within their bounds. PROPERTY_RUNS scales the runs.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import fc from 'fast-check';
import { runScenario, scenarioArb } from './property-harness.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 1000);

function check(t: TestContext, bidirectional: boolean, numRuns: number): void {
  let joins = 0;
  let reinjected = 0;
  let lastAckLost = 0;
  let virtualMs = 0;
  fc.assert(
    fc.property(scenarioArb({ bidirectional }), (sc) => {
      const out = runScenario(sc);
      joins += out.joins;
      reinjected += out.reinjectedBytes;
      virtualMs += out.virtualMs;
      if (out.lastAckLost) lastAckLost++;
    }),
    { numRuns },
  );
  // What the runs exercised (the last counts include shrinking runs only when a property fails).
  t.diagnostic(
    `${numRuns} runs: ${joins} joins, ${reinjected} bytes reinjected, ${Math.round(virtualMs / 1000)} virtual s, ${lastAckLost} lost last DATA_ACK`,
  );
  assert.ok(reinjected > 0 && joins > numRuns, 'the runs included faults and reinjection');
}

test('client → server: random writes, paths, faults and backpressure deliver the stream exactly', (t) => {
  check(t, false, RUNS);
});

test('bidirectional: both streams are delivered exactly and both sides finish', (t) => {
  check(t, true, RUNS);
});
