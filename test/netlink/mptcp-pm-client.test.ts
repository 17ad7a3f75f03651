import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { cleanupAll, ip, Netns, run, withNetns } from '../../src/lab/netns.js';
import { MptcpPmClient, withToken } from '../../src/netlink/mptcp-pm-client.js';
import { NetlinkError } from '../../src/netlink/socket.js';
import { kernelPmSkipReason } from './kernel-env.js';

const skip = kernelPmSkipReason();
const CLI = fileURLToPath(new URL('../../../bin/mptcp.js', import.meta.url));
function noRunuser(): string | false {
  if (run('runuser', ['--version']).code !== 0) return 'runuser (util-linux) is not installed';
  // The checkout may sit where user nobody cannot read it (e.g. under /root).
  if (
    run('runuser', [
      '-u',
      'nobody',
      '--',
      process.execPath,
      '-e',
      `require('fs').accessSync(${JSON.stringify(CLI)})`,
    ]).code !== 0
  ) {
    return `user nobody cannot read ${CLI}`;
  }
  return false;
}

async function inFreshNamespace(fn: (ns: Netns, client: MptcpPmClient) => Promise<void>): Promise<void> {
  const ns = Netns.create('mptcp-nl');
  const client = await withNetns(ns, () => MptcpPmClient.open());
  try {
    await fn(ns, client);
  } finally {
    await client.close();
    ns.delete();
  }
}

