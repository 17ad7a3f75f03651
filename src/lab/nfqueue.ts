/**
 * Packet-level delay, jitter and loss without netem: packets are sent to an NFQUEUE queue by an
 * iptables rule (./nfqueue-rules.ts) and this process holds each one's verdict until its release
 * time (./nfqueue-delay-line.ts), then accepts it (Linux, root).
 *
 * Contract:
 * - `startDelayQueue(opts)` binds queue `queueNum` in `opts.netns` (or here), optionally installs
 *   the iptables rule given in `opts.rule`, and resolves once packets are being delayed. Without
 *   `rule`, install one yourself with installNfqueueRule (the queue must be bound first or, thanks
 *   to --queue-bypass, packets just pass undelayed).
 * - Order is preserved per queue (hence per flow): release = max(previous release, arrival +
 *   delay ± jitter). Arrival is the time this process reads the packet (tens of µs after the
 *   kernel queued it). Lost packets (lossPct) get NF_DROP as soon as they are read.
 * - Timing: one loop for all the process's queues (./nfqueue-driver.ts) waits with ppoll(2)
 *   (nanosecond timeout) for either the next release time or a new packet, so releases are late by
 *   the wake-up latency only (typically < 0.2 ms), never by setTimeout's millisecond rounding.
 *   Due packets leave in one NFQNL_MSG_VERDICT_BATCH.
 * - `setDelay(ms, jitterMs = 0)` applies to packets arriving afterwards (loss is unchanged).
 * - `delayIngress(netns, iface, {delayMs, jitterMs?, lossPct?})` is the one-call form for the lab
 *   topologies: it picks a queue number nobody holds in the namespace and installs the rule.
 * - `stop()` removes the rule it installed, accepts every packet still held (no loss on stop),
 *   unbinds the queue and closes the socket; idempotent. `stats()` is cheap and synchronous.
 */
import { readFileSync } from 'node:fs';
import { emitVerdict, emitVerdictBatch, NF_ACCEPT, NF_DROP } from '../netlink/nfnetlink-queue.js';
import { DelayLine } from './nfqueue-delay-line.js';
import { type DriverMember, nfqueueDriver, WAKE_AHEAD_MS } from './nfqueue-driver.js';
import {
  installNfqueueRule,
  type NfqueueFamily,
  type NfqueueRule,
  type NfqueueRuleOptions,
} from './nfqueue-rules.js';
import { NfqueueError, NfqueueSocket } from './nfqueue-socket.js';
import { withNetns } from './netns.js';

export { type DelayConfig, DelayLine, DelayLineError } from './nfqueue-delay-line.js';
export {
  countNfqueueRules,
  installNfqueueRule,
  type NfqueueDirection,
  type NfqueueFamily,
  type NfqueueRule,
  type NfqueueRuleOptions,
  NfqueueRuleError,
  nfqueueRuleSpec,
} from './nfqueue-rules.js';
export { DEFAULT_QUEUE_MAXLEN, NfqueueError, NfqueueSocket } from './nfqueue-socket.js';

export { MAX_WAIT_MS, WAKE_AHEAD_MS } from './nfqueue-driver.js';

export interface DelayQueueOptions {
  /** Namespace to bind the queue in (a name under /var/run/netns); default: this one. */
  netns?: string;
  queueNum: number;
  delayMs: number;
  jitterMs?: number;
  lossPct?: number;
  /** Install this iptables rule after binding, and remove it on stop. */
  rule?: Omit<NfqueueRuleOptions, 'queueNum'>;
  /** Kernel queue length in packets (default DEFAULT_QUEUE_MAXLEN). */
  queueMaxLen?: number;
  /** Random source in [0, 1) for jitter and loss (default Math.random). */
  random?: () => number;
}

