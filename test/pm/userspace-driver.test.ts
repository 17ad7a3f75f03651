import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { describe, test } from 'node:test';
import { connect, createServer } from '../../src/node/index.js';
import { ndiffports } from '../../src/pm/controllers/ndiffports.js';
import type { DriverLogEntry } from '../../src/pm/kernel-driver.js';
import type { Controller, PmCommand, PmEvent, PmView } from '../../src/pm/types.js';
import { type UserspaceSubflowSnapshot, UserspacePmDriver } from '../../src/pm/userspace-driver.js';

/** A stand-in for MptcpClientSocket: records the driver's calls. */
class FakeSocket extends EventEmitter {
  subflows: UserspaceSubflowSnapshot[] = [];
  tokens = { local: 0xdeadbeef, remote: 1 };
  localAddress = '127.0.0.1';
  localPort = 40000;
  remoteAddress = '127.0.0.2';
  remotePort = 80;
  calls: string[] = [];
  closeSubflow(id: number) {
    this.calls.push(`close ${id}`);
  }
  setBackup(id: number, b: boolean) {
    this.calls.push(`backup ${id} ${b}`);
  }
  announce(id: number, a: string, p?: number) {
    this.calls.push(`announce ${id} ${a} ${p}`);
  }
  removeAddress(ids: number[]) {
    this.calls.push(`remove ${ids.join(',')}`);
  }
  openSubflow(spec: { host?: string; port: number; localAddress?: string; backup?: boolean }) {
    this.calls.push(
      `open ${spec.localAddress ?? '-'}>${spec.host}:${spec.port}${spec.backup ? ' backup' : ''}`,
    );
    return spec.host === 'refuse' ? undefined : 7;
  }
}

const snap = (
  id: number,
  port: number,
  extra: Partial<UserspaceSubflowSnapshot> = {},
): UserspaceSubflowSnapshot => ({
  id,
  state: 'established',
  backup: false,
  srttMs: 1,
  rtoMs: 200,
  deliveryRateBps: 1000,
  bytesSent: 0,
  bytesAcked: 0,
  localAddress: '127.0.0.1',
  localPort: port,
  remoteAddress: '127.0.0.2',
  remotePort: 80,
  ...extra,
});

