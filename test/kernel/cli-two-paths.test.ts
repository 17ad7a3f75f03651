/**
 * The seed-004 application across two real paths: `mptcp serve-status` runs in the server namespace
 * and `mptcp get --min-subflows 2` in the client namespace, each a child process under
 * `ip netns exec`; both ends report MPTCP with two subflows.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { netnsMptcpSkip } from './helpers.js';
import { buildTwoPaths } from './topology.js';

const skip = netnsMptcpSkip();
const BIN = 'bin/mptcp.js';

describe('mptcp serve-status / get across two namespaces and two paths', { skip }, () => {
  test('both ends see 2 subflows', { timeout: 30_000 }, async () => {
    const topo = buildTwoPaths();
    const server = topo.server.spawn(
      process.execPath,
      [BIN, 'serve-status', '--host', topo.serverAddr, '--port', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`serve-status did not start: ${out}`)), 10_000);
        server.stdout!.on('data', (d) => {
          out += d;
          const m = /listening on [\d.]+:(\d+) \(mptcp listener: yes\)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
        server.once('exit', () => reject(new Error(`serve-status exited: ${out}`)));
      });
      const url = `http://${topo.serverAddr}:${port}/status`;
      // --min-subflows 2: a warm-up request, a wait for the join, then the reported request on the
      // same connection, so both snapshots are taken well after the join completed.
      const r = await topo.client.execAsync(process.execPath, [
        BIN,
        'get',
        url,
        '--json',
        '--min-subflows',
        '2',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      assert.equal(j.client.mptcp, true, r.stdout);
      assert.equal(j.client.subflows.length, 2, r.stdout);
      assert.deepEqual(
        j.client.subflows.map((f: { localAddress: string }) => f.localAddress).sort(),
        [topo.clientAddrA, topo.clientAddrB].sort(),
      );
      assert.equal(j.server.mptcp, true, r.stdout);
      assert.equal(j.server.subflows.length, 2, r.stdout);
      assert.deepEqual(
        j.server.subflows.map((f: { remoteAddress: string }) => f.remoteAddress).sort(),
        [topo.clientAddrA, topo.clientAddrB].sort(),
      );
      server.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      if (server.exitCode === null) server.kill('SIGKILL');
      await exited;
      topo.destroy();
    }
  });
});