export interface DelayQueueStats {
  /** Packets read from the queue. */
  received: number;
  /** Packets accepted after their delay. */
  released: number;
  /** Packets dropped on purpose (lossPct). */
  dropped: number;
  /** Packets dropped because the delay line was full. */
  overflowed: number;
  /** Packets held right now, and the most ever held. */
  held: number;
  maxHeld: number;
  /** How late releases were, ms: mean and max over all release rounds. */
  meanLatenessMs: number;
  maxLatenessMs: number;
  /** Receive-buffer overruns seen by the socket (ENOBUFS) and rejected verdicts. */
  overruns: number;
  verdictErrors: number;
  /** Socket errors the loop survived, and the last one's text. */
  errors: number;
  lastError?: string;
  /** Kernel-side counters from /proc/net/netfilter/nfnetlink_queue (queue full, socket full). */
  kernelQueueDropped?: number;
  kernelUserDropped?: number;
}

export interface DelayQueue {
  readonly queueNum: number;
  readonly rule: NfqueueRule | undefined;
  stop(): Promise<void>;
  stats(): DelayQueueStats;
  setDelay(delayMs: number, jitterMs?: number): void;
}

/** /proc/net/netfilter/nfnetlink_queue as seen inside `netns`, one array of numbers per queue. */
function procQueues(netns: string | undefined): number[][] {
  const read = () => {
    try {
      return readFileSync('/proc/thread-self/net/netfilter/nfnetlink_queue', 'utf8');
    } catch {
      return '';
    }
  };
  const text = netns ? withNetns(netns, read) : read();
  // Fields (nfnetlink_queue.c seq_show): queue_num peer_portid queue_total copy_mode copy_range
  // queue_dropped queue_user_dropped id_sequence 1.
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((f) => f.length >= 7 && f.every(Number.isFinite));
}

/** Kernel counters for `queueNum` read from procfs inside the namespace (undefined if unbound). */
export function kernelQueueCounters(
  netns: string | undefined,
  queueNum: number,
): { queueDropped: number; userDropped: number; queueTotal: number } | undefined {
  const f = procQueues(netns).find((q) => q[0] === queueNum);
  return f ? { queueTotal: f[2]!, queueDropped: f[5]!, userDropped: f[6]! } : undefined;
}

/** Queue numbers bound by any program in the namespace. */
export function boundQueueNumbers(netns: string | undefined): Set<number> {
  return new Set(procQueues(netns).map((f) => f[0]!));
}

