/**
 * The seed-004 application through the real CLI: `mptcp serve-status` in a child process,
 * `mptcp get` in another, both on loopback with no setup.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { kernelMptcpSkip } from './helpers.js';

const skip = kernelMptcpSkip();
const BIN = 'bin/mptcp.js';

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('mptcp serve-status / mptcp get (CLI, loopback)', { skip }, () => {
  let server: ChildProcess;
  let port = 0;
  let exited: Promise<number | null>;

  before(async () => {
    server = spawn(process.execPath, [BIN, 'serve-status', '--host', '127.0.0.1', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((r) => server.once('exit', (code) => r(code)));
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`serve-status did not start: ${out}`)), 10_000);
      server.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on 127\.0\.0\.1:(\d+) \(mptcp listener: yes\)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      server.once('exit', () => reject(new Error(`serve-status exited: ${out}`)));
    });
  });

  after(async () => {
    if (server.exitCode === null) server.kill('SIGINT');
    await exited;
  });

  test('get --json: server and client both report MPTCP with one subflow', async () => {
    const r = await runCli(['get', `http://127.0.0.1:${port}/status`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.status, 200);
    assert.equal(j.server.mptcp, true);
    assert.match(j.server.remote_addr, /^127\.0\.0\.1:\d+$/);
    assert.equal(j.server.subflows.length, 1);
    assert.equal(j.server.subflows[0].localPort, port);
    assert.equal(j.client.mptcp, true);
    assert.equal(j.client.remote_addr, `127.0.0.1:${port}`);
    // The server saw our local address as the remote one.
    assert.equal(j.server.remote_addr, j.client.local_addr);
    assert.equal(j.client.subflows.length, 1);
    assert.ok(j.client.subflows[0].rttUs > 0);
  });

  test('get (text) prints both views', async () => {
    const r = await runCli(['get', `http://localhost:${port}/status`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^HTTP 200 /m);
    assert.match(r.stdout, /^server view: mptcp=true remote_addr=127\.0\.0\.1:\d+ subflows=1$/m);
    assert.match(r.stdout, /^client view: mptcp=true .* subflows=1$/m);
    assert.match(r.stdout, /^ {2}subflow 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ rtt [\d.]+ ms/m);
  });

  test('get --mptcp off: the server reports a plain TCP connection', async () => {
    const r = await runCli(['get', `http://127.0.0.1:${port}/status`, '--json', '--mptcp', 'off']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.server.mptcp, false);
    assert.deepEqual(j.server.subflows, []);
    assert.equal(j.client.mptcp, false);
  });

  test('unknown path → 404 and exit 1; bad URL → usage error exit 2', async () => {
    const r = await runCli(['get', `http://127.0.0.1:${port}/nope`]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /HTTP 404/);
    const u = await runCli(['get', 'ftp://example/']);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /only http/);
  });

  test('get against a closed port fails with exit 1 and the error', async () => {
    const r = await runCli(['get', 'http://127.0.0.1:1/status', '--timeout', '2000']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ECONNREFUSED/);
  });

  test('serve-status stops cleanly on SIGINT', async () => {
    server.kill('SIGINT');
    assert.equal(await exited, 0);
  });
});
