import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InetDiagSocket, TcpInfo } from '../../src/netlink/inet-diag.js';
import type { KernelPmEvent } from '../../src/netlink/mptcp-pm-events.js';
import {
  connectionIdFromToken,
  mapKernelEvent,
  parseSubflowKey,
  subflowKey,
  tokenFromConnectionId,
} from '../../src/pm/kernel-events.js';
import { KernelPmState } from '../../src/pm/kernel-state.js';
import { formatLogEntry, logEntryJson } from '../../src/pm/log-format.js';
import { reasonFromErrno } from '../../src/pm/reasons.js';

type SubClosed = Extract<KernelPmEvent, { type: 'sub_closed' }>;
const sub = (extra: Partial<SubClosed> = {}): SubClosed => ({
  type: 'sub_closed',
  token: 0x0102abcd,
  family: 4,
  localId: 2,
  remoteId: 0,
  saddr: '10.0.2.1',
  daddr: '10.0.1.2',
  sport: 40001,
  dport: 80,
  backup: false,
  ifindex: 0,
  ...extra,
});

describe('pm/kernel-events', () => {
  test('ids: token ↔ 8 hex digits; subflow keys round-trip, IPv6 bracketed', () => {
    assert.equal(connectionIdFromToken(0x0102abcd), '0102abcd');
    assert.equal(tokenFromConnectionId('0102abcd'), 0x0102abcd);
    assert.equal(tokenFromConnectionId('xyz'), undefined);
    const k6 = subflowKey({ address: 'fd00::1', port: 1 }, { address: 'fd00::2', port: 80 });
    assert.equal(k6, '[fd00::1]:1>[fd00::2]:80');
    assert.deepEqual(parseSubflowKey(k6), {
      local: { address: 'fd00::1', port: 1 },
      remote: { address: 'fd00::2', port: 80 },
    });
    assert.deepEqual(parseSubflowKey('10.0.0.1:5>10.0.0.2:6')?.remote, { address: '10.0.0.2', port: 6 });
    assert.equal(parseSubflowKey('7'), undefined);
    assert.equal(parseSubflowKey('10.0.0.1:99999>10.0.0.2:6'), undefined);
  });

  test('maps every kernel event type', () => {
    const conn = {
      token: 1,
      family: 4 as const,
      saddr: '10.0.1.1',
      daddr: '10.0.1.2',
      sport: 40000,
      dport: 80,
      serverSide: true,
      flags: 0,
    };
    assert.deepEqual(mapKernelEvent({ type: 'created', ...conn }, 5), {
      type: 'connection-created',
      connection: '00000001',
      timeMs: 5,
      local: { address: '10.0.1.1', port: 40000 },
      remote: { address: '10.0.1.2', port: 80 },
      serverSide: true,
    });
    assert.equal(mapKernelEvent({ type: 'established', ...conn }, 0)?.type, 'connection-established');
    assert.deepEqual(mapKernelEvent({ type: 'closed', token: 1 }, 0), {
      type: 'connection-closed',
      connection: '00000001',
      timeMs: 0,
    });
    assert.deepEqual(
      mapKernelEvent(
        { type: 'announced', token: 1, remoteId: 3, family: 4, daddr: '10.0.3.2', dport: 81 },
        0,
      ),
      {
        type: 'add-addr',
        connection: '00000001',
        timeMs: 0,
        addressId: 3,
        address: '10.0.3.2',
        port: 81,
      },
    );
    assert.deepEqual(mapKernelEvent({ type: 'removed', token: 1, remoteId: 3 }, 0), {
      type: 'rem-addr',
      connection: '00000001',
      timeMs: 0,
      addressId: 3,
    });
    const up = mapKernelEvent({ ...sub(), type: 'sub_established', backup: true }, 0);
    assert.ok(up?.type === 'subflow-established');
    assert.equal(up.subflow, '10.0.2.1:40001>10.0.1.2:80');
    assert.equal(up.backup, true);
    assert.equal(mapKernelEvent({ ...sub(), type: 'sub_priority' }, 0)?.type, 'subflow-priority');
    assert.equal(
      mapKernelEvent({ type: 'listener_created', family: 4, saddr: '0.0.0.0', sport: 1 }, 0),
      undefined,
    );
    assert.equal(mapKernelEvent({ type: 'unknown', cmd: 99, attrs: [] }, 0), undefined);
  });

  test('sub_closed reason from errno, reset reason alone means reset', () => {
    const reason = (e: KernelPmEvent) => {
      const m = mapKernelEvent(e, 0);
      assert.ok(m?.type === 'subflow-closed');
      return [m.reason, m.errno, m.resetReason];
    };
    assert.deepEqual(reason(sub()), ['closed', undefined, undefined]);
    assert.deepEqual(reason(sub({ error: 104 })), ['reset', 104, undefined]);
    assert.deepEqual(reason(sub({ error: 110 })), ['timeout', 110, undefined]);
    assert.deepEqual(reason(sub({ error: 111 })), ['refused', 111, undefined]);
    assert.deepEqual(reason(sub({ error: 113 })), ['unreachable', 113, undefined]);
    assert.deepEqual(reason(sub({ error: 5 })), ['error', 5, undefined]);
    assert.deepEqual(reason(sub({ resetReason: 0 })), ['closed', undefined, 0]);
    assert.deepEqual(reason(sub({ resetReason: 3 })), ['reset', undefined, 3]);
    assert.equal(reasonFromErrno(101), 'unreachable');
  });
});