export async function startDelayQueue(opts: DelayQueueOptions): Promise<DelayQueue> {
  const line = new DelayLine({ delayMs: opts.delayMs, jitterMs: opts.jitterMs, lossPct: opts.lossPct });
  const random = opts.random ?? Math.random;
  const sock = NfqueueSocket.open(opts.netns);
  try {
    sock.bind(opts.queueNum, { queueMaxLen: opts.queueMaxLen });
  } catch (err) {
    await sock.close();
    throw err;
  }
  let rule: NfqueueRule | undefined;
  try {
    if (opts.rule) rule = installNfqueueRule(opts.netns, { ...opts.rule, queueNum: opts.queueNum });
  } catch (err) {
    await sock.close();
    throw err;
  }

  const s = {
    received: 0,
    released: 0,
    dropped: 0,
    overflowed: 0,
    maxHeld: 0,
    latenessSum: 0,
    rounds: 0,
    maxLateness: 0,
    errors: 0,
  };
  let lastError: string | undefined;
  let drops: number[] = [];

  const onPacket = (id: number) => {
    s.received++;
    const r = line.arrive(id, performance.now(), random);
    if (r === 'drop' || r === 'overflow') {
      if (r === 'drop') s.dropped++;
      else s.overflowed++;
      drops.push(id);
    }
  };

  const flushDrops = () => {
    if (drops.length === 0) return;
    sock.sendVerdicts(
      drops.map((id) => ({ batch: false, payload: emitVerdict(opts.queueNum, id, NF_DROP) })),
    );
    drops = [];
  };

  const release = (now: number) => {
    const due = line.nextReleaseAt();
    if (due === undefined || due > now + WAKE_AHEAD_MS) return;
    const before = line.size;
    const last = line.popDue(now + WAKE_AHEAD_MS);
    if (last === undefined) return;
    sock.sendVerdicts([{ batch: true, payload: emitVerdictBatch(opts.queueNum, last, NF_ACCEPT) }]);
    s.released += before - line.size;
    const late = Math.max(0, now - due);
    s.latenessSum += late;
    s.rounds++;
    if (late > s.maxLateness) s.maxLateness = late;
  };

  const member: DriverMember = {
    fd: sock.fd,
    service(now: number) {
      try {
        sock.readPacketIds(onPacket);
        flushDrops();
        if (line.size > s.maxHeld) s.maxHeld = line.size;
        release(now);
        return { next: line.nextReleaseAt(), failed: false };
      } catch (err) {
        // A failed recv/sendto must not end the delay line (packets would stay queued forever).
        s.errors++;
        lastError = err instanceof Error ? err.message : String(err);
        return { next: line.nextReleaseAt(), failed: true };
      }
    },
  };
  nfqueueDriver.add(member);
  let stopped: Promise<void> | undefined;

  return {
    queueNum: opts.queueNum,
    rule,
    setDelay(delayMs: number, jitterMs = 0) {
      line.setDelay(delayMs, jitterMs);
    },
    stats(): DelayQueueStats {
      const k = kernelQueueCounters(opts.netns, opts.queueNum);
      return {
        received: s.received,
        released: s.released,
        dropped: s.dropped,
        overflowed: s.overflowed,
        held: line.size,
        maxHeld: s.maxHeld,
        meanLatenessMs: s.rounds > 0 ? s.latenessSum / s.rounds : 0,
        maxLatenessMs: s.maxLateness,
        overruns: sock.overruns,
        verdictErrors: sock.verdictErrors,
        errors: s.errors,
        ...(lastError ? { lastError } : {}),
        ...(k ? { kernelQueueDropped: k.queueDropped, kernelUserDropped: k.userDropped } : {}),
      };
    },
    stop() {
      stopped ??= (async () => {
        rule?.remove();
        await nfqueueDriver.remove(member);
        // Whatever is still queued (held here or not yet read) is accepted now, not dropped.
        sock.readPacketIds(onPacket);
        flushDrops();
        const before = line.size;
        const last = line.popAll();
        if (last !== undefined) {
          sock.sendVerdicts([{ batch: true, payload: emitVerdictBatch(opts.queueNum, last, NF_ACCEPT) }]);
          s.released += before;
        }
        await sock.close();
      })();
      return stopped;
    },
  };
}

/** Queue numbers tried by delayIngress before giving up. */
export const MAX_QUEUE_TRIES = 64;

/**
 * Delays (and optionally jitters / drops) every packet arriving on `iface` in `netns`: picks the
 * lowest queue number nobody has bound in the namespace (procfs), installs the ingress rule and
 * starts the delay queue. Stop it with `stop()`.
 */
export async function delayIngress(
  netns: string | undefined,
  iface: string,
  config: { delayMs: number; jitterMs?: number; lossPct?: number; family?: NfqueueFamily },
): Promise<DelayQueue> {
  for (let tries = 0; tries < MAX_QUEUE_TRIES; tries++) {
    const bound = boundQueueNumbers(netns);
    let queueNum = 0;
    while (bound.has(queueNum)) queueNum++;
    try {
      return await startDelayQueue({
        netns,
        queueNum,
        delayMs: config.delayMs,
        jitterMs: config.jitterMs,
        lossPct: config.lossPct,
        rule: { iface, direction: 'ingress', family: config.family ?? 'both' },
      });
    } catch (err) {
      // Someone bound it between the procfs read and our bind: look again.
      const lost =
        err instanceof NfqueueError && err.code === 'EPERM' && boundQueueNumbers(netns).has(queueNum);
      if (!lost) throw err;
    }
  }
  throw new NfqueueError(
    `no free NFQUEUE queue number in ${netns ?? 'this namespace'} after ${MAX_QUEUE_TRIES} tries`,
  );
}
