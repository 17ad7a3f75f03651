/**
 * Test helpers for packet-level topologies: a Python TCP sink in one namespace, and clients that
 * time TCP handshakes (one RTT each) or push bytes over several connections. Everything runs in
 * child processes so this process's event loop stays free to serve NFQUEUE delay lines.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type Netns, runAsync } from '../../src/lab/netns.js';

/** What the helpers need of a namespace. */
export type NsRunner = Pick<Netns, 'execAsync' | 'spawn'>;

/** A runner for a namespace this process did not create (e.g. one made by `mptcp lab up`). */
export function namespaceNamed(name: string): NsRunner {
  return {
    execAsync: (cmd, args = [], timeoutMs) =>
      runAsync('ip', ['netns', 'exec', name, cmd, ...args], timeoutMs),
    spawn: (cmd, args = [], opts = {}) => spawn('ip', ['netns', 'exec', name, cmd, ...args], opts),
  };
}

const SINK_PY = `
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(64)
print("ready", flush=True)
def drain(c):
    while c.recv(65536):
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=drain, args=(c,), daemon=True).start()
`;

const HANDSHAKE_PY = `
import socket, sys, time
out = []
for i in range(int(sys.argv[3])):
    s = socket.socket()
    s.settimeout(10)
    t = time.monotonic()
    s.connect((sys.argv[1], int(sys.argv[2])))
    out.append((time.monotonic() - t) * 1000)
    s.close()
    time.sleep(0.05)
print(" ".join("%.3f" % x for x in out))
`;

const PUSH_PY = `
import socket, sys
for i in range(int(sys.argv[3])):
    s = socket.socket()
    s.settimeout(30)
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.sendall(b"x" * int(sys.argv[4]))
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()
`;

export interface Sink {
  stop(): void;
}

/** Starts a TCP sink on addr:port in `ns`; resolves once it listens. */
export async function startSink(ns: NsRunner, addr: string, port: number): Promise<Sink> {
  const child: ChildProcess = ns.spawn('python3', ['-c', SINK_PY, addr, String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  };
  for (let i = 0; !out.includes('ready'); i++) {
    if (i > 250 || child.exitCode !== null) {
      stop();
      throw new Error(`sink did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { stop };
}

/** Times `count` TCP handshakes from `ns` to addr:port (ms each; one handshake is one RTT). */
export async function handshakeRtts(
  ns: NsRunner,
  addr: string,
  port: number,
  count: number,
): Promise<number[]> {
  const r = await ns.execAsync('python3', ['-c', HANDSHAKE_PY, addr, String(port), String(count)], 60_000);
  if (r.code !== 0) throw new Error(`handshake client failed: ${r.stderr}`);
  return r.stdout.trim().split(/\s+/).map(Number);
}

/** Opens `connections` TCP connections one after the other, each sending `bytes`. */
export async function pushConnections(
  ns: NsRunner,
  addr: string,
  port: number,
  connections: number,
  bytes: number,
): Promise<void> {
  const r = await ns.execAsync(
    'python3',
    ['-c', PUSH_PY, addr, String(port), String(connections), String(bytes)],
    120_000,
  );
  if (r.code !== 0) throw new Error(`push client failed: ${r.stderr}`);
}
