import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { emitAttributes, parseAttributes } from '../../src/netlink/attributes.js';
import {
  decodeLimits,
  decodePmAddress,
  encodeLimits,
  encodePmAddress,
  endpointFlagNames,
  endpointFlags,
  MPTCP_PM_ATTR,
  PmAddressError,
} from '../../src/netlink/mptcp-pm.js';
import { decodePmEvent, formatPmEvent } from '../../src/netlink/mptcp-pm-events.js';
import { cat, hex } from './hex.js';

describe('netlink/mptcp-pm address codec', () => {
  test('IPv4 endpoint: family, addr4, id, port (u16 host order), flags, if_idx', () => {
    const bytes = emitAttributes([
      encodePmAddress({ addr: '10.0.0.1', id: 5, port: 8080, flags: 6, ifindex: 3 }),
    ]);
    assert.deepEqual(
      bytes,
      hex(
        '34 00 01 80' +
          ' 06 00 01 00 02 00 00 00' + // FAMILY AF_INET
          ' 08 00 03 00 0a 00 00 01' + // ADDR4
          ' 05 00 02 00 05 00 00 00' + // ID
          ' 06 00 05 00 90 1f 00 00' + // PORT 8080
          ' 08 00 06 00 06 00 00 00' + // FLAGS subflow|backup
          ' 08 00 07 00 03 00 00 00', // IF_IDX
      ),
    );
    assert.deepEqual(decodePmAddress(parseAttributes(bytes).attrs[0]), {
      family: 4,
      addr: '10.0.0.1',
      id: 5,
      port: 8080,
      flags: 6,
      ifindex: 3,
    });
  });

  test('IPv6 remote address with attribute type ADDR_REMOTE', () => {
    const bytes = emitAttributes([
      encodePmAddress({ addr: 'fd00::2', port: 443 }, MPTCP_PM_ATTR.ADDR_REMOTE),
    ]);
    assert.deepEqual(
      bytes.subarray(0, 12),
      hex('28 00 06 80 06 00 01 00 0a 00 00 00'), // nested type 6 (40 bytes), FAMILY AF_INET6
    );
    assert.deepEqual(
      bytes.subarray(12, 32),
      hex('14 00 04 00 fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02'),
    );
    const a = decodePmAddress(parseAttributes(bytes).attrs[0]);
    assert.deepEqual(a, { family: 6, addr: 'fd00::2', port: 443, flags: 0 });
  });

  test('bad input is a PmAddressError; malformed attributes decode to undefined', () => {
    assert.throws(() => encodePmAddress({ addr: '10.0.0' }), PmAddressError);
    assert.throws(() => encodePmAddress({ addr: '10.0.0.1', id: 256 }), PmAddressError);
    assert.throws(() => encodePmAddress({ addr: '10.0.0.1', port: -1 }), PmAddressError);
    const noAddr = parseAttributes(hex('0c 00 01 80 06 00 01 00 02 00 00 00')).attrs[0];
    assert.equal(decodePmAddress(noAddr), undefined);
    const shortAddr = parseAttributes(hex('12 00 01 80 06 00 01 00 02 00 00 00 06 00 03 00 0a 00 00 00'))
      .attrs[0];
    assert.equal(decodePmAddress(shortAddr), undefined);
  });

  test('flags: names ↔ bits, unknown bits kept as hex', () => {
    assert.equal(endpointFlags(['signal', 'subflow', 'backup', 'fullmesh']), 15);
    assert.deepEqual(endpointFlagNames(16 | 4), ['backup', 'implicit']);
    assert.deepEqual(endpointFlagNames(0x41), ['signal', '0x40']);
    assert.deepEqual(endpointFlagNames(0x80000000), ['0x80000000']);
  });

  test('limits: RCV_ADD_ADDRS 2 and SUBFLOWS 3 as u32', () => {
    const bytes = emitAttributes(encodeLimits({ subflows: 4, addAddrAccepted: 2 }));
    assert.deepEqual(bytes, hex('08 00 02 00 02 00 00 00 08 00 03 00 04 00 00 00'));
    assert.deepEqual(decodeLimits(parseAttributes(bytes).attrs), { subflows: 4, addAddrAccepted: 2 });
  });

  test('property: any address round-trips through encode/decode', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4(), fc.ipV6()),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 1, max: 65535 }),
        fc.nat(31),
        (addr, id, port, flags) => {
          const bytes = emitAttributes([encodePmAddress({ addr, id, port, flags })]);
          const back = decodePmAddress(parseAttributes(bytes).attrs[0]);
          assert.ok(back);
          assert.equal(back.id, id);
          assert.equal(back.port, port);
          assert.equal(back.flags, flags);
          assert.deepEqual(
            emitAttributes([encodePmAddress({ addr: back.addr, id, port, flags })]),
            bytes,
            `${addr} → ${back.addr}`,
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

// A MPTCP_EVENT_SUB_ESTABLISHED multicast payload (genl header + attributes), hand-built in the
// order the kernel's mptcp_event_sub_established fills it, plus an attribute type it does not know.
const subEstablished = cat(
  hex('0a 01 00 00'), // cmd 10, version 1
  hex('08 00 01 00 ef be ad de'), // TOKEN
  hex('06 00 02 00 02 00 00 00'), // FAMILY AF_INET
  hex('08 00 05 00 0a 00 01 01'), // SADDR4 10.0.1.1
  hex('08 00 07 00 0a 00 00 02'), // DADDR4 10.0.0.2
  hex('06 00 09 00 9c 40 00 00'), // SPORT 40000 (be16)
  hex('06 00 0a 00 1f 90 00 00'), // DPORT 8080 (be16)
  hex('05 00 03 00 01 00 00 00'), // LOC_ID 1
  hex('05 00 04 00 00 00 00 00'), // REM_ID 0
  hex('05 00 0b 00 01 00 00 00'), // BACKUP 1
  hex('08 00 0f 00 03 00 00 00'), // IF_IDX 3
  hex('08 00 63 00 01 02 03 04'), // unknown type 99
);

describe('netlink/mptcp-pm events', () => {
  test('sub_established from bytes', () => {
    assert.deepEqual(decodePmEvent(subEstablished), {
      type: 'sub_established',
      token: 0xdeadbeef,
      family: 4,
      localId: 1,
      remoteId: 0,
      saddr: '10.0.1.1',
      daddr: '10.0.0.2',
      sport: 40000,
      dport: 8080,
      backup: true,
      ifindex: 3,
    });
    assert.equal(
      formatPmEvent(decodePmEvent(subEstablished)!),
      '[  SF_ESTABLISHED] token=deadbeef remid=0 locid=1 saddr4=10.0.1.1 daddr4=10.0.0.2 sport=40000 dport=8080 backup=1 ifindex=3',
    );
  });

  test('created (IPv6, server side) and closed', () => {
    const created = cat(
      hex('01 01 00 00'),
      hex('08 00 01 00 01 00 00 00'),
      hex('06 00 02 00 0a 00 00 00'),
      hex('14 00 06 00 fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01'),
      hex('14 00 08 00 fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02'),
      hex('06 00 09 00 00 50 00 00'),
      hex('06 00 0a 00 c3 50 00 00'),
      hex('05 00 12 00 01 00 00 00'),
    );
    assert.deepEqual(decodePmEvent(created), {
      type: 'created',
      token: 1,
      family: 6,
      saddr: 'fd00::1',
      daddr: 'fd00::2',
      sport: 80,
      dport: 50000,
      serverSide: true,
      flags: 0,
    });
    assert.deepEqual(decodePmEvent(cat(hex('03 01 00 00 08 00 01 00 2a 00 00 00'))), {
      type: 'closed',
      token: 42,
    });
  });

  test('sub_closed with error and reset reason; announced; removed; listener', () => {
    const subClosed = cat(
      subEstablished.subarray(0, 4).map((b, i) => (i === 0 ? 11 : b)),
      subEstablished.subarray(4, subEstablished.length - 8),
      hex('05 00 0c 00 68 00 00 00'), // ERROR 104
      hex('08 00 10 00 01 00 00 00'), // RESET_REASON 1
      hex('08 00 11 00 00 00 00 00'), // RESET_FLAGS 0
    );
    const ev = decodePmEvent(subClosed);
    assert.equal(ev?.type, 'sub_closed');
    assert.ok(ev?.type === 'sub_closed');
    assert.equal(ev.error, 104);
    assert.equal(ev.resetReason, 1);
    assert.equal(ev.resetFlags, 0);
    const announced = cat(
      hex('06 01 00 00 08 00 01 00 07 00 00 00 05 00 04 00 03 00 00 00'),
      hex('06 00 02 00 02 00 00 00 08 00 07 00 c0 a8 01 02 06 00 0a 00 1f 90 00 00'),
    );
    assert.deepEqual(decodePmEvent(announced), {
      type: 'announced',
      token: 7,
      remoteId: 3,
      family: 4,
      daddr: '192.168.1.2',
      dport: 8080,
    });
    assert.deepEqual(decodePmEvent(hex('07 01 00 00 08 00 01 00 07 00 00 00 05 00 04 00 03 00 00 00')), {
      type: 'removed',
      token: 7,
      remoteId: 3,
    });
    const listener = hex(
      '0f 01 00 00 06 00 02 00 02 00 00 00 06 00 09 00 1f 90 00 00 08 00 05 00 7f 00 00 01',
    );
    assert.deepEqual(decodePmEvent(listener), {
      type: 'listener_created',
      family: 4,
      saddr: '127.0.0.1',
      sport: 8080,
    });
  });

  test('unknown event commands are kept; garbage never throws', () => {
    const ev = decodePmEvent(hex('63 01 00 00 05 00 01 00 01 00 00 00'));
    assert.equal(ev?.type, 'unknown');
    assert.equal(decodePmEvent(hex('01')), undefined);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (buf) => {
        const e = decodePmEvent(buf);
        if (e) formatPmEvent(e);
      }),
      { numRuns: 2000 },
    );
  });
});
