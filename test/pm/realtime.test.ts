import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  DEFAULT_RT_PRIORITY,
  restoreNormalScheduling,
  useRealtimeScheduling,
} from '../../src/pm/realtime.js';

/** Scheduling policy and RT priority of the calling thread (proc(5): stat fields 40 and 41). */
function threadPolicy(): { priority: number; policy: number } {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  return { priority: Number(fields[40 - 3]), policy: Number(fields[41 - 3]) };
}

const skip =
  process.platform !== 'linux'
    ? `scheduling policies are Linux's (this is ${process.platform})`
    : process.getuid?.() !== 0
      ? 'SCHED_FIFO needs CAP_SYS_NICE (run the tests as root)'
      : false;

describe('pm/realtime', () => {
  test('makes the calling thread SCHED_FIFO and puts it back to SCHED_OTHER', { skip }, () => {
    try {
      useRealtimeScheduling(DEFAULT_RT_PRIORITY);
      assert.deepEqual(threadPolicy(), { priority: DEFAULT_RT_PRIORITY, policy: 1 });
    } finally {
      restoreNormalScheduling();
    }
    assert.deepEqual(threadPolicy(), { priority: 0, policy: 0 });
  });

  test('rejects priorities outside 1..99 before any system call', () => {
    for (const p of [0, 100, 1.5, Number.NaN]) assert.throws(() => useRealtimeScheduling(p), RangeError);
  });
});
