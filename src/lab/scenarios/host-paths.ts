/**
 * Packet-level paths for userspace MPTCP scenarios (Linux, root): a server network namespace joined
 * to this (host) namespace by one veth pair per path. The userspace MPTCP server listens inside
 * the namespace (its socket is made under withNetns); the client stays in this namespace and binds
 * each subflow to the host end's address, so each subflow crosses its own veth.
 *
 * Why not a client namespace too: Node creates a client socket's descriptor a tick after
 * net.connect() returns, outside any withNetns call, so userspace MPTCP clients cannot be put in a
 * namespace in-process; the host ends only carry addresses 10.<SUBNET_BASE + i>.<run>.1/24 that
 * route into the namespace the run created.
 *
 * Shaping, all inside the server namespace except the host end's tbf:
 * - rate: tbf on both ends (both directions);
 * - loss: nftables netdev ingress on the server end (the data direction, client → server), changed
 *   at run time with setLoss; ACKs are not dropped;
 * - delay: optional, NFQUEUE on the server end's PREROUTING (src/lab/nfqueue.ts) holding each
 *   packet for the whole RTT (one direction only); when NFQUEUE is unusable, `delayNote` says why.
 * Everything is removed by destroy() (and by the netns cleanup registry on exit or Ctrl-C).
 */
import { readFileSync } from 'node:fs';
import { type DelayQueue, startDelayQueue } from '../nfqueue.js';
import { addAddress, Netns, netnsAvailable, run, uniqueIfName, vethPair, withNetns } from '../netns.js';
import {
  applyRate,
  chainName,
  type LossCounters,
  lossCommands,
  lossCounters,
  NFT_TABLE,
  setOffloads,
  tbfArgs,
} from '../shaping.js';

export const HOST_PATHS_SUBNET_BASE = 214;
/** NFQUEUE numbers used by the delay queues: base + path index. */
export const HOST_PATHS_QUEUE_BASE = 3100;
let runCounter = 0;

export interface HostPathSpec {
  name: string;
  rateMbps?: number;
  /** One-way delay of the path (applied as an RTT's worth on the data direction). */
  delayMs?: number;
  lossPct?: number;
}

export interface HostPath extends HostPathSpec {
  index: number;
  hostIf: string;
  serverIf: string;
  hostAddr: string;
  serverAddr: string;
}

export class HostPathsError extends Error {
  override readonly name = 'HostPathsError';
}

/** The host's default TCP congestion control (what the userspace MPTCP's subflows use). */
export function congestionControl(): string {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** Why packet-level host paths cannot be built here, or undefined when they can. */
export function hostPathsUnavailable(): string | undefined {
  const a = netnsAvailable();
  if (!a.ok) return a.reason;
  for (const tool of ['nft', 'tc', 'ethtool']) {
    if (run('sh', ['-c', `command -v ${tool}`]).code !== 0) return `${tool} is not installed`;
  }
  return undefined;
}

export class HostPaths {
  private destroyed = false;
  private readonly queues: DelayQueue[] = [];
  /** Why packet-level delay is not applied (undefined when it is, or when no path asks for it). */
  delayNote: string | undefined;

  private constructor(
    readonly server: Netns,
    readonly paths: HostPath[],
  ) {}

  static async build(specs: HostPathSpec[], prefix = 'mptcp-scn'): Promise<HostPaths> {
    const reason = hostPathsUnavailable();
    if (reason) throw new HostPathsError(reason);
    const server = Netns.create(`${prefix}-srv`);
    const octet = (process.pid + runCounter++) % 250;
    const lab = new HostPaths(server, []);
    try {
      specs.forEach((p, index) => {
        if (HOST_PATHS_SUBNET_BASE + index > 254) throw new HostPathsError('too many paths');
        const hostIf = uniqueIfName('ms');
        const serverIf = `srv${index}`;
        const hostAddr = `10.${HOST_PATHS_SUBNET_BASE + index}.${octet}.1`;
        const serverAddr = `10.${HOST_PATHS_SUBNET_BASE + index}.${octet}.2`;
        vethPair(null, hostIf, server, serverIf);
        addAddress(null, hostIf, `${hostAddr}/24`);
        addAddress(server, serverIf, `${serverAddr}/24`);
        mustRun('ethtool', ['-K', hostIf, 'tso', 'off', 'gso', 'off', 'gro', 'off']);
        setOffloads(server, serverIf, false);
        if (p.rateMbps !== undefined && p.rateMbps > 0) {
          mustRun('tc', tbfArgs(hostIf, p.rateMbps));
          applyRate(server, serverIf, p.rateMbps);
        }
        lab.paths.push({ ...p, index, hostIf, serverIf, hostAddr, serverAddr });
        if (p.lossPct !== undefined && p.lossPct > 0) lab.setLoss(p.name, p.lossPct);
      });
      for (const p of lab.paths) {
        if (!p.delayMs) continue;
        try {
          lab.queues.push(
            await startDelayQueue({
              netns: server.name,
              queueNum: HOST_PATHS_QUEUE_BASE + (octet % 50) * 16 + p.index,
              delayMs: 2 * p.delayMs,
              rule: { iface: p.serverIf, direction: 'ingress', family: 'ipv4' },
            }),
          );
        } catch (err) {
          lab.delayNote = `packet-level delay not applied (NFQUEUE: ${(err as Error).message})`;
          break;
        }
      }
      return lab;
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  path(name: string): HostPath {
    const p = this.paths.find((x) => x.name === name);
    if (!p) throw new HostPathsError(`no path named '${name}'`);
    return p;
  }

  /** Sets the loss of what the server end of `name` receives (0 removes it). */
  setLoss(name: string, lossPct: number): void {
    const p = this.path(name);
    const chain = chainName(p.serverIf);
    if (lossPct <= 0) {
      this.server.exec('nft', ['flush', 'chain', 'netdev', NFT_TABLE, chain]);
      return;
    }
    const cmds = lossCommands(p.serverIf, lossPct);
    cmds.splice(2, 0, ['flush', 'chain', 'netdev', NFT_TABLE, chain]);
    for (const args of cmds) {
      const r = this.server.exec('nft', args);
      if (r.code !== 0) throw new HostPathsError(`nft ${args.join(' ')}: ${r.stderr.trim()}`);
    }
  }

  lossCounters(name: string): LossCounters {
    return lossCounters(this.server, this.path(name).serverIf);
  }

  /** Runs `fn` (e.g. `server.listen(port)` without a host) with this thread in the server namespace. */
  inServer<T>(fn: () => T): T {
    return withNetns(this.server, fn);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all(this.queues.map((q) => q.stop().catch(() => undefined)));
    for (const p of this.paths) run('ip', ['link', 'del', p.hostIf]);
    this.server.delete();
  }
}

function mustRun(cmd: string, args: string[]): void {
  const r = run(cmd, args);
  if (r.code !== 0)
    throw new HostPathsError(`${cmd} ${args.join(' ')}: ${r.stderr.trim() || `status ${r.code}`}`);
}
