/**
 * Kernel mode of `deadline-streaming` (seed 003 §4.3, Fig. 2b; Linux, root, kernel MPTCP): one
 * `blockBytes` block every `periodMs` from a kernel MPTCP client, each due within `deadlineMs`,
 * over two paths (./shared-kernel.ts: tbf rate, NFQUEUE delay); `lossPct` loss on the initial
 * path's server end (the data direction). Two variants:
 * - 'in-kernel': the in-kernel path manager with the other path a `subflow` endpoint (the
 *   paper's default full mesh: with one server address, full mesh is one subflow per client
 *   address), both subflows up before the first block;
 * - 'deadline-streaming': `net.mptcp.path_manager=userspace` in the client namespace and the
 *   `deadline-streaming` controller (src/pm/controllers/) run by KernelPmDriver there; it is told
 *   of each block by a block-sent event, opens the other path when under half of a block is
 *   acknowledged at half its deadline, and closes subflows whose rto exceeds the deadline.
 * The loss starts once the connection is set up (a lost MP_CAPABLE SYN twice would make the
 * kernel fall back to TCP: net.mptcp.syn_retrans_before_tcp_fallback). A block's delay runs from
 * its write to the moment its last byte reaches the server application.
 */
import { performance } from 'node:perf_hooks';
import { mptcpInfo } from '../../kernel/index.js';
import { deadlineStreaming } from '../../pm/controllers/deadline-streaming.js';
import { KernelPmDriver } from '../../pm/kernel-driver.js';
import { connectionIdFromToken } from '../../pm/kernel-events.js';
import type { StreamingOptions } from './deadline-streaming.js';
import { KernelLab } from './shared-kernel.js';
import type { ScenarioPath } from './spec.js';
import { streamBlocks, waitFor } from './traffic.js';

export type KernelStreamingVariant = 'in-kernel' | 'deadline-streaming';
/** How long to wait for the set-up (both subflows, or the driver seeing the connection). */
export const STREAMING_SETUP_WAIT_MS = 3000;
/** Driver periods: ticks (controller's rto check) and sock_diag polls. */
export const STREAMING_TICK_MS = 100;
export const STREAMING_POLL_MS = 50;

export interface KernelStreamingRun {
  variant: KernelStreamingVariant;
  lossPct: number;
  /** Per block: ms from write to full delivery (undefined: not delivered within the run). */
  delaysMs: Array<number | undefined>;
  misses: number;
  subflowsAtStart: number;
  subflowsAtEnd: number;
  events: Array<{ tMs: number; event: string }>;
  lossCounters: { seen: number; dropped: number };
  delayNote: string;
}

export async function runKernelStreaming(
  paths: ScenarioPath[],
  variant: KernelStreamingVariant,
  lossPct: number,
  o: StreamingOptions & { congestionControl?: string },
  onProgress: (f: number) => void,
): Promise<KernelStreamingRun | { unavailable: string }> {
  const [first, other] = paths;
  if (!first || !other) return { unavailable: 'needs two paths' };
  const opened = await KernelLab.open({
    name: 'deadline-streaming',
    prefix: 'mptcp-scdk',
    paths: [first, other],
    ...(o.congestionControl ? { congestionControl: o.congestionControl } : {}),
    ...(variant === 'in-kernel'
      ? { endpoints: [{ path: 1, flags: ['subflow'] }] }
      : { pathManager: 'userspace' as const }),
  });
  if (!(opened instanceof KernelLab)) return opened;
  const lab = opened;
  const t0 = performance.now();
  const rel = () => performance.now() - t0;
  const events: KernelStreamingRun['events'] = [];
  let driver: KernelPmDriver | undefined;
  try {
    const p0 = lab.path(0);
    const p1 = lab.path(1);
    if (variant === 'deadline-streaming') {
      driver = await KernelPmDriver.start(
        deadlineStreaming({
          deadlineMs: o.deadlineMs,
          blockBytes: o.blockBytes,
          // The server listens on path 0's address only; a join from path 1's client address
          // to it leaves the client through path 1 (policy routing, src/lab/topology.ts).
          otherPaths: [{ address: p0.serverAddr, localAddress: p1.clientAddr, port: lab.port }],
        }),
        {
          netns: lab.topo.client.name,
          tickIntervalMs: STREAMING_TICK_MS,
          pollIntervalMs: STREAMING_POLL_MS,
          adoptExisting: false,
          log: (e) => {
            if (e.kind === 'command' && e.command.type !== 'set-timer')
              events.push({
                tMs: rel(),
                event: `controller: ${e.command.type}${'subflow' in e.command ? ` ${e.command.subflow}` : ''}${'localAddress' in e.command && e.command.localAddress ? ` from ${lab.pathOf(e.command.localAddress)}` : ''}`,
              });
            else if (e.kind === 'error') events.push({ tMs: rel(), event: `driver error: ${e.message}` });
            else if (
              e.kind === 'event' &&
              e.event.type === 'tick' &&
              e.event.timer?.startsWith('deadline:check:')
            )
              events.push({
                tMs: rel(),
                event: `${e.event.timer}: ${driver?.view().connection(e.event.connection)?.bytesAcked ?? '?'} B acknowledged (connection level)`,
              });
            else if (
              e.kind === 'event' &&
              (e.event.type === 'subflow-established' || e.event.type === 'subflow-closed')
            )
              events.push({
                tMs: rel(),
                event: `${e.event.type} on ${lab.pathOf(e.event.local.address, e.event.remote.address)}`,
              });
          },
        },
      );
    }
    const client = await lab.connect();
    const server = await lab.accepted;
    let connId = '';
    if (driver) {
      const d = driver;
      await waitFor(() => {
        const token = mptcpInfo(client)?.token;
        if (token !== undefined) connId = connectionIdFromToken(token);
        return connId !== '' && d.view().connection(connId)?.established === true;
      }, STREAMING_SETUP_WAIT_MS);
      if (!d.view().connection(connId))
        events.push({ tMs: rel(), event: `the driver did not see connection ${connId || '?'}` });
    } else await waitFor(() => lab.subflowCount(client) >= 2, STREAMING_SETUP_WAIT_MS);
    const subflowsAtStart = lab.subflowCount(client);
    lab.setLoss(0, lossPct);
    events.push({ tMs: rel(), event: `${first.name} loss set to ${lossPct}%` });
    const delays = await streamBlocks(o, client, server, (i) => {
      void driver?.inject({
        type: 'block-sent',
        connection: connId,
        timeMs: 0,
        bytes: o.blockBytes,
        deadlineMs: o.deadlineMs,
      });
      onProgress(i / o.blocks);
    });
    const subflowsAtEnd = lab.subflowCount(client);
    const counters = lab.lossCounters(0);
    return {
      variant,
      lossPct,
      delaysMs: delays,
      misses: delays.filter((d) => d === undefined || d > o.deadlineMs).length,
      subflowsAtStart,
      subflowsAtEnd,
      events,
      lossCounters: counters,
      delayNote: lab.delayText,
    };
  } finally {
    await driver?.stop();
    await lab.close();
  }
}
