/**
 * Controller reflexes: each built-in reflex agrees with what handle() opens on
 * connection-established (property), and the kernel driver's ReflexCache caches, encodes and
 * stamps as its contract says.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type PreparedRequest, prepareSubflowCreate } from '../../src/netlink/mptcp-pm-client.js';
import { emitPmEvent, peekEstablished } from '../../src/netlink/mptcp-pm-events.js';
import { createCommands } from '../../src/pm/controllers/common.js';
import { fullmesh } from '../../src/pm/controllers/fullmesh.js';
import { ndiffports } from '../../src/pm/controllers/ndiffports.js';
import { refreshSlowest } from '../../src/pm/controllers/refresh-slowest.js';
import { connectionIdFromToken } from '../../src/pm/kernel-events.js';
import { ReflexCache, type SubflowCreateEncoder } from '../../src/pm/kernel-reflex.js';
import { KernelPmState } from '../../src/pm/kernel-state.js';
import type { Controller, LocalAddress, PmCommand } from '../../src/pm/types.js';

const POOL: LocalAddress[] = [
  { address: '10.0.1.1', family: 4 },
  { address: '10.0.2.1', family: 4 },
  { address: '10.0.3.1', family: 4 },
  { address: 'fd00::1', family: 6 },
];
const FACTORIES: Array<[string, () => Controller]> = [
  ['fullmesh', () => fullmesh()],
  ['ndiffports:3', () => ndiffports(3)],
  ['refresh-slowest:subflows=3', () => refreshSlowest({ subflows: 3 })],
];
/** Commands as JSON sees them (absent and undefined fields alike). */
const plain = (cmds: readonly PmCommand[]) => JSON.parse(JSON.stringify(cmds));

describe('pm reflexes', () => {
  for (const [name, make] of FACTORIES) {
    test(`property: ${name}'s reflex is what handle() opens on connection-established`, () => {
      fc.assert(
        fc.property(
          fc.subarray(POOL),
          fc.constantFrom('10.0.1.1', '10.0.2.1', '10.0.9.1'),
          fc.constantFrom('10.9.0.2', '10.0.1.2'),
          fc.integer({ min: 1, max: 65535 }),
          fc.integer({ min: 1, max: 0xffff_ffff }),
          (locals, local, remote, port, token) => {
            const c = make();
            const id = connectionIdFromToken(token);
            const reflex = c.establishedReflex!(
              { localAddress: local, remote: { address: remote, port } },
              locals,
            );
            const state = new KernelPmState();
            const base = { connection: id, timeMs: 1, serverSide: false };
            const ends = { local: { address: local, port: 40000 }, remote: { address: remote, port } };
            state.apply({ type: 'connection-created', ...base, ...ends });
            c.handle({ type: 'connection-created', ...base, ...ends }, state.view(1, locals));
            state.apply({ type: 'connection-established', ...base, ...ends });
            const cmds = c.handle(
              { type: 'connection-established', ...base, ...ends },
              state.view(1, locals),
            );
            const opened = cmds.filter((x) => x.type === 'create-subflow');
            assert.deepEqual(plain(createCommands(id, reflex)), plain(opened));
          },
        ),
        { numRuns: 200 },
      );
    });
  }
});

/** An encoder that records its calls; its messages are long enough to carry the token field. */
function recordingEncoder(): SubflowCreateEncoder & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    prepareSubflowCreate(token, local, remote): PreparedRequest {
      calls.push(`${local.addr}#${local.id}>${remote.addr}:${remote.port}`);
      const message = new Uint8Array(64);
      new DataView(message.buffer).setUint32(24, token, true);
      message[40] = local.id;
      return { message, operation: 'MPTCP_PM_CMD_SUBFLOW_CREATE' };
    },
  };
}

function established(token: number, saddr: string, daddr: string, dport: number, serverSide = false) {
  return emitPmEvent({
    type: 'established',
    token,
    family: 4,
    saddr,
    daddr,
    sport: 40000,
    dport,
    serverSide,
    flags: 0,
  });
}

