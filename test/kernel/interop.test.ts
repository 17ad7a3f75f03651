/**
 * Interoperability with other users of the kernel's MPTCP on loopback: a python3
 * socket(AF_INET, SOCK_STREAM, 262) server and client, and an unmodified TCP program under
 * `mptcpize run` (Debian package mptcpd).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import type net from 'node:net';
import { describe, test } from 'node:test';
import { connectAsync, createServer, isMultipath } from '../../src/kernel/index.js';
import { run } from '../../src/lab/netns.js';
import { closeServer, kernelMptcpSkip, listening, readAll } from './helpers.js';

const kernelSkip = kernelMptcpSkip();
const pythonSkip =
  kernelSkip || (run('python3', ['-c', 'pass']).code === 0 ? false : 'python3 is not installed');
const mptcpizeSkip =
  pythonSkip ||
  (run('which', ['mptcpize']).code === 0 ? false : 'mptcpize (Debian package mptcpd) is not installed');

const PY_SERVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
data = b""
while not data.endswith(b"\\n"):
    chunk = c.recv(4096)
    if not chunk: break
    data += chunk
is_mptcp = c.getsockopt(socket.SOL_TCP, 43)
c.sendall(b"py:" + data.strip() + b" is_mptcp=" + str(is_mptcp).encode() + b"\\n")
c.close()
`;

const PY_CLIENT = `
import socket, sys
proto = int(sys.argv[2])
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
c.settimeout(10)
c.connect(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"hello from python\\n")
c.shutdown(socket.SHUT_WR)
data = b""
while True:
    chunk = c.recv(4096)
    if not chunk: break
    data += chunk
print(data.decode().strip(), "client_is_mptcp=%d" % c.getsockopt(socket.SOL_TCP, 43), flush=True)
`;

function collect(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** Our server: records isMultipath of the accepted connection, answers with it. */
async function ourServer(): Promise<{ server: net.Server; port: number; seen: boolean[] }> {
  const seen: boolean[] = [];
  const server = createServer((c) => {
    const mp = isMultipath(c);
    seen.push(mp);
    c.on('data', () => {});
    c.on('end', () => c.end(`node-server multipath=${mp}\n`));
  });
  server.listen(0, '127.0.0.1');
  return { server, port: await listening(server), seen };
}

describe('kernel MPTCP interop (loopback)', () => {
  test('python3 MPTCP server ↔ our client', { skip: pythonSkip }, async () => {
    const py = spawn('python3', ['-c', PY_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = collect(py);
    try {
      const port = await new Promise<number>((resolve, reject) => {
        py.stdout.once('data', (d) => resolve(Number(String(d).trim())));
        py.once('exit', () => reject(new Error('python server exited early')));
      });
      const s = await connectAsync({ port, host: '127.0.0.1', timeout: 5000 });
      assert.equal(isMultipath(s), true);
      const reply = readAll(s);
      s.write('hello from node\n');
      assert.equal((await reply).toString(), 'py:hello from node is_mptcp=1\n');
      const r = await done;
      assert.equal(r.code, 0, r.stderr);
    } finally {
      py.kill();
    }
  });

  test('our server ↔ python3 MPTCP client (and a plain python3 client falls back)', {
    skip: pythonSkip,
  }, async () => {
    const { server, port, seen } = await ourServer();
    try {
      const mp = await collect(spawn('python3', ['-c', PY_CLIENT, String(port), '262']));
      assert.equal(mp.code, 0, mp.stderr);
      assert.equal(mp.stdout.trim(), 'node-server multipath=true client_is_mptcp=1');
      const plain = await collect(spawn('python3', ['-c', PY_CLIENT, String(port), '6']));
      assert.equal(plain.code, 0, plain.stderr);
      assert.equal(plain.stdout.trim(), 'node-server multipath=false client_is_mptcp=0');
      assert.deepEqual(seen, [true, false]);
    } finally {
      await closeServer(server);
    }
  });

  test('an unmodified TCP program under `mptcpize run` → our server is MPTCP', {
    skip: mptcpizeSkip,
  }, async () => {
    const { server, port, seen } = await ourServer();
    try {
      // Protocol 6 (plain TCP) in the program; mptcpize's LD_PRELOAD turns it into MPTCP.
      const r = await collect(spawn('mptcpize', ['run', 'python3', '-c', PY_CLIENT, String(port), '6']));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(seen.length, 1);
      assert.equal(seen[0], true);
      assert.match(r.stdout, /node-server multipath=true/);
    } finally {
      await closeServer(server);
    }
  });
});
