/**
 * `mptcp limits [show] | set [subflows N] [add_addr_accepted N]`: limits of the kernel's in-kernel
 * path manager, with the syntax of `ip mptcp limits`. Acts on the current network namespace.
 */
import { parseCommandArgs } from '../args.js';
import { UsageError } from '../usage-error.js';
import { MptcpPmClient } from '../../netlink/mptcp-pm-client.js';
import type { PmLimits } from '../../netlink/mptcp-pm.js';

export const summary = 'show or set kernel MPTCP path-manager limits (like ip mptcp limits)';
export const usage = `usage: mptcp limits [show] [--json]
       mptcp limits set [subflows N] [add_addr_accepted N] [--json]

Acts on the current network namespace; set needs CAP_NET_ADMIN. The kernel enforces its own
maximum (8 on current kernels) and says so when exceeded.`;

/** Largest value accepted on the command line (u32 on the wire; the kernel checks its own cap). */
export const PM_LIMIT_MAX = 0xffff_ffff;

export type LimitsCommand = { action: 'show' } | { action: 'set'; limits: Partial<PmLimits> };

function value(word: string, raw: string | undefined): number {
  if (raw === undefined || !/^\d+$/.test(raw))
    throw new UsageError(`'${word}' needs a number, got '${raw ?? ''}'`);
  const n = Number(raw);
  if (n > PM_LIMIT_MAX) throw new UsageError(`${word} must be 0..${PM_LIMIT_MAX}, got ${n}`);
  return n;
}

/** Parses the words after `limits`. Throws UsageError. */
export function parseLimitsCommand(words: readonly string[]): LimitsCommand {
  const [verb, ...rest] = words;
  if (verb === undefined || verb === 'show') {
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    return { action: 'show' };
  }
  if (verb !== 'set') throw new UsageError(`unknown action '${verb}' (show or set)`);
  const limits: Partial<PmLimits> = {};
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (w === 'subflows' || w === 'subflow') limits.subflows = value(w, rest[++i]);
    else if (w === 'add_addr_accepted') limits.addAddrAccepted = value(w, rest[++i]);
    else throw new UsageError(`unexpected argument '${w}'`);
  }
  if (limits.subflows === undefined && limits.addAddrAccepted === undefined) {
    throw new UsageError('limits set needs subflows N and/or add_addr_accepted N');
  }
  return { action: 'set', limits };
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
  const json = values.json === true;
  const cmd = parseLimitsCommand(positionals);
  const client = await MptcpPmClient.open();
  try {
    if (cmd.action === 'set') {
      await client.setLimits(cmd.limits);
      if (json) console.log(JSON.stringify({ ok: true, action: 'set' }));
      return 0;
    }
    const l = await client.getLimits();
    if (json) console.log(JSON.stringify({ add_addr_accepted: l.addAddrAccepted, subflows: l.subflows }));
    else console.log(`add_addr_accepted ${l.addAddrAccepted} subflows ${l.subflows}`);
    return 0;
  } finally {
    await client.close();
  }
}
