/**
 * Shared setup of the kernel path-manager tests: a client namespace with the userspace path manager
 * and two veth paths to a server namespace (in-kernel PM), python3 MPTCP peers, event waiting.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { addAddress, ip, Netns, run, sysctl, vethPair } from '../../src/lab/netns.js';
import type { DriverLogEntry } from '../../src/pm/kernel-driver.js';
import type { PmCommand, PmEvent } from '../../src/pm/types.js';
import { kernelPmSkipReason } from '../netlink/kernel-env.js';

export function skipReason(): string | false {
  const base = kernelPmSkipReason();
  if (base) return base;
  if (run('python3', ['--version']).code !== 0) return 'python3 is not installed';
  return false;
}
export const skip = skipReason();
export const lossSkip =
  skip ||
  (run('nft', ['--version']).code !== 0 ? 'nft (nftables) is not installed' : false) ||
  (run('ethtool', ['--version']).code !== 0 ? 'ethtool is not installed' : false);
export const CLI = fileURLToPath(new URL('../../../bin/mptcp.js', import.meta.url));
export const WAIT_MS = 20_000;

export const PY_SERVER = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
while c.recv(65536):
    pass
`;
/** Streams 16 KB every 5 ms until killed. */
export const PY_CLIENT = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect((sys.argv[1], int(sys.argv[2])))
print("up", flush=True)
while True:
    s.sendall(b"x" * 16384)
    time.sleep(0.005)
`;
import { firstLine } from '../helpers/child-output.js';

export interface Lab {
  client: Netns;
  server: Netns;
  n: number;
}

let subnet = 0;
/** client c1 10.n.1.1 ↔ s1 10.n.1.2 (primary), c2 10.n.2.1 ↔ s2 10.n.2.2 (second path). */
export function lab(): Lab {
  subnet += 1;
  const n = 120 + ((process.pid + subnet) % 100);
  const client = Netns.create('mptcp-pm');
  const server = Netns.create('mptcp-pm');
  vethPair(client, 'c1', server, 's1');
  vethPair(client, 'c2', server, 's2');
  addAddress(client, 'c1', `10.${n}.1.1/24`);
  addAddress(server, 's1', `10.${n}.1.2/24`);
  addAddress(client, 'c2', `10.${n}.2.1/24`);
  addAddress(server, 's2', `10.${n}.2.2/24`);
  for (const ns of [client, server]) {
    sysctl(ns, 'net.ipv4.conf.all.rp_filter', 0);
    sysctl(ns, 'net.ipv4.conf.default.rp_filter', 0);
  }
  // Packets from the client's second address leave through c2 whatever the destination.
  ip(client, ['rule', 'add', 'from', `10.${n}.2.1`, 'table', '102']);
  ip(client, ['route', 'add', 'default', 'dev', 'c2', 'table', '102']);
  if (client.exec('sysctl', ['-qw', 'net.mptcp.path_manager=userspace']).code !== 0)
    sysctl(client, 'net.mptcp.pm_type', 1);
  ip(server, ['mptcp', 'limits', 'set', 'subflows', '8', 'add_addr_accepted', '8']);
  return { client, server, n };
}

export { firstLine };

export async function startPair(
  l: Lab,
): Promise<{ server: ChildProcess; client: ChildProcess; port: number }> {
  const server = l.server.spawn('python3', ['-c', PY_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = Number(await firstLine(server));
  const client = l.client.spawn('python3', ['-c', PY_CLIENT, `10.${l.n}.1.2`, String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.equal(await firstLine(client), 'up');
  return { server, client, port };
}

export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Resolves with the first logged event matching `pred`. */
export function waitEvent(
  events: PmEvent[],
  pred: (ev: PmEvent) => boolean,
  timeoutMs = WAIT_MS,
  what = 'event',
): Promise<PmEvent> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const hit = events.find(pred);
      if (hit) return resolve(hit);
      if (Date.now() > deadline) {
        const rtos = events.flatMap((e) => (e.type === 'subflow-timeout' ? [e.rtoMs] : []));
        return reject(
          new Error(
            `no ${what} within ${timeoutMs} ms; saw ${events
              .filter((e) => e.type !== 'tick')
              .map((e) => JSON.stringify(e))
              .join('\n')}; timeouts (rto ms): ${rtos.join(',')}`,
          ),
        );
      }
      setTimeout(poll, 20);
    };
    poll();
  });
}

export function recorder(): {
  events: PmEvent[];
  commands: PmCommand[];
  errors: string[];
  /** Events and commands interleaved, in the order the driver logged them. */
  entries: DriverLogEntry[];
  log: (e: DriverLogEntry) => void;
} {
  const events: PmEvent[] = [];
  const commands: PmCommand[] = [];
  const errors: string[] = [];
  const entries: DriverLogEntry[] = [];
  return {
    events,
    commands,
    errors,
    entries,
    log: (e) => {
      entries.push(e);
      if (e.kind === 'event') events.push(e.event);
      if (e.kind === 'command') commands.push(e.command);
      if (e.kind === 'error') errors.push(e.message);
    },
  };
}
