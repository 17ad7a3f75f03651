/**
 * iptables rules that send a namespace's packets to an NFQUEUE queue (the nft `queue` statement is
 * not built on the lab machine; the iptables NFQUEUE target is).
 *
 * The rule (IPv4 with iptables, IPv6 with ip6tables, in the namespace):
 *   ingress:  -t mangle -A PREROUTING -i IF -m comment --comment TAG -j NFQUEUE --queue-num N --queue-bypass
 *   forward:  -t mangle -A FORWARD    -i IF -m comment --comment TAG -j NFQUEUE --queue-num N --queue-bypass
 * 'ingress' delays what arrives on IF for the receiving host itself (put it on the receiving side:
 * a delay in the sender's own OUTPUT hook holds the sender's skbs and TCP small queues throttles
 * the flow instead of seeing a longer path). 'forward' is for a router namespace: it delays what
 * is forwarded after arriving on IF. mangle PREROUTING sees every packet that arrives on IF before
 * routing (before conntrack-based filtering too), so nothing escapes the delay.
 * --queue-bypass lets packets through undelayed when no program is bound to the queue (e.g. if the
 * delay process died), instead of dropping everything.
 *
 * Contract: `installNfqueueRule` appends the rule(s) and returns a handle whose `remove()` deletes
 * exactly them (matched by their full spec, comment included); idempotent. Rules still installed
 * at process exit are removed by an exit hook. Failures throw NfqueueRuleError with iptables' text.
 */
import { type Netns, run } from './netns.js';

export type NfqueueDirection = 'ingress' | 'forward';
export type NfqueueFamily = 'ipv4' | 'ipv6' | 'both';

export interface NfqueueRuleOptions {
  iface: string;
  queueNum: number;
  direction?: NfqueueDirection;
  family?: NfqueueFamily;
}

export class NfqueueRuleError extends Error {
  override readonly name = 'NfqueueRuleError';
}

export interface NfqueueRule {
  readonly netns: string | undefined;
  readonly options: Required<NfqueueRuleOptions>;
  /** The iptables arguments after -A/-D (chain and match), for documentation and tests. */
  readonly spec: readonly string[];
  remove(): void;
}

const installed = new Set<() => void>();
let hookInstalled = false;

function exitHook(): void {
  for (const remove of [...installed]) remove();
}

function nsName(ns: Netns | string | undefined): string | undefined {
  return ns === undefined ? undefined : typeof ns === 'string' ? ns : ns.name;
}

function exec(ns: string | undefined, cmd: string, args: readonly string[]) {
  return ns === undefined ? run(cmd, args) : run('ip', ['netns', 'exec', ns, cmd, ...args]);
}

/** The chain + match + target arguments of the rule (after `-t mangle -A`). */
export function nfqueueRuleSpec(o: Required<NfqueueRuleOptions>, tag: string): string[] {
  if (!/^[A-Za-z0-9_.@-]{1,15}$/.test(o.iface)) throw new NfqueueRuleError(`bad interface name '${o.iface}'`);
  if (!Number.isInteger(o.queueNum) || o.queueNum < 0 || o.queueNum > 0xffff)
    throw new NfqueueRuleError(`queue number must be in [0, 65535], got ${o.queueNum}`);
  const chain = o.direction === 'forward' ? 'FORWARD' : 'PREROUTING';
  return [
    chain,
    '-i',
    o.iface,
    '-m',
    'comment',
    '--comment',
    tag,
    '-j',
    'NFQUEUE',
    '--queue-num',
    String(o.queueNum),
    '--queue-bypass',
  ];
}

function tools(family: NfqueueFamily): string[] {
  return family === 'ipv4' ? ['iptables'] : family === 'ipv6' ? ['ip6tables'] : ['iptables', 'ip6tables'];
}

/** Appends the NFQUEUE rule(s) in `netns` (or the current namespace when undefined). */
export function installNfqueueRule(
  netns: Netns | string | undefined,
  options: NfqueueRuleOptions,
): NfqueueRule {
  const ns = nsName(netns);
  const o: Required<NfqueueRuleOptions> = {
    direction: 'ingress',
    family: 'both',
    ...options,
  };
  const spec = nfqueueRuleSpec(o, `mptcp-nfq-${process.pid}-${o.queueNum}`);
  const done: string[] = [];
  const remove = () => {
    installed.delete(remove);
    for (const tool of done.splice(0)) exec(ns, tool, ['-w', '-t', 'mangle', '-D', ...spec]);
  };
  for (const tool of tools(o.family)) {
    const r = exec(ns, tool, ['-w', '-t', 'mangle', '-A', ...spec]);
    if (r.code !== 0) {
      remove();
      throw new NfqueueRuleError(
        `${tool} -t mangle -A ${spec.join(' ')} failed (${r.code}): ${r.stderr.trim()}`,
      );
    }
    done.push(tool);
  }
  if (!hookInstalled) {
    hookInstalled = true;
    process.on('exit', exitHook);
  }
  installed.add(remove);
  return { netns: ns, options: o, spec, remove };
}

/** How many rules of ours (any queue) `tool` lists in the namespace's mangle table. */
export function countNfqueueRules(netns: Netns | string | undefined, tool = 'iptables'): number {
  const r = exec(nsName(netns), tool, ['-w', '-t', 'mangle', '-S']);
  if (r.code !== 0) throw new NfqueueRuleError(`${tool} -t mangle -S failed: ${r.stderr.trim()}`);
  return r.stdout.split('\n').filter((l) => l.includes('mptcp-nfq-') && l.includes('NFQUEUE')).length;
}
