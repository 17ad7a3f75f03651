/**
 * Kernel MPTCP over two real paths between two network namespaces (see topology.ts): our server and
 * our client (in-process, sockets created inside the namespaces with withNetns) see two subflows, and
 * `ss` in the namespace agrees; then failover: path A goes down mid-transfer and the transfer completes
 * intact over path B.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { describe, test } from 'node:test';
import { connectAsync, createServer, isMultipath, subflows } from '../../src/kernel/index.js';
import { linkDown, withNetns } from '../../src/lab/netns.js';
import { closeServer, listening, netnsMptcpSkip, readAll, sha256, sleep, waitFor } from './helpers.js';
import { buildTwoPaths } from './topology.js';

const skip = netnsMptcpSkip();

describe('kernel MPTCP over two paths (namespaces)', { skip }, () => {
  test('client and server both see 2 subflows; ss -M in the namespaces agrees', async () => {
    const topo = buildTwoPaths();
    let serverSide: net.Socket | undefined;
    const server = createServer((c) => {
      serverSide = c;
      c.on('data', () => {});
    });
    try {
      withNetns(topo.server, () => server.listen(0, topo.serverAddr));
      const port = await listening(server);
      const s = await withNetns(topo.client, () =>
        connectAsync({ port, host: topo.serverAddr, timeout: 5000 }),
      );
      try {
        assert.equal(isMultipath(s), true);
        s.write(Buffer.alloc(64 * 1024)); // traffic helps the join complete promptly
        assert.ok(
          await waitFor(() => subflows(s).length === 2, 2000),
          `client subflows: ${JSON.stringify(subflows(s))}`,
        );
        assert.ok(serverSide);
        const srv = serverSide;
        assert.ok(await waitFor(() => subflows(srv).length === 2, 2000), 'server did not see 2 subflows');

        const mine = subflows(s);
        const locals = mine.map((f) => f.localAddress).sort();
        assert.deepEqual(locals, [topo.clientAddrA, topo.clientAddrB].sort());
        for (const f of mine) {
          assert.equal(f.remoteAddress, topo.serverAddr);
          assert.equal(f.remotePort, port);
        }
        const theirs = subflows(srv)
          .map((f) => `${f.remoteAddress}:${f.remotePort}`)
          .sort();
        assert.deepEqual(theirs, mine.map((f) => `${f.localAddress}:${f.localPort}`).sort());

        // ss: one MPTCP socket, and two TCP subflows towards the server port carrying the mptcp ULP.
        const ssM = topo.client.exec('ss', ['-MnH', 'state', 'established']);
        assert.equal(ssM.code, 0, ssM.stderr);
        assert.equal(
          ssM.stdout
            .trim()
            .split('\n')
            .filter((l) => l.includes(`${topo.serverAddr}:${port}`)).length,
          1,
          ssM.stdout,
        );
        const ssT = topo.client.exec('ss', ['-tniH', 'state', 'established', 'dport', `= :${port}`]);
        assert.equal(ssT.code, 0, ssT.stderr);
        const subflowLines = ssT.stdout.split('\n').filter((l) => /\d+\.\d+\.\d+\.\d+:\d+/.test(l));
        assert.equal(subflowLines.length, 2, ssT.stdout);
        for (const a of [topo.clientAddrA, topo.clientAddrB])
          assert.match(ssT.stdout, new RegExp(`${a.replace(/\./g, '\\.')}(%\\w+)?:\\d+`));
        assert.match(ssT.stdout, /tcp-ulp-mptcp/);
      } finally {
        s.destroy();
      }
    } finally {
      serverSide?.destroy();
      await closeServer(server);
      topo.destroy();
    }
  });

  test('failover: path A goes down mid-transfer of 20 MB; digests match', { timeout: 60_000 }, async (t) => {
    const topo = buildTwoPaths({ rateMbit: 80 });
    const TRANSFER_BYTES = 20 * 1024 * 1024;
    let received: Promise<Buffer> | undefined;
    const server = createServer((c) => {
      received = readAll(c, TRANSFER_BYTES * 2);
    });
    try {
      withNetns(topo.server, () => server.listen(0, topo.serverAddr));
      const port = await listening(server);
      const s = await withNetns(topo.client, () =>
        connectAsync({ port, host: topo.serverAddr, timeout: 5000 }),
      );
      const data = randomBytes(TRANSFER_BYTES);
      const sent = sha256(data);
      s.end(data);
      assert.ok(await waitFor(() => subflows(s).length === 2, 2000), 'second subflow never came up');
      await sleep(300);
      const before = subflows(s);
      const ackedBefore = before.reduce((a, f) => a + (f.bytesAcked ?? 0), 0);
      assert.ok(ackedBefore < TRANSFER_BYTES, `transfer already done before the cut (${ackedBefore} acked)`);
      linkDown(topo.client, 'c1');
      const cutAt = Date.now();
      assert.ok(received);
      const got = await received;
      const afterCutMs = Date.now() - cutAt;
      assert.equal(got.length, TRANSFER_BYTES);
      assert.equal(sha256(got), sent);
      // Path B carried the data after the cut: its acked bytes grew by most of what was left.
      const ackedB = (list: typeof before) =>
        list.find((f) => f.localAddress === topo.clientAddrB)?.bytesAcked ?? 0;
      const after = subflows(s);
      const grewB = ackedB(after) - ackedB(before);
      assert.ok(grewB > (TRANSFER_BYTES - ackedBefore) / 2, `path B acked only ${grewB} bytes after the cut`);
      assert.ok(afterCutMs < 30_000);
      t.diagnostic(
        `cut after ${ackedBefore} B acked; the rest (${TRANSFER_BYTES - ackedBefore} B) took ${afterCutMs} ms`,
      );
      s.destroy();
    } finally {
      await closeServer(server);
      topo.destroy();
    }
  });
  test('failover, download: the server sends 20 MB, the client loses path A mid-transfer', {
    timeout: 60_000,
  }, async () => {
    const topo = buildTwoPaths({ rateMbit: 80 });
    const TRANSFER_BYTES = 20 * 1024 * 1024;
    const data = randomBytes(TRANSFER_BYTES);
    const server = createServer((c) => {
      c.on('error', () => {});
      c.end(data);
    });
    try {
      withNetns(topo.server, () => server.listen(0, topo.serverAddr));
      const port = await listening(server);
      const s = await withNetns(topo.client, () =>
        connectAsync({ port, host: topo.serverAddr, timeout: 5000 }),
      );
      const received = readAll(s, TRANSFER_BYTES * 2);
      assert.ok(await waitFor(() => subflows(s).length === 2, 2000), 'second subflow never came up');
      await sleep(300);
      const recvB = () => subflows(s).find((f) => f.localAddress === topo.clientAddrB)?.bytesReceived ?? 0;
      const total = () => subflows(s).reduce((a, f) => a + (f.bytesReceived ?? 0), 0);
      const before = total();
      const beforeB = recvB();
      assert.ok(before < TRANSFER_BYTES, `transfer already done before the cut (${before} received)`);
      linkDown(topo.client, 'c1');
      // Sample path B's counter while the socket is still open (it closes once the data is in).
      let lastB = beforeB;
      const iv = setInterval(() => {
        if (!s.destroyed) lastB = Math.max(lastB, recvB());
      }, 20);
      const got = await received.finally(() => clearInterval(iv));
      assert.equal(got.length, TRANSFER_BYTES);
      assert.equal(sha256(got), sha256(data));
      assert.ok(lastB - beforeB > 0, 'path B received nothing after the cut');
    } finally {
      await closeServer(server);
      topo.destroy();
    }
  });
});
