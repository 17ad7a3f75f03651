/**
 * `mptcp lab up <topology.json> [--prefix P]`: builds a packet-level topology (client and server
 * network namespaces, optionally a hashing router between them, one shaped veth pair per path),
 * starts the NFQUEUE delay lines of delayed paths (they live in this process), prints what it made,
 * and keeps it until Ctrl-C (SIGINT) or SIGTERM, then stops the delay lines and removes it (also
 * when starting them fails halfway). Needs Linux and root.
 * `mptcp lab down [--prefix P]`: removes every namespace left behind with the prefix.
 */
import { parseCommandArgs, stringOption } from '../args.js';
import { UsageError } from '../usage-error.js';
import { untilStopSignal } from '../stop-signal.js';

export const summary = 'build or remove a packet-level lab topology (network namespaces, tbf, nftables loss)';

export const usage = `usage:
  mptcp lab up <topology.json> [--prefix P]   build it, print it, keep it until Ctrl-C, then remove it
  mptcp lab down [--prefix P]                 remove namespaces left behind with the prefix
  mptcp lab run <scenario> [--out DIR] [--json] [--size ci|full] [--mode userspace|kernel]
                                              run a seed experiment (scenarios/), write report.md and SVGs

options:
  --prefix P   name prefix of the namespaces (default mptcp-lab)

A topology file: { "name": "two-paths", "router": false, "paths": [{ "name": "wifi", "rateMbps": 20,
"delayMs": 10, "jitterMs": 0, "lossPct": 0 }, ...] } (see scenarios/topologies/). Rate uses tbf, loss
an nftables ingress chain on the receiving side, delay NFQUEUE delay lines run by this process
(delayMs each way, RTT 2*delayMs). "router": true (or { "hash": "l3" | "l4" }) puts a router
namespace between a one-interface client and the server that hashes flows over the paths.`;

const OPTIONS = { prefix: { type: 'string' } } as const;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'run') return (await import('./lab-run.js')).runLabRun(rest);
  const { values, positionals } = parseCommandArgs(rest, OPTIONS, sub === 'up' ? 1 : 0);
  const prefix = stringOption(values, 'prefix');
  if (prefix !== undefined && !/^[A-Za-z0-9_.-]{1,40}$/.test(prefix)) {
    throw new UsageError(`--prefix must be 1..40 characters of [A-Za-z0-9_.-], got '${prefix}'`);
  }
  const { netnsAvailable } = await import('../../lab/netns.js');
  const topology = await import('../../lab/topology.js');
  const p = prefix ?? topology.DEFAULT_LAB_PREFIX;
  if (sub === 'down') {
    const avail = netnsAvailable();
    if (!avail.ok) throw new Error(avail.reason);
    const removed = topology.removeLabNamespaces(p);
    console.log(removed.length === 0 ? `nothing to remove with prefix ${p}` : `removed ${removed.join(' ')}`);
    return 0;
  }
  if (sub !== 'up')
    throw new UsageError(sub === undefined ? 'missing subcommand' : `unknown subcommand '${sub}'`);
  const file = positionals[0];
  if (file === undefined) throw new UsageError('missing topology file');
  const spec = topology.loadTopology(file);
  const avail = netnsAvailable();
  if (!avail.ok) throw new Error(avail.reason);
  const topo = topology.Topology.build(spec, p);
  try {
    await topo.startDelays();
    console.log(topo.describe());
    const cli = topo.client.name;
    const srv = topo.server.name;
    const target = topo.target;
    console.log(`\ntry: ip netns exec ${srv} python3 -m http.server -b ${target} 8080`);
    console.log(
      `     ip netns exec ${cli} python3 -c "import urllib.request as u; print(len(u.urlopen('http://${target}:8080/').read()))"`,
    );
    console.log('\nrunning; Ctrl-C removes it');
    await untilStopSignal();
  } finally {
    await topo.close();
  }
  const names = [topo.client, topo.router, topo.server].filter((n) => n !== undefined).map((n) => n.name);
  console.log(`removed ${names.join(' ')}`);
  return 0;
}
