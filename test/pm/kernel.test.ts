/**
 * The controllers against kernel MPTCP (root + netns): a client namespace with the userspace path
 * manager and two veth paths to a server namespace (in-kernel PM). A python3 MPTCP client streams
 * to a python3 MPTCP server; the KernelPmDriver runs the controller in the client namespace.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import { cleanupAll, withNetns } from '../../src/lab/netns.js';
import { applyLoss, lossCounters, setOffloads } from '../../src/lab/shaping.js';
import { backupOnRto } from '../../src/pm/controllers/backup-on-rto.js';
import { fullmesh } from '../../src/pm/controllers/fullmesh.js';
import { type DriverLogEntry, KernelPmDriver, userspacePmSelected } from '../../src/pm/kernel-driver.js';
import { nativeReflexUnavailableReason } from '../../src/pm/native-reflex.js';
import { CLI, lab, lossSkip, recorder, skip, startPair, stop, WAIT_MS, waitEvent } from './kernel-lab.js';

describe('pm kernel driver: controllers on the kernel userspace path manager', () => {
  after(() => cleanupAll());

  test('fullmesh creates the second subflow over the second path', { skip }, async () => {
    const l = lab();
    assert.equal(withNetns(l.client, userspacePmSelected), true);
    assert.match(String(withNetns(l.server, userspacePmSelected)), /path_manager=kernel|pm_type=0/);
    const rec = recorder();
    const driver = await KernelPmDriver.start(fullmesh(), { netns: l.client.name, log: rec.log });
    let pair: Awaited<ReturnType<typeof startPair>> | undefined;
    try {
      pair = await startPair(l);
      const est = await waitEvent(
        rec.events,
        (e) => e.type === 'connection-established',
        WAIT_MS,
        'established',
      );
      const sub = await waitEvent(
        rec.events,
        (e) => e.type === 'subflow-established',
        WAIT_MS,
        'sub_established',
      );
      assert.ok(sub.type === 'subflow-established');
      assert.equal(sub.connection, est.connection);
      assert.equal(sub.local.address, `10.${l.n}.2.1`);
      assert.equal(sub.remote.address, `10.${l.n}.1.2`);
      assert.equal(sub.remote.port, pair.port);
      await driver.refreshNow();
      // The kernel lists two subflows of the connection (sock_diag, as ss -M would).
      const conn = driver.view().connection(est.connection);
      assert.ok(conn);
      assert.equal(conn.subflows.filter((s) => s.established).length, 2, JSON.stringify(conn.subflows));
      const ss = l.client.exec('ss', ['-tnH', 'state', 'established']).stdout;
      assert.match(ss, new RegExp(`10\\.${l.n}\\.2\\.1:\\d+\\s+10\\.${l.n}\\.1\\.2:${pair.port}`));
      assert.match(ss, new RegExp(`10\\.${l.n}\\.1\\.1:\\d+\\s+10\\.${l.n}\\.1\\.2:${pair.port}`));
      // sock_diag metrics reach the view.
      for (const s of conn.subflows) assert.ok((s.rtoMs ?? 0) > 0, JSON.stringify(s));
      assert.deepEqual(rec.errors, []);
    } finally {
      await stop(pair?.client);
      await stop(pair?.server);
      await driver.stop();
      l.client.delete();
      l.server.delete();
    }
  });

  test('backup-on-rto moves to the backup path when the primary path drops 40 % of packets', {
    skip: lossSkip,
  }, async () => {
    const l = lab();
    const rec = recorder();
    const controller = backupOnRto({
      thresholdMs: 1000,
      backup: { address: `10.${l.n}.2.2`, localAddress: `10.${l.n}.2.1` },
    });
    const driver = await KernelPmDriver.start(controller, { netns: l.client.name, log: rec.log });
    let pair: Awaited<ReturnType<typeof startPair>> | undefined;
    try {
      pair = await startPair(l);
      const est = await waitEvent(
        rec.events,
        (e) => e.type === 'connection-established',
        WAIT_MS,
        'established',
      );
      assert.ok(est.type === 'connection-established');
      await new Promise((r) => setTimeout(r, 500));
      await driver.idle();
      assert.equal(
        driver.view().connection(est.connection)?.subflows.length,
        1,
        'backup not opened in advance',
      );
      // The primary path starts dropping: 40 % of what s1 receives (the client's data).
      for (const [ns, dev] of [
        [l.client, 'c1'],
        [l.server, 's1'],
      ] as const)
        setOffloads(ns, dev, false);
      applyLoss(l.server, 's1', 40);
      const primaryKey = `10.${l.n}.1.1:${est.local.port}>10.${l.n}.1.2:${pair.port}`;
      const up = await waitEvent(
        rec.events,
        (e) =>
          e.type === 'subflow-established' &&
          e.local.address === `10.${l.n}.2.1` &&
          e.remote.address === `10.${l.n}.2.2`,
        90_000,
        'backup subflow',
      );
      const closed = await waitEvent(
        rec.events,
        (e) => e.type === 'subflow-closed' && e.subflow === primaryKey,
        WAIT_MS,
        'primary closed',
      );
      // What triggered the switch: the primary's rto above 1 s (the usual case: a subflow-timeout
      // event, or a tick that saw the rto in the view after a timeout below the threshold), or the
      // kernel giving up on the primary first (then the controller only opens the backup path).
      // Either way a primary timeout or close comes before our create-subflow, which comes before
      // the backup subflow is up.
      const at = (pred: (e: DriverLogEntry) => boolean) => rec.entries.findIndex(pred);
      const createAt = at((e) => e.kind === 'command' && e.command.type === 'create-subflow');
      const triggerAt = at(
        (e) =>
          e.kind === 'event' &&
          ((e.event.type === 'subflow-timeout' && e.event.subflow === primaryKey) || e.event === closed),
      );
      const upAt = at((e) => e.kind === 'event' && e.event === up);
      assert.ok(triggerAt >= 0 && triggerAt < createAt && createAt < upAt, JSON.stringify(rec.entries));
      const cmds = rec.commands.map((c) => c.type);
      if (rec.events.indexOf(closed) > rec.events.indexOf(up))
        assert.deepEqual(cmds.slice(0, 2), ['create-subflow', 'remove-subflow'], cmds.join(','));
      assert.ok(closed && up);
      await driver.idle();
      const subflows = driver.view().connection(est.connection)?.subflows ?? [];
      assert.ok(!subflows.some((s) => s.key === primaryKey), JSON.stringify(subflows));
      assert.ok(
        subflows.some((s) => s.local.address === `10.${l.n}.2.1` && s.established),
        JSON.stringify(subflows),
      );
      assert.ok(lossCounters(l.server, 's1').dropped > 0);
      const ss = l.client.exec('ss', ['-tnH', 'state', 'established']).stdout;
      assert.doesNotMatch(ss, new RegExp(`10\\.${l.n}\\.1\\.1:${est.local.port}\\s`));
      assert.match(ss, new RegExp(`10\\.${l.n}\\.2\\.1:\\d+\\s+10\\.${l.n}\\.2\\.2:${pair.port}`));
    } finally {
      await stop(pair?.client);
      await stop(pair?.server);
      await driver.stop();
      l.client.delete();
      l.server.delete();
    }
  });

  for (const flag of ['', '--no-native-reflex']) {
    // Without a flag the daemon answers from the native reflex thread where the library is built.
    const native = flag === '' && nativeReflexUnavailableReason() === undefined;
    test(`mptcp pm run fullmesh --json ${flag}: logs the events and commands, exits 0 on SIGINT${native ? ' (native reflex)' : ''}`, {
      skip,
    }, async () => {
      const l = lab();
      const args = [CLI, 'pm', 'run', 'fullmesh', '--json', ...(flag ? [flag] : [])];
      const daemon = l.client.spawn(process.execPath, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let pair: Awaited<ReturnType<typeof startPair>> | undefined;
      let out = '';
      let err = '';
      daemon.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      daemon.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
      });
      try {
        const deadline = Date.now() + WAIT_MS;
        while (!out.includes('running fullmesh') && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 20));
        assert.match(out, /running fullmesh/, err);
        pair = await startPair(l);
        while (!out.includes('"subflow-established"') && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 20));
        const exited = once(daemon, 'exit');
        daemon.kill('SIGINT');
        const [code] = await exited;
        assert.equal(code, 0, err);
        const lines = out
          .trim()
          .split('\n')
          .map((s) => JSON.parse(s) as DriverLogEntry);
        const kinds = lines.map((e) =>
          e.kind === 'event' ? e.event.type : e.kind === 'command' ? `>${e.command.type}` : e.kind,
        );
        const i = kinds.indexOf('connection-established');
        assert.ok(i > 0, kinds.join(','));
        assert.equal(kinds[i + 1], '>create-subflow', kinds.join(','));
        assert.ok(kinds.indexOf('subflow-established') > i + 1, kinds.join(','));
        assert.equal(lines.at(-1)?.kind, 'info');
        // The reflex sent the create-subflow before handle() returned it: sent once, no error (a
        // second SUBFLOW_CREATE for the same pair would be refused and logged), and the kernel-side
        // `created` (filtered out) is still reported, right before `established`.
        assert.equal(kinds.filter((k) => k === '>create-subflow').length, 1, kinds.join(','));
        assert.deepEqual(
          kinds.filter((k) => k === 'error'),
          [],
          out,
        );
        assert.equal(kinds[i - 1], 'connection-created', kinds.join(','));
        // SCHED_FIFO by default where allowed; where not, a note says why.
        assert.match(out, /running fullmesh.*\(SCHED_FIFO\)|normal scheduling: /);
        if (native) {
          // The native thread sent it (a wildcard entry: even the first connection), JS did not.
          assert.match(out, /running fullmesh with the native reflex thread/);
          assert.match(
            out,
            /native reflex thread: 1 connections seen, 1 answered \(1 requests accepted, 0 refused/,
          );
        } else {
          assert.doesNotMatch(out, /with the native reflex thread/);
        }
        const ss = l.client.exec('ss', ['-tnH', 'state', 'established']).stdout;
        assert.match(ss, new RegExp(`10\\.${l.n}\\.2\\.1:\\d+\\s+10\\.${l.n}\\.1\\.2:`));
      } finally {
        await stop(pair?.client);
        await stop(pair?.server);
        await stop(daemon);
        l.client.delete();
        l.server.delete();
      }
    });
  }
});