const tcpInfo = (rtoUs: number, backoff: number): TcpInfo =>
  ({ rtoUs, backoff, rttUs: 5000, deliveryRate: 125_000, bytesAcked: 4242, bytesSent: 5000 }) as TcpInfo;

function diagSock(
  saddr: string,
  sport: number,
  daddr: string,
  dport: number,
  token: number,
  info?: TcpInfo,
): InetDiagSocket {
  const s = {
    family: 4,
    state: 1,
    stateName: 'ESTABLISHED',
    saddr,
    sport,
    daddr,
    dport,
    ifindex: 0,
    cookie: 0n,
    uid: 0,
    inode: 0,
    rqueue: 0,
    wqueue: 0,
    ulp: 'mptcp',
    mptcpSubflow: { tokenLocal: token },
  } as InetDiagSocket;
  if (info) s.tcpInfo = info;
  return s;
}

describe('pm/kernel-state', () => {
  test('follows events and merges sock_diag; backoff growth becomes subflow-timeout', () => {
    const st = new KernelPmState();
    const id = '0000abcd';
    const local = { address: '10.0.1.1', port: 40000 };
    const remote = { address: '10.0.1.2', port: 80 };
    st.apply({ type: 'connection-created', connection: id, timeMs: 0, local, remote, serverSide: false });
    assert.equal(st.connectionView(id)?.established, false);
    st.apply({ type: 'connection-established', connection: id, timeMs: 1, local, remote, serverSide: false });
    st.apply({ type: 'add-addr', connection: id, timeMs: 1, addressId: 2, address: '10.0.2.2' });
    const initial = subflowKey(local, remote);
    const tcp = [
      diagSock('10.0.1.1', 40000, '10.0.1.2', 80, 0xabcd, tcpInfo(204_000, 0)),
      diagSock('10.0.2.1', 40001, '10.0.1.2', 80, 0xabcd, tcpInfo(204_000, 0)), // not announced by an event
      diagSock('10.0.9.1', 1, '10.0.9.2', 2, 0x9999, tcpInfo(1, 0)), // another connection
    ];
    const mptcp = [
      {
        ...diagSock('10.0.1.1', 40000, '10.0.1.2', 80, 0),
        mptcpInfo: { token: 0xabcd, bytesAcked: 777 },
      } as InetDiagSocket,
    ];
    assert.deepEqual(st.applyDiag(tcp, mptcp, 10), []);
    let v = st.connectionView(id)!;
    assert.equal(v.bytesAcked, 777);
    assert.deepEqual(v.remoteAddresses, [{ addressId: 2, address: '10.0.2.2' }]);
    assert.deepEqual(
      v.subflows.map((s) => [s.key, s.rtoMs, s.srttMs, s.deliveryRateBytesPerSec, s.bytesAcked]),
      [
        [initial, 204, 5, 125_000, 4242],
        ['10.0.2.1:40001>10.0.1.2:80', 204, 5, 125_000, 4242],
      ],
    );
    tcp[0] = diagSock('10.0.1.1', 40000, '10.0.1.2', 80, 0xabcd, tcpInfo(816_000, 2));
    assert.deepEqual(st.applyDiag(tcp, mptcp, 20), [
      { type: 'subflow-timeout', connection: id, timeMs: 20, subflow: initial, rtoMs: 816 },
    ]);
    assert.deepEqual(st.applyDiag(tcp, mptcp, 30), [], 'same backoff: no new event');
    st.apply({
      type: 'subflow-closed',
      connection: id,
      timeMs: 40,
      subflow: initial,
      local,
      remote,
      reason: 'closed',
    });
    v = st.connectionView(id)!;
    assert.deepEqual(
      v.subflows.map((s) => s.key),
      ['10.0.2.1:40001>10.0.1.2:80'],
    );
    // Local ids: the initial address is 0, others get one id each; ANNOUNCE binds the chosen id.
    assert.equal(st.localId(id, '10.0.1.1'), 0);
    assert.equal(st.localId(id, '10.0.2.1'), 1);
    assert.equal(st.localId(id, '10.0.2.1'), 1);
    st.bindLocalId(id, '10.0.5.1', 7);
    assert.equal(st.localId(id, '10.0.5.1'), 7);
    assert.equal(st.localId(id, '10.0.6.1'), 8);
    st.apply({ type: 'connection-closed', connection: id, timeMs: 50 });
    assert.equal(st.connectionView(id), undefined);
    assert.equal(st.localId(id, '10.0.6.1'), undefined);
  });

  test('views: built on first access, cached for the view, no bookkeeping fields; hasConnections', () => {
    const st = new KernelPmState();
    assert.equal(st.hasConnections(), false);
    const local = { address: '10.0.1.1', port: 40000 };
    const remote = { address: '10.0.1.2', port: 80 };
    for (const id of ['00000001', '00000002'])
      st.apply({
        type: 'connection-established',
        connection: id,
        timeMs: 0,
        local,
        remote,
        serverSide: false,
      });
    assert.equal(st.hasConnections(), true);
    const view = st.view(5, [{ address: '10.0.1.1', family: 4 }]);
    assert.equal(view.nowMs, 5);
    assert.deepEqual(view.localAddresses(), [{ address: '10.0.1.1', family: 4 }]);
    const one = view.connection('00000001')!;
    assert.equal(view.connection('00000001'), one, 'the same object within one view');
    assert.equal(view.connection('ffffffff'), undefined);
    assert.deepEqual(
      view.connections().map((c) => c.id),
      ['00000001', '00000002'],
    );
    assert.equal(view.connections()[0], one);
    assert.deepEqual(one.subflows, [
      { key: subflowKey(local, remote), local, remote, backup: false, established: true },
    ]);
    assert.equal('backoff' in one.subflows[0]!, false);
    // A view is a copy: changing the state afterwards does not change a view already built.
    st.apply({ type: 'connection-closed', connection: '00000001', timeMs: 6 });
    assert.equal(one.id, '00000001');
    assert.equal(st.view(7, []).connection('00000001'), undefined);
  });

  test('log lines: text and JSON', () => {
    const e = {
      kind: 'event' as const,
      timeMs: 12.34,
      event: {
        type: 'subflow-established' as const,
        connection: '0000abcd',
        timeMs: 12.34,
        subflow: 'k',
        local: { address: '10.0.1.1', port: 1 },
        remote: { address: '10.0.1.2', port: 80 },
        backup: false,
      },
    };
    assert.equal(
      formatLogEntry(e),
      '     12.3ms event   subflow-established 0000abcd subflow=k local=10.0.1.1:1 remote=10.0.1.2:80 backup=false',
    );
    assert.deepEqual(JSON.parse(logEntryJson(e)), e);
    assert.match(
      formatLogEntry({
        kind: 'error',
        timeMs: 1,
        message: 'EINVAL',
        command: { type: 'withdraw', connection: 'c', addressId: 1 },
      }),
      /error {3}EINVAL \(withdraw c\)$/,
    );
  });
});
