/**
 * `mptcp status`: the connections and subflows of every running `mptcp serve` / `mptcp connect`
 * process, like `ss -M`: addresses, backup flag, SRTT, bytes, state.
 */
import { readStatuses } from '../../node/status-endpoint.js';
import { parseCommandArgs } from '../args.js';
import { UsageError } from '../usage-error.js';

export const summary =
  'show the connections and subflows of running mptcp serve/connect processes (like ss -M)';
export const usage = `usage: mptcp status [PID] [--json]`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } }, 1);
  const pid = positionals[0] === undefined ? undefined : Number(positionals[0]);
  if (pid !== undefined && !Number.isInteger(pid))
    throw new UsageError(`'${positionals[0]}' is not a process id`);
  const statuses = await readStatuses(pid);
  if (values.json === true) {
    console.log(JSON.stringify({ endpoints: statuses }));
    return 0;
  }
  if (statuses.length === 0) {
    console.log('no running mptcp serve/connect process');
    return pid === undefined ? 0 : 1;
  }
  for (const ep of statuses) {
    console.log(
      `pid ${ep.pid} (${ep.command}${ep.scheduler ? `, scheduler ${ep.scheduler}` : ''}${ep.controller ? `, controller ${ep.controller}` : ''}): ${ep.connections.length} connection(s)`,
    );
    for (const c of ep.connections) {
      console.log(
        `  ${c.role} ${c.multipath === false ? 'plain TCP (fallback)' : 'MPTCP'}${c.localToken ? ` token ${c.localToken}` : ''}${c.remoteToken ? ` peer ${c.remoteToken}` : ''}${c.remote ? ` ${c.remote}` : ''}`,
      );
      for (const s of c.subflows) {
        const local = s.localAddress ? `${s.localAddress}:${s.localPort}` : '?';
        const remote = s.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : '?';
        console.log(
          `    subflow ${s.id} ${local} -> ${remote} ${s.state}${s.backup ? ' backup' : ''} srtt=${s.srttMs === undefined ? '-' : s.srttMs.toFixed(2)}ms rto=${Math.round(s.rtoMs)}ms sent=${s.bytesSent} acked=${s.bytesAcked} received=${s.bytesReceived}${s.kernel ? ` | tcp: cwnd=${s.kernel.cwnd} rtt=${(s.kernel.rttUs / 1000).toFixed(2)}ms rto=${s.kernel.rtoUs / 1000}ms retrans=${s.kernel.totalRetrans}` : ''}`,
        );
      }
    }
  }
  return 0;
}
