import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PmAddressError } from '../../src/netlink/mptcp-pm.js';
import fc from 'fast-check';
import {
  decodePmEvent,
  emitPmEvent,
  ipv4Text,
  type KernelPmEvent,
  MPTCP_ATTR,
  MPTCP_EVENT,
  peekEstablished,
  warmUpEvents,
} from '../../src/netlink/mptcp-pm-events.js';

const more: KernelPmEvent[] = [
  {
    type: 'established',
    token: 0xffff_ffff,
    family: 6,
    saddr: '2001:db8::1',
    daddr: '2001:db8::2',
    sport: 1,
    dport: 65535,
    serverSide: true,
    flags: 3,
  },
  { type: 'announced', token: 7, remoteId: 3, family: 4, daddr: '192.0.2.9', dport: 8080 },
  { type: 'announced', token: 7, remoteId: 4, family: 6, daddr: '2001:db8::9' },
  { type: 'removed', token: 7, remoteId: 3 },
  {
    type: 'sub_closed',
    token: 0x8000_0001,
    family: 4,
    localId: 1,
    remoteId: 2,
    saddr: '192.0.2.1',
    daddr: '192.0.2.2',
    sport: 3,
    dport: 4,
    backup: true,
    ifindex: 5,
    error: 104,
    resetReason: 1,
    resetFlags: 0,
  },
  {
    type: 'sub_priority',
    token: 9,
    family: 4,
    localId: 0,
    remoteId: 0,
    saddr: '192.0.2.1',
    daddr: '192.0.2.2',
    sport: 3,
    dport: 4,
    backup: true,
    ifindex: 0,
  },
  { type: 'listener_created', family: 4, saddr: '192.0.2.1', sport: 5000 },
  { type: 'listener_closed', family: 6, saddr: '2001:db8::1', sport: 5000 },
];

describe('netlink/mptcp-pm-events emitPmEvent', () => {
  test('decodePmEvent(emitPmEvent(ev)) gives ev back, for every kind and both families', () => {
    const all = [...warmUpEvents(), ...more];
    assert.ok(all.length >= 80);
    for (const ev of all) assert.deepEqual(decodePmEvent(emitPmEvent(ev)), ev, ev.type);
  });

  test('created/established carry the attributes the kernel sends, server side only when set', () => {
    const base = {
      token: 0x0102_0304,
      family: 4 as const,
      saddr: '10.0.0.1',
      daddr: '10.0.0.2',
      sport: 1000,
      dport: 80,
      flags: 0,
    };
    const client = emitPmEvent({ type: 'created', ...base, serverSide: false });
    assert.equal(client[0], MPTCP_EVENT.CREATED);
    const types = (p: Uint8Array) => {
      const out: number[] = [];
      for (let pos = 4; pos + 4 <= p.length; pos += (p[pos]! + 3) & ~3) out.push(p[pos + 2]!);
      return out;
    };
    assert.deepEqual(types(client), [
      MPTCP_ATTR.TOKEN,
      MPTCP_ATTR.FAMILY,
      MPTCP_ATTR.SADDR4,
      MPTCP_ATTR.DADDR4,
      MPTCP_ATTR.SPORT,
      MPTCP_ATTR.DPORT,
    ]);
    const server = emitPmEvent({ type: 'established', ...base, serverSide: true });
    assert.deepEqual(types(server).slice(0, 2), [MPTCP_ATTR.TOKEN, MPTCP_ATTR.SERVER_SIDE]);
  });

  test('an address of the wrong family is a PmAddressError', () => {
    assert.throws(
      () => emitPmEvent({ type: 'announced', token: 1, remoteId: 1, family: 4, daddr: '2001:db8::1' }),
      PmAddressError,
    );
  });
});

describe('netlink/mptcp-pm-events peekEstablished', () => {
  const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
  test('property: agrees with decodePmEvent on IPv4 established events, reads nothing else', () => {
    fc.assert(
      fc.property(
        fc.record({
          token: fc.nat(0xffff_ffff),
          saddr: ipv4,
          daddr: ipv4,
          sport: fc.nat(65535),
          dport: fc.nat(65535),
          serverSide: fc.boolean(),
          flags: fc.nat(255),
        }),
        (f) => {
          const payload = emitPmEvent({ type: 'established', family: 4, ...f });
          const peek = peekEstablished(payload);
          assert.ok(peek);
          const ev = decodePmEvent(payload);
          assert.ok(ev?.type === 'established');
          assert.equal(peek.token, ev.token);
          assert.equal(peek.serverSide, ev.serverSide);
          assert.equal(ipv4Text(peek.saddr4), ev.saddr);
          assert.equal(ipv4Text(peek.daddr4), ev.daddr);
          assert.equal(peek.dport, ev.dport);
          // The same event as `created` is not an established event.
          assert.equal(peekEstablished(emitPmEvent({ type: 'created', family: 4, ...f })), undefined);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('IPv6, truncated and missing-attribute events are left to the decoder', () => {
    assert.equal(peekEstablished(emitPmEvent(more[0]!)), undefined); // IPv6
    const v4 = emitPmEvent({
      type: 'established',
      token: 1,
      family: 4,
      saddr: '192.0.2.1',
      daddr: '192.0.2.2',
      sport: 1,
      dport: 2,
      serverSide: false,
      flags: 0,
    });
    assert.ok(peekEstablished(v4));
    assert.equal(peekEstablished(v4.subarray(0, 12)), undefined);
    assert.equal(peekEstablished(new Uint8Array(0)), undefined);
    // Token attribute removed (first attribute after the genl header: 8 bytes).
    const noToken = new Uint8Array(v4.length - 8);
    noToken.set(v4.subarray(0, 4));
    noToken.set(v4.subarray(12), 4);
    assert.equal(peekEstablished(noToken), undefined);
  });
});