describe('pm/kernel-reflex ReflexCache', () => {
  const locals = POOL.slice(0, 3);

  test('asks the reflex once per endpoint pair until clear(); fresh ids; stamps each token', () => {
    let asked = 0;
    const inner = fullmesh();
    const controller: Controller = {
      name: 'counting',
      handle: inner.handle,
      establishedReflex: (conn, l) => {
        asked++;
        return inner.establishedReflex!(conn, l);
      },
    };
    const encoder = recordingEncoder();
    const errors: string[] = [];
    const cache = new ReflexCache(controller, encoder, new KernelPmState(), (m) => errors.push(m));
    const a = cache.templates4(peekEstablished(established(7, '10.0.1.1', '10.9.0.2', 80))!, locals);
    assert.deepEqual(
      a.map((t) => [t.local, t.id]),
      [
        ['10.0.2.1', 1],
        ['10.0.3.1', 2],
      ],
    );
    const b = cache.templates4(peekEstablished(established(8, '10.0.1.1', '10.9.0.2', 80))!, locals);
    assert.equal(b, a, 'same endpoints: the cached templates');
    assert.equal(asked, 1);
    // The general path: its own copies, stamped with the token; ids reserved in the state.
    const creates = cache.requestsFor(established(0xdead_beef, '10.0.1.1', '10.9.0.2', 80), locals);
    assert.equal(creates.length, 2);
    for (const c of creates)
      assert.equal(new DataView(c.request.message.buffer).getUint32(24, true), 0xdead_beef);
    assert.equal(asked, 1);
    cache.templates4(peekEstablished(established(9, '10.0.2.1', '10.9.0.2', 80))!, locals);
    assert.equal(asked, 2, 'another local address is another answer');
    cache.clear();
    cache.templates4(peekEstablished(established(7, '10.0.1.1', '10.9.0.2', 80))!, locals);
    assert.equal(asked, 3, 'clear() forgets the answers');
    assert.deepEqual(errors, []);
  });

  test('server side, IPv6 through the decoder, a throwing reflex, no reflex', () => {
    const encoder = recordingEncoder();
    const errors: string[] = [];
    const cache = new ReflexCache(fullmesh(), encoder, new KernelPmState(), (m) => errors.push(m));
    assert.deepEqual(cache.requestsFor(established(1, '10.0.1.1', '10.9.0.2', 80, true), locals), []);
    const v6 = emitPmEvent({
      type: 'established',
      token: 2,
      family: 6,
      saddr: 'fd00::1',
      daddr: 'fd00::2',
      sport: 1,
      dport: 443,
      serverSide: false,
      flags: 0,
    });
    assert.equal(peekEstablished(v6), undefined);
    const six = cache.requestsFor(v6, [...POOL, { address: 'fd00::9', family: 6 }]);
    assert.deepEqual(
      six.map((c) => c.cmd.type === 'create-subflow' && c.cmd.localAddress),
      ['fd00::9'],
    );
    const throwing = new ReflexCache(
      {
        name: 'bad',
        handle: () => [],
        establishedReflex: () => {
          throw new Error('boom');
        },
      },
      encoder,
      new KernelPmState(),
      (m) => errors.push(m),
    );
    assert.deepEqual(throwing.requestsFor(established(3, '10.0.1.1', '10.9.0.2', 80), locals), []);
    assert.match(errors.join('\n'), /bad reflex threw: boom/);
    const none = new ReflexCache({ name: 'none', handle: () => [] }, encoder, new KernelPmState(), () => {});
    assert.deepEqual(none.requestsFor(established(4, '10.0.1.1', '10.9.0.2', 80), locals), []);
  });
});

