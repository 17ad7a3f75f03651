/**
 * Test harness for controllers: a scripted world. Events are applied to a KernelPmState (the same
 * bookkeeping the kernel driver uses), metrics can be overridden per subflow, timers from set-timer
 * are kept in a list and fired in time order by `advance`.
 */
import { subflowKey } from '../../src/pm/kernel-events.js';
import { KernelPmState } from '../../src/pm/kernel-state.js';
import type {
  ConnectionView,
  Controller,
  LocalAddress,
  PmCommand,
  PmEndpoint,
  PmEvent,
  PmView,
  SubflowView,
} from '../../src/pm/types.js';

export const ep = (s: string): PmEndpoint => {
  const i = s.lastIndexOf(':');
  return { address: s.slice(0, i), port: Number(s.slice(i + 1)) };
};

export const TOKEN = 'a1b2c3d4';

type EventInput = PmEvent extends infer E
  ? E extends PmEvent
    ? Omit<E, 'timeMs' | 'connection'> & { connection?: string }
    : never
  : never;

export class Harness {
  readonly state = new KernelPmState();
  readonly timers: Array<{ atMs: number; connection: string; timer: string }> = [];
  readonly metrics = new Map<string, Partial<SubflowView>>();
  bytesAcked: number | undefined;
  nowMs = 0;

  constructor(
    readonly controller: Controller,
    readonly locals: readonly string[] = [],
  ) {}

  view(): PmView {
    const locals: LocalAddress[] = this.locals.map((a) => ({ address: a, family: a.includes(':') ? 6 : 4 }));
    const patch = (c: ConnectionView): ConnectionView => ({
      ...c,
      ...(this.bytesAcked === undefined ? {} : { bytesAcked: this.bytesAcked }),
      subflows: c.subflows.map((s) => ({ ...s, ...this.metrics.get(s.key) })),
    });
    const all = this.state.view(this.nowMs, locals).connections().map(patch);
    return {
      nowMs: this.nowMs,
      connections: () => all,
      connection: (id) => all.find((c) => c.id === id),
      localAddresses: () => locals,
    };
  }

  /** Applies an event at `atMs` (default now) and returns the controller's commands (timers recorded). */
  feed(input: EventInput, atMs = this.nowMs): PmCommand[] {
    this.nowMs = atMs;
    const ev = { connection: TOKEN, ...input, timeMs: atMs } as PmEvent;
    this.state.apply(ev);
    const cmds = this.controller.handle(ev, this.view());
    for (const c of cmds)
      if (c.type === 'set-timer')
        this.timers.push({ atMs: c.atMs, connection: c.connection, timer: c.timer });
    return cmds;
  }

  /** Fires every timer due up to `toMs`, in order; returns [time, commands] per firing. */
  advance(toMs: number): Array<{ atMs: number; timer: string; commands: PmCommand[] }> {
    const out: Array<{ atMs: number; timer: string; commands: PmCommand[] }> = [];
    for (;;) {
      this.timers.sort((a, b) => a.atMs - b.atMs);
      const next = this.timers[0];
      if (!next || next.atMs > toMs) break;
      this.timers.shift();
      out.push({
        atMs: next.atMs,
        timer: next.timer,
        commands: this.feed({ type: 'tick', connection: next.connection, timer: next.timer }, next.atMs),
      });
    }
    this.nowMs = toMs;
    return out;
  }

  /** connection-created + connection-established for local → remote. */
  establish(local: string, remote: string, serverSide = false): PmCommand[] {
    const l = ep(local);
    const r = ep(remote);
    this.feed({ type: 'connection-created', local: l, remote: r, serverSide });
    return this.feed({ type: 'connection-established', local: l, remote: r, serverSide });
  }

  /** subflow-established for local → remote; returns [key, commands]. */
  subflowUp(local: string, remote: string, backup = false): [string, PmCommand[]] {
    const l = ep(local);
    const r = ep(remote);
    const key = subflowKey(l, r);
    return [key, this.feed({ type: 'subflow-established', subflow: key, local: l, remote: r, backup })];
  }

  subflowDown(
    local: string,
    remote: string,
    reason: Extract<PmEvent, { type: 'subflow-closed' }>['reason'],
    errno?: number,
  ): PmCommand[] {
    const l = ep(local);
    const r = ep(remote);
    const ev: EventInput = { type: 'subflow-closed', subflow: subflowKey(l, r), local: l, remote: r, reason };
    if (errno !== undefined) (ev as { errno?: number }).errno = errno;
    return this.feed(ev);
  }
}

/** Only the commands of one type. */
export function only<T extends PmCommand['type']>(
  cmds: readonly PmCommand[],
  type: T,
): Extract<PmCommand, { type: T }>[] {
  return cmds.filter((c): c is Extract<PmCommand, { type: T }> => c.type === type);
}