describe('netlink/mptcp-pm-client against the kernel (in a fresh namespace)', () => {
  after(() => cleanupAll());
  const hostBefore = skip ? '' : run('ip', ['mptcp', 'endpoint', 'show']).stdout;

  test('resolves the mptcp_pm family and its event group', { skip }, async () => {
    await inFreshNamespace(async (_ns, client) => {
      assert.equal(client.family.name, 'mptcp_pm');
      assert.ok(client.family.id >= 0x10);
      assert.ok(client.family.groups.has('mptcp_pm_events'));
    });
  });

  test('endpoints and limits set by us are read back by ip mptcp', { skip }, async () => {
    await inFreshNamespace(async (ns, client) => {
      await client.addEndpoint({ addr: '10.9.0.1', id: 7, flags: ['subflow', 'backup'] });
      await client.addEndpoint({ addr: 'fd09::1', id: 8, flags: ['signal'] });
      await client.addEndpoint({ addr: '10.9.0.3', flags: ['subflow', 'fullmesh'], ifindex: 1 });
      await client.setLimits({ subflows: 3, addAddrAccepted: 5 });
      const shown = ns.exec('ip', ['mptcp', 'endpoint', 'show']);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /^10\.9\.0\.1 id 7 subflow backup\s*$/m);
      assert.match(shown.stdout, /^fd09::1 id 8 signal\s*$/m);
      assert.match(shown.stdout, /^10\.9\.0\.3 id 9 subflow fullmesh dev lo\s*$/m);
      assert.match(ns.exec('ip', ['mptcp', 'limits', 'show']).stdout, /add_addr_accepted 5 subflows 3/);
      // Backup off through SET_FLAGS.
      await client.setFlags({ id: 7 }, []);
      assert.match(
        ns.exec('ip', ['mptcp', 'endpoint', 'show', 'id', '7']).stdout,
        /^10\.9\.0\.1 id 7 subflow\s*$/m,
      );
    });
  });

  test('endpoints and limits set by ip mptcp are read back by us', { skip }, async () => {
    await inFreshNamespace(async (ns, client) => {
      for (const args of [
        ['endpoint', 'add', '10.8.0.1', 'id', '3', 'signal', 'backup'],
        ['endpoint', 'add', '10.8.0.2', 'dev', 'lo', 'subflow'],
        ['endpoint', 'add', 'fd08::2', 'port', '0', 'signal'],
        ['limits', 'set', 'subflows', '4', 'add_addr_accepted', '1'],
      ]) {
        const r = ns.exec('ip', ['mptcp', ...args]);
        assert.equal(r.code, 0, `ip mptcp ${args.join(' ')}: ${r.stderr}`);
      }
      const eps = await client.dumpEndpoints();
      assert.deepEqual(
        eps.map((e) => [e.addr, e.id, e.flags, e.ifindex ?? 0]),
        [
          ['10.8.0.1', 3, 1 | 4, 0],
          ['10.8.0.2', 4, 2, 1],
          ['fd08::2', 5, 1, 0],
        ],
      );
      assert.deepEqual(await client.getEndpoint(3), { family: 4, addr: '10.8.0.1', id: 3, flags: 5 });
      assert.deepEqual(await client.getLimits(), { subflows: 4, addAddrAccepted: 1 });
    });
  });

  test('flush and delete remove endpoints', { skip }, async () => {
    await inFreshNamespace(async (ns, client) => {
      await client.addEndpoint({ addr: '10.7.0.1', id: 1, flags: ['subflow'] });
      await client.addEndpoint({ addr: '10.7.0.2', id: 2, flags: ['subflow'] });
      await client.addEndpoint({ addr: '10.7.0.3', id: 3, flags: ['subflow'] });
      await client.deleteEndpoint(2);
      assert.deepEqual(
        (await client.dumpEndpoints()).map((e) => e.id),
        [1, 3],
      );
      await client.flushEndpoints();
      assert.deepEqual(await client.dumpEndpoints(), []);
      assert.equal(ns.exec('ip', ['mptcp', 'endpoint', 'show']).stdout.trim(), '');
    });
  });

  test('kernel refusals become NetlinkError with errno name and extack text', { skip }, async () => {
    await inFreshNamespace(async (_ns, client) => {
      await assert.rejects(client.deleteEndpoint(42), (err: unknown) => {
        assert.ok(err instanceof NetlinkError);
        assert.equal(err.operation, 'MPTCP_PM_CMD_DEL_ADDR');
        assert.ok(err.errno > 0);
        assert.equal(typeof err.extackMessage, 'string');
        assert.match(err.message, /^MPTCP_PM_CMD_DEL_ADDR failed: E[A-Z]+ \(.+\)$/);
        return true;
      });
      await client.addEndpoint({ addr: '10.6.0.1', id: 1, flags: ['subflow'] });
      await assert.rejects(client.addEndpoint({ addr: '10.6.0.1', id: 1, flags: ['subflow'] }), NetlinkError);
      await assert.rejects(client.setLimits({ subflows: 1000 }), (err: unknown) => {
        assert.ok(err instanceof NetlinkError);
        assert.equal(err.code, 'EINVAL');
        return true;
      });
      await assert.rejects(client.getEndpoint(99), NetlinkError);
      // A userspace-PM command for a token that does not exist.
      await assert.rejects(client.remove(0x12345678, 1), NetlinkError);
    });
  });

  test('the mptcp CLI talks to the same kernel state (endpoint, limits)', { skip }, async () => {
    await inFreshNamespace(async (ns, client) => {
      const add = await ns.execAsync(process.execPath, [
        CLI,
        'endpoint',
        'add',
        '10.5.0.1',
        'id',
        '4',
        'subflow',
        'backup',
      ]);
      assert.equal(add.code, 0, add.stderr);
      const lim = await ns.execAsync(process.execPath, [CLI, 'limits', 'set', 'subflows', '6']);
      assert.equal(lim.code, 0, lim.stderr);
      assert.deepEqual(await client.getEndpoint(4), { family: 4, addr: '10.5.0.1', id: 4, flags: 6 });
      assert.equal((await client.getLimits()).subflows, 6);
      const show = await ns.execAsync(process.execPath, [CLI, 'endpoint', 'show']);
      assert.equal(show.stdout, '10.5.0.1 id 4 subflow backup\n');
      const json = await ns.execAsync(process.execPath, [CLI, 'endpoint', 'show', '--json']);
      assert.deepEqual(JSON.parse(json.stdout), [
        { address: '10.5.0.1', id: 4, flags: ['subflow', 'backup'] },
      ]);
      const lj = await ns.execAsync(process.execPath, [CLI, 'limits', '--json']);
      assert.equal(JSON.parse(lj.stdout).subflows, 6);
      const del = await ns.execAsync(process.execPath, [CLI, 'endpoint', 'del', 'id', '77']);
      assert.equal(del.code, 1);
      assert.match(del.stderr, /MPTCP_PM_CMD_DEL_ADDR failed: E[A-Z]+/);
      const bad = await ns.execAsync(process.execPath, [CLI, 'endpoint', 'add', 'not-an-ip']);
      assert.equal(bad.code, 2);
      const dev = await ns.execAsync(process.execPath, [
        CLI,
        'endpoint',
        'add',
        '10.5.0.2',
        'id',
        '5',
        'dev',
        'lo',
        'subflow',
      ]);
      assert.equal(dev.code, 0, dev.stderr);
      assert.equal((await client.getEndpoint(5)).ifindex, 1);
      const noDev = await ns.execAsync(process.execPath, [
        CLI,
        'endpoint',
        'add',
        '10.5.0.3',
        'dev',
        'nosuch0',
      ]);
      assert.equal(noDev.code, 2);
      assert.match(noDev.stderr, /no interface 'nosuch0'/);
      const change = await ns.execAsync(process.execPath, [CLI, 'endpoint', 'change', 'id', '4', 'nobackup']);
      assert.equal(change.code, 0, change.stderr);
      assert.equal((await client.getEndpoint(4)).flags, 2);
      const flush = await ns.execAsync(process.execPath, [CLI, 'endpoint', 'flush']);
      assert.equal(flush.code, 0, flush.stderr);
      assert.deepEqual(await client.dumpEndpoints(), []);
    });
  });

  test('without CAP_NET_ADMIN: changes fail with EPERM, reading works', {
    skip: skip || noRunuser(),
  }, async () => {
    await inFreshNamespace(async (ns, client) => {
      await client.addEndpoint({ addr: '10.4.0.1', id: 1, flags: ['signal'] });
      const asNobody = (args: string[]) =>
        ns.execAsync('runuser', ['-u', 'nobody', '--', process.execPath, CLI, ...args]);
      const add = await asNobody(['endpoint', 'add', '10.4.0.2', 'subflow']);
      assert.equal(add.code, 1);
      assert.match(add.stderr, /MPTCP_PM_CMD_ADD_ADDR failed: EPERM/);
      const show = await asNobody(['endpoint', 'show']);
      assert.equal(show.code, 0, show.stderr);
      assert.equal(show.stdout, '10.4.0.1 id 1 signal\n');
      assert.deepEqual(
        (await client.dumpEndpoints()).map((e) => e.addr),
        ['10.4.0.1'],
      );
    });
  });

  test('a signal endpoint with a port opens a PM listener: listener events, port read back', {
    skip,
  }, async () => {
    await inFreshNamespace(async (ns, client) => {
      ip(ns, ['addr', 'add', '10.3.0.1/32', 'dev', 'lo']);
      const sub = client.subscribeEvents();
      const created = sub.waitFor((ev) => ev.type === 'listener_created', 5000);
      await client.addEndpoint({ addr: '10.3.0.1', port: 10000, id: 9, flags: ['signal'] });
      assert.deepEqual(await created, {
        type: 'listener_created',
        family: 4,
        saddr: '10.3.0.1',
        sport: 10000,
      });
      assert.match(
        ns.exec('ip', ['mptcp', 'endpoint', 'show']).stdout,
        /^10\.3\.0\.1 port 10000 id 9 signal\s*$/m,
      );
      assert.equal((await client.getEndpoint(9)).port, 10000);
      const closed = sub.waitFor((ev) => ev.type === 'listener_closed', 5000);
      await client.deleteEndpoint(9);
      assert.deepEqual(await closed, { type: 'listener_closed', family: 4, saddr: '10.3.0.1', sport: 10000 });
      sub.close();
    });
  });

  test('close() returns promptly even with a subscription waiting', { skip }, async () => {
    await inFreshNamespace(async (_ns, client) => {
      client.subscribeEvents();
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      await client.close();
      assert.ok(Date.now() - t0 < 1000, `close took ${Date.now() - t0} ms`);
    });
  });

  test('a prepared SUBFLOW_CREATE restamped with withToken is byte for byte the one for that token', {
    skip,
  }, async () => {
    await inFreshNamespace(async (_ns, client) => {
      const local = { addr: '192.0.2.1', id: 3 };
      const remote = { addr: '198.51.100.2', port: 8080 };
      for (const token of [0, 1, 0x1234_5678, 0x8000_0000, 0xffff_ffff]) {
        const direct = client.prepareSubflowCreate(token, local, remote);
        const restamped = withToken(client.prepareSubflowCreate(0, local, remote), token);
        assert.deepEqual(restamped.message, direct.message);
        assert.equal(restamped.operation, 'MPTCP_PM_CMD_SUBFLOW_CREATE');
      }
      // The template is not modified, and the request is refused like subflowCreate's (no such token).
      const template = client.prepareSubflowCreate(0, local, remote);
      const copy = template.message.slice();
      withToken(template, 7);
      assert.deepEqual(template.message, copy);
      await assert.rejects(client.sendPrepared(withToken(template, 7)), (err: unknown) => {
        assert.ok(err instanceof NetlinkError);
        assert.equal(err.code, 'EINVAL');
        return true;
      });
    });
  });

  test('waitEvents: with eventLoop false, nothing reads until the owner waits; hooks see established first', {
    skip,
  }, async () => {
    await inFreshNamespace(async (ns, client) => {
      const events: string[] = [];
      const hooked: number[] = [];
      const sub = client.subscribeEvents({
        eventLoop: false,
        onEstablished: (payload) => {
          hooked.push(payload[0]!);
          events.push('hook');
        },
      });
      sub.on('event', (ev) => events.push(ev.type));
      // A signal endpoint with a port opens a listener: listener_created, queued in the socket.
      ip(ns, ['addr', 'add', '192.0.2.7/32', 'dev', 'lo']);
      ip(ns, ['link', 'set', 'lo', 'up']);
      ip(ns, ['mptcp', 'endpoint', 'add', '192.0.2.7', 'port', '10123', 'signal']);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(events, [], 'the event loop read the socket');
      assert.equal(client.waitEvents(1000), true);
      assert.deepEqual(events, ['listener_created']);
      assert.deepEqual(hooked, []);
      const t0 = performance.now();
      assert.equal(client.waitEvents(30), false);
      assert.ok(performance.now() - t0 >= 25, 'waitEvents returned before its timeout');
      sub.close();
    });
  });

  test('the host namespace was not touched', { skip }, () => {
    assert.equal(run('ip', ['mptcp', 'endpoint', 'show']).stdout, hostBefore);
  });
});