describe('pm/kernel-state reserveLocalId', () => {
  test('ids reserved before the connection is known are kept when it is added; closing forgets them', () => {
    const s = new KernelPmState();
    const id = connectionIdFromToken(0x1234);
    assert.equal(s.reserveLocalId(id, '10.0.1.1', '10.0.1.1'), 0);
    assert.equal(s.reserveLocalId(id, '10.0.1.1', '10.0.2.1'), 1);
    assert.equal(s.reserveLocalId(id, '10.0.1.1', '10.0.3.1'), 2);
    assert.equal(s.reserveLocalId(id, '10.0.1.1', '10.0.2.1'), 1);
    const ends = { local: { address: '10.0.1.1', port: 4000 }, remote: { address: '10.9.0.2', port: 80 } };
    s.apply({ type: 'connection-created', connection: id, timeMs: 1, serverSide: false, ...ends });
    assert.equal(s.localId(id, '10.0.3.1'), 2);
    assert.equal(s.localId(id, '10.0.4.1'), 3, 'new ids continue after the reserved ones');
    s.apply({ type: 'connection-closed', connection: id, timeMs: 2 });
    assert.equal(s.reserveLocalId(id, '10.0.1.1', '10.0.4.1'), 1, 'a fresh start after close');
  });
});

describe('pm/kernel-reflex wildcard4 (the native thread’s remote-independent entries)', () => {
  const realEncoder: SubflowCreateEncoder = {
    prepareSubflowCreate: (token, local, remote) => prepareSubflowCreate(0x1c, token, local, remote),
  };
  const locals = POOL.slice(0, 3);

  test('property: the wildcard templates, patched with any IPv4 remote, are the exact templates for it', () => {
    for (const [name, make] of FACTORIES) {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 2 }),
          fc.ipV4(),
          fc.integer({ min: 1, max: 65535 }),
          (li, remote, port) => {
            const controller = make();
            const cache = new ReflexCache(controller, realEncoder, new KernelPmState(), (m) => {
              throw new Error(m);
            });
            const local = locals[li]!.address;
            const w = cache.wildcard4(local, locals);
            const exact = cache.templates4(peekEstablished(established(9, local, remote, port))!, locals);
            if (!w) {
              // Only a reflex that opens nothing (or depends on the remote) has none.
              assert.equal(exact.length, 0, `${name}: no wildcard, yet ${exact.length} subflows`);
              return;
            }
            assert.equal(w.templates.length, exact.length, name);
            w.templates.forEach((t, i) => {
              const m = Buffer.from(t.request.message);
              const p = w.patches[i]!;
              Buffer.from(remote.split('.').map(Number)).copy(m, p.daddrOffset);
              if (p.portBigEndian) m.writeUInt16BE(port, p.portOffset);
              else m.writeUInt16LE(port, p.portOffset);
              const e = Buffer.from(exact[i]!.request.message);
              e.writeUInt32LE(0, 24); // the token: stamped per connection by both paths
              m.writeUInt32LE(0, 24);
              assert.deepEqual(m, e, `${name} ${local} → ${remote}:${port} #${i}`);
              assert.equal(t.id, exact[i]!.id);
              assert.equal(t.local, exact[i]!.local);
            });
          },
        ),
        { numRuns: 60 },
      );
    }
  });

  test('a reflex whose answer depends on the remote has no wildcard', () => {
    const picky: Controller = {
      name: 'picky',
      handle: () => [],
      establishedReflex: (conn) =>
        conn.remote.port === 0x1234
          ? []
          : [{ remoteAddress: conn.remote.address, remotePort: conn.remote.port }],
    };
    const elsewhere: Controller = {
      name: 'elsewhere',
      handle: () => [],
      establishedReflex: () => [{ remoteAddress: '10.9.9.9', remotePort: 443 }],
    };
    for (const c of [picky, elsewhere]) {
      const cache = new ReflexCache(c, realEncoder, new KernelPmState(), () => {});
      assert.equal(cache.wildcard4('10.0.1.1', locals), undefined, c.name);
    }
  });
});
