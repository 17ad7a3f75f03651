/**
 * Real-time scheduling of the calling thread, for a path manager whose reaction time matters
 * (seed 003 §4.5): with the default policy (SCHED_OTHER), a thread woken by a netlink event waits
 * behind the task that emitted it (measured on a 2-vCPU VM: ~100 µs median between sched_waking
 * and the thread running, against ~11 µs for the in-kernel PM's kworker). SCHED_FIFO makes the
 * wake-up preempt normal tasks. Opt-in: it needs CAP_SYS_NICE (a PM needs CAP_NET_ADMIN anyway),
 * and a real-time thread that spins would starve normal ones (the kernel's RT throttling,
 * sched_rt_runtime_us, leaves them 5% by default).
 *
 * Contract: acts on the calling thread only (Linux: pid 0 = the caller's thread id); throws
 * NativeCallError when the kernel refuses. `restoreNormalScheduling` puts it back to SCHED_OTHER.
 */
import { errno, libcFunction, NativeCallError } from '../native/libc.js';

/** include/uapi/linux/sched.h */
const SCHED_OTHER = 0;
const SCHED_FIFO = 1;
/** sched_get_priority_max(SCHED_FIFO) on Linux. */
export const MAX_RT_PRIORITY = 99;
/** A low real-time priority: above every normal task, below the kernel's own RT threads (50). */
export const DEFAULT_RT_PRIORITY = 10;

function setScheduler(policy: number, priority: number): void {
  const setscheduler = libcFunction('int sched_setscheduler(int, int, const void *)');
  const param = Buffer.alloc(4); // struct sched_param { int sched_priority; }
  param.writeInt32LE(priority, 0);
  if (setscheduler(0, policy, param) !== 0)
    throw new NativeCallError(
      'sched_setscheduler',
      errno(),
      `policy ${policy}, priority ${priority}${policy === SCHED_FIFO ? '; SCHED_FIFO needs CAP_SYS_NICE or RLIMIT_RTPRIO' : ''}`,
    );
}

/** Makes the calling thread SCHED_FIFO at `priority` (1..99). */
export function useRealtimeScheduling(priority = DEFAULT_RT_PRIORITY): void {
  if (!Number.isInteger(priority) || priority < 1 || priority > MAX_RT_PRIORITY)
    throw new RangeError(`real-time priority must be an integer in 1..${MAX_RT_PRIORITY}, got ${priority}`);
  setScheduler(SCHED_FIFO, priority);
}

/** Puts the calling thread back to SCHED_OTHER. */
export function restoreNormalScheduling(): void {
  setScheduler(SCHED_OTHER, 0);
}
