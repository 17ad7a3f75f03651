/**
 * `mptcp monitor`: prints kernel MPTCP path-manager events (the `mptcp_pm_events` multicast group)
 * like `ip mptcp monitor`, or one JSON object per line with --json, until SIGINT/SIGTERM.
 * Acts on the current network namespace.
 */
import { parseCommandArgs } from '../args.js';
import { MptcpPmClient } from '../../netlink/mptcp-pm-client.js';
import { formatPmEvent, type KernelPmEvent } from '../../netlink/mptcp-pm-events.js';
import { untilStopSignal } from '../stop-signal.js';

export const summary = 'print kernel MPTCP path-manager events (like ip mptcp monitor)';
export const usage = `usage: mptcp monitor [--json]

Prints one line per event of the current network namespace until interrupted (Ctrl-C).
--json prints one JSON object per line: {"type":"created","token":…}.`;

/** JSON form of an event (raw attributes of unknown events as hex). */
export function eventJson(ev: KernelPmEvent): string {
  if (ev.type === 'unknown') {
    return JSON.stringify({
      type: ev.type,
      cmd: ev.cmd,
      attrs: ev.attrs.map((a) => ({ type: a.type, payload: Buffer.from(a.payload).toString('hex') })),
    });
  }
  return JSON.stringify(ev);
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { json: { type: 'boolean' } }, 0);
  const json = values.json === true;
  const client = await MptcpPmClient.open();
  const sub = client.subscribeEvents();
  sub.on('event', (ev: KernelPmEvent) => console.log(json ? eventJson(ev) : formatPmEvent(ev)));
  sub.on('error', (err: Error) => console.error(`mptcp monitor: ${err.message}`));
  await untilStopSignal();
  await client.close();
  return 0;
}