/** Records events and views; answers with scripted commands. */
function scripted(
  answer: (ev: PmEvent, view: PmView) => PmCommand[],
): Controller & { seen: Array<[PmEvent, PmView]> } {
  const seen: Array<[PmEvent, PmView]> = [];
  return {
    name: 'scripted',
    seen,
    handle(ev, view) {
      seen.push([ev, view]);
      return answer(ev, view);
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('pm/userspace-driver with a scripted socket', () => {
  test('maps core events to PmEvents, in order, with the socket view', async () => {
    const c = scripted(() => []);
    const d = new UserspacePmDriver(c, { tickIntervalMs: 0, localAddresses: () => [] });
    const s = new FakeSocket();
    const id = d.attach(s);
    assert.equal(id, 'deadbeef');
    s.subflows = [snap(1, 40000, { initial: true })];
    s.emit('mptcp', { type: 'subflow-established', subflowId: 1, backup: false }); // initial: not reported
    s.emit('mptcp', { type: 'established', localToken: 1, remoteToken: 2 });
    s.subflows.push(snap(2, 40001, { rtoMs: 1600, deliveryRateBps: 5000 }));
    s.emit('mptcp', { type: 'subflow-established', subflowId: 2, backup: false });
    s.emit('mptcp', { type: 'subflow-timeout', subflowId: 2, rtoMs: 1600 });
    s.emit('mptcp', { type: 'add-addr', addressId: 3, address: '10.0.0.3', port: 81, hmacValid: true });
    s.emit('mptcp', { type: 'add-addr', addressId: 4, address: '10.0.0.4', hmacValid: false });
    s.emit('mptcp', { type: 'remove-addr', addressIds: [3, 5] });
    s.emit('mptcp', { type: 'subflow-priority', subflowId: 2, backup: true });
    await flush(); // the view is read when an event is handled: let these see subflow 2
    s.subflows = [snap(1, 40000)];
    s.emit('mptcp', {
      type: 'subflow-closed',
      subflowId: 2,
      reason: 'protocol',
      reinjectedBytes: 0,
      resetReason: 4,
    });
    s.emit('mptcp', { type: 'closed' });
    s.emit('close');
    await flush();
    const types = c.seen.map(([e]) => e.type);
    assert.deepEqual(types, [
      'connection-created',
      'connection-established',
      'subflow-established',
      'subflow-timeout',
      'add-addr',
      'rem-addr',
      'rem-addr',
      'subflow-priority',
      'subflow-closed',
      'connection-closed',
    ]);
    const [est, view] = c.seen[1]!;
    assert.deepEqual(est, {
      type: 'connection-established',
      connection: 'deadbeef',
      timeMs: est.timeMs,
      local: { address: '127.0.0.1', port: 40000 },
      remote: { address: '127.0.0.2', port: 80 },
      serverSide: false,
    });
    assert.equal(view.connection('deadbeef')?.established, true);
    const sub = c.seen[2]![0];
    assert.ok(sub.type === 'subflow-established');
    assert.deepEqual([sub.subflow, sub.local.port], ['2', 40001]);
    const sf2 = c.seen[3]![1].connection('deadbeef')!.subflows.find((x) => x.key === '2')!;
    assert.deepEqual([sf2.rtoMs, sf2.deliveryRateBytesPerSec], [1600, 5000]);
    const closed = c.seen[8]![0];
    assert.ok(closed.type === 'subflow-closed');
    assert.equal(closed.reason, 'error', "core 'protocol' maps to error");
    assert.equal(closed.resetReason, 4);
    assert.equal(closed.local.port, 40001, 'endpoints remembered after the subflow left the list');
    d.stop();
  });

  test('executes commands on the socket; refusals come back as command-failed', async () => {
    let step = 0;
    const c = scripted((ev) => {
      if (ev.type === 'connection-established' && step++ === 0)
        return [
          {
            type: 'create-subflow',
            connection: ev.connection,
            localAddress: '127.0.0.3',
            remoteAddress: '127.0.0.2',
            remotePort: 80,
            backup: true,
          },
          { type: 'create-subflow', connection: ev.connection, remoteAddress: 'refuse', remotePort: 80 },
          { type: 'remove-subflow', connection: ev.connection, subflow: '1' },
          { type: 'set-backup', connection: ev.connection, subflow: '2', backup: true },
          { type: 'announce', connection: ev.connection, addressId: 5, address: '127.0.0.9', port: 99 },
          { type: 'withdraw', connection: ev.connection, addressId: 5 },
          { type: 'remove-subflow', connection: ev.connection, subflow: 'x' },
          { type: 'set-timer', connection: ev.connection, atMs: 0, timer: 't1' },
        ];
      return [];
    });
    const log: DriverLogEntry[] = [];
    const d = new UserspacePmDriver(c, {
      tickIntervalMs: 0,
      localAddresses: () => [],
      log: (e) => log.push(e),
    });
    const s = new FakeSocket();
    d.attach(s);
    s.subflows = [snap(1, 40000)];
    s.emit('mptcp', { type: 'established', localToken: 1, remoteToken: 2 });
    await flush();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(s.calls, [
      'open 127.0.0.3>127.0.0.2:80 backup',
      'open ->refuse:80',
      'close 1',
      'backup 2 true',
      'announce 5 127.0.0.9 99',
      'remove 5',
    ]);
    const failed = c.seen.filter(([e]) => e.type === 'command-failed').map(([e]) => e);
    assert.equal(failed.length, 2);
    assert.deepEqual(
      c.seen.filter(([e]) => e.type === 'tick').map(([e]) => (e as { timer?: string }).timer),
      ['t1'],
    );
    assert.equal(log.filter((e) => e.kind === 'error').length, 2);
    d.stop();
  });

  test('a server-side socket (no openSubflow) is server-side and refuses create-subflow', async () => {
    const c = scripted((ev) =>
      ev.type === 'connection-established'
        ? [{ type: 'create-subflow', connection: ev.connection, remoteAddress: '127.0.0.2', remotePort: 80 }]
        : [],
    );
    const d = new UserspacePmDriver(c, { tickIntervalMs: 0, localAddresses: () => [] });
    const s = new FakeSocket() as FakeSocket & { openSubflow?: unknown };
    Object.defineProperty(s, 'openSubflow', { value: undefined });
    d.attach(s as never);
    s.emit('mptcp', { type: 'established', localToken: 1, remoteToken: 2 });
    await flush();
    const est = c.seen[1]![0];
    assert.ok(est.type === 'connection-established' && est.serverSide);
    const failed = c.seen.find(([e]) => e.type === 'command-failed')?.[0];
    assert.ok(failed?.type === 'command-failed');
    assert.match(failed.error, /server side/);
    d.stop();
  });
});

describe('pm/userspace-driver on real userspace MPTCP sockets (loopback)', () => {
  test('ndiffports(3) opens two more subflows on the connection', async () => {
    const accepted: Array<{ destroy(): void }> = [];
    const server = createServer((s) => {
      accepted.push(s);
      s.on('error', () => undefined);
      s.resume();
    });
    server.listen({ port: 0, host: '127.0.0.1' });
    await once(server, 'listening');
    const port = server.address()!.port;
    const events: PmEvent[] = [];
    const d = new UserspacePmDriver(ndiffports(3), {
      tickIntervalMs: 0,
      localAddresses: () => [{ address: '127.0.0.1', family: 4 }],
      log: (e) => {
        if (e.kind === 'event') events.push(e.event);
      },
    });
    const client = connect({ host: '127.0.0.1', port, reconnect: false });
    d.attach(client);
    try {
      await once(client, 'connect');
      const deadline = Date.now() + 5000;
      const established = () => client.subflows.filter((s) => s.state === 'established');
      while (established().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const up = established();
      assert.equal(up.length, 3, JSON.stringify(client.subflows));
      const reported = new Set(events.flatMap((e) => (e.type === 'subflow-established' ? [e.subflow] : [])));
      for (const s of up) if (!s.initial) assert.ok(reported.has(String(s.id)), `subflow ${s.id} reported`);
      assert.equal(new Set(up.map((s) => s.localPort)).size, 3, 'three source ports');
      const view = d.view().connections()[0]!;
      assert.equal(view.subflows.length, 3);
      assert.ok(view.subflows.every((s) => s.remote.port === port));
    } finally {
      d.stop();
      client.destroy();
      for (const s of accepted) s.destroy();
      server.close();
    }
  });
});
