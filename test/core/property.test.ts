/**
 * Property tests of the userspace MPTCP core on the virtual clock (SimPair): whatever the write sizes,
 * paths, reordering, faults and backpressure, the delivered stream equals the sent stream byte for
 * byte, both sides finish, and the buffers stay within their bounds. PROPERTY_RUNS scales the runs.
 */
import { test } from 'node:test';
import fc from 'fast-check';
import { runScenario, scenarioArb } from './property-harness.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 1000);

test('client → server: random writes, paths, faults and backpressure deliver the stream exactly', () => {
  fc.assert(
    fc.property(scenarioArb({ bidirectional: false }), (sc) => {
      runScenario(sc);
    }),
    { numRuns: RUNS },
  );
});

test('bidirectional: both streams are delivered exactly and both sides finish', () => {
  fc.assert(
    fc.property(scenarioArb({ bidirectional: true }), (sc) => {
      runScenario(sc);
    }),
    { numRuns: Math.ceil(RUNS / 4) },
  );
});
