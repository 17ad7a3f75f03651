/**
 * A hand-made MPTCP v1 connection over IPv6 in a pcapng file with Linux cooked v1 framing: MP_CAPABLE,
 * an ADD_ADDR with a port, an MP_JOIN (backup, then MP_PRIO), REMOVE_ADDR, a 32-bit DSN mapping, a
 * mapping spanning two segments, DATA_FIN; then the same with one thing broken at a time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addAddrHmac, idsnOfKey, joinAckHmac, joinSynAckHmac, tokenOfKey } from '../../src/crypto/index.js';
import { decodeCapture } from '../../src/decode/index.js';
import { encodeTcpHeader, type MptcpOption, TcpFlag } from '../../src/wire/index.js';
import { concat, epb, idb, ipv6Tcp, shb, sll1 } from '../pcap/builders.js';

const KC = 0x0102030405060708n;
const KS = 0x1112131415161718n;
const NONCE_A = 0xaabbccdd;
const NONCE_B = 0x11223344;
const ISN_C = 1000;
const ISN_S = 5000;
const ISN_JC = 0xfffffff0; // wraps around 2^32 within the subflow
const ISN_JS = 77;
const DSN_C = idsnOfKey(KC) + 1n;
const DSN_S = idsnOfKey(KS) + 1n;

type Host = [string, number];
const C: Host = ['2001:db8::1', 40000];
const CJ: Host = ['2001:db8::1', 40001];
const S: Host = ['2001:db8::2', 80];
const S2: Host = ['2001:db8::3', 8080];

function v6(text: string): number[] {
  const last = Number.parseInt(text.split('::')[1]!, 16);
  return [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), last];
}

interface Seg {
  from: Host;
  to: Host;
  seq: number;
  flags: number;
  options?: MptcpOption[];
  payload?: number;
}

function capture(segs: Seg[]): Uint8Array {
  const blocks = [shb(true), idb(true, 113)];
  segs.forEach((s, i) => {
    const tcp = encodeTcpHeader({
      srcPort: s.from[1],
      dstPort: s.to[1],
      seq: s.seq >>> 0,
      flags: s.flags,
      options: (s.options ?? []).map((mptcp) => ({ kind: 30 as const, mptcp })),
    });
    const body = concat([tcp, new Uint8Array(s.payload ?? 0).fill(0x61)]);
    blocks.push(
      epb(
        true,
        0,
        BigInt(1_700_000_000_000_000 + i),
        sll1(0x86dd, ipv6Tcp(v6(s.from[0]), v6(s.to[0]), body)),
      ),
    );
  });
  return concat(blocks);
}

const SYN = TcpFlag.SYN;
const SYNACK = TcpFlag.SYN | TcpFlag.ACK;
const ACK = TcpFlag.ACK;

function dss(
  dsn: bigint,
  ssn: number,
  length: number,
  opts: { dsn64?: boolean; dataFin?: boolean } = {},
): MptcpOption {
  const dsn64 = opts.dsn64 ?? true;
  return {
    kind: 'dss',
    mapping: { dsn: dsn64 ? dsn : dsn & 0xffffffffn, dsn64, ssn, length },
    dataFin: opts.dataFin ?? false,
  };
}

function scenario(tweak: { secondPayload?: number; serverDsn?: bigint; ackHmacKey?: bigint } = {}): Seg[] {
  return [
    { from: C, to: S, seq: ISN_C, flags: SYN, options: [{ kind: 'mp_capable', version: 1, flags: 0x01 }] },
    {
      from: S,
      to: C,
      seq: ISN_S,
      flags: SYNACK,
      options: [{ kind: 'mp_capable', version: 1, flags: 0x01, senderKey: KS }],
    },
    {
      from: C,
      to: S,
      seq: ISN_C + 1,
      flags: ACK,
      options: [{ kind: 'mp_capable', version: 1, flags: 0x01, senderKey: KC, receiverKey: KS }],
    },
    {
      from: S,
      to: C,
      seq: ISN_S + 1,
      flags: ACK,
      options: [
        {
          kind: 'add_addr',
          echo: false,
          addressId: 2,
          family: 6,
          address: S2[0],
          port: S2[1],
          hmac: addAddrHmac(KS, KC, 2, S2[0], S2[1]),
        },
      ],
    },
    { from: C, to: S, seq: ISN_C + 1, flags: ACK, options: [dss(DSN_C, 1, 100)], payload: 100 },
    { from: C, to: S, seq: ISN_C + 101, flags: ACK, options: [dss(DSN_C + 100n, 101, 150)], payload: 100 },
    { from: C, to: S, seq: ISN_C + 201, flags: ACK, payload: tweak.secondPayload ?? 50 },
    {
      from: CJ,
      to: S2,
      seq: ISN_JC,
      flags: SYN,
      options: [
        { kind: 'mp_join', form: 'syn', backup: true, addressId: 1, token: tokenOfKey(KS), nonce: NONCE_A },
      ],
    },
    {
      from: S2,
      to: CJ,
      seq: ISN_JS,
      flags: SYNACK,
      options: [
        {
          kind: 'mp_join',
          form: 'synack',
          backup: false,
          addressId: 2,
          hmac: joinSynAckHmac(KS, KC, NONCE_B, NONCE_A),
          nonce: NONCE_B,
        },
      ],
    },
    {
      from: CJ,
      to: S2,
      seq: ISN_JC + 1,
      flags: ACK,
      options: [
        { kind: 'mp_join', form: 'ack', hmac: joinAckHmac(tweak.ackHmacKey ?? KC, KS, NONCE_A, NONCE_B) },
      ],
    },
    { from: CJ, to: S2, seq: ISN_JC + 1, flags: ACK, options: [{ kind: 'mp_prio', backup: false }] },
    {
      from: S2,
      to: CJ,
      seq: ISN_JS + 1,
      flags: ACK,
      options: [dss(tweak.serverDsn ?? DSN_S, 1, 10, { dsn64: false })],
      payload: 10,
    },
    // 20 bytes across the client's subflow ISN wrap (relative SSN 1 … 20).
    { from: CJ, to: S2, seq: ISN_JC + 1, flags: ACK, options: [dss(DSN_C + 250n, 1, 20)], payload: 20 },
    { from: S, to: C, seq: ISN_S + 1, flags: ACK, options: [{ kind: 'remove_addr', addressIds: [2] }] },
    { from: C, to: S, seq: ISN_C + 251, flags: ACK, options: [dss(DSN_C + 270n, 0, 1, { dataFin: true })] },
    // A join to a token that belongs to no connection.
    {
      from: ['2001:db8::9', 5555],
      to: S,
      seq: 1,
      flags: SYN,
      options: [{ kind: 'mp_join', form: 'syn', backup: false, addressId: 0, token: 0xdeadbeef, nonce: 1 }],
    },
  ];
}

test('synthetic IPv6 pcapng/cooked-v1 connection decodes completely', () => {
  const r = decodeCapture(capture(scenario()));
  assert.equal(r.stats.packets, 16);
  assert.equal(r.connections.length, 1);
  const c = r.connections[0]!;
  assert.deepEqual(c.keys, { client: '0102030405060708', server: '1112131415161718' });
  assert.deepEqual(c.tokens, [
    tokenOfKey(KC).toString(16).padStart(8, '0'),
    tokenOfKey(KS).toString(16).padStart(8, '0'),
  ]);
  assert.equal(c.subflows.length, 2);
  const [initial, join] = c.subflows;
  assert.equal(initial!.src, '[2001:db8::1]:40000');
  assert.equal(initial!.dst, '[2001:db8::2]:80');
  assert.equal(initial!.join, 'initial');
  assert.equal(initial!.bytesSrcToDst, 250);
  assert.equal(join!.join, 'verified');
  assert.deepEqual(join!.addressIds, { src: 1, dst: 2 });
  assert.equal(join!.backup, false, 'MP_PRIO cleared the backup flag of the MP_JOIN SYN');
  assert.deepEqual(join!.prio, [{ from: 'client', backup: false }]);
  assert.equal(join!.bytesSrcToDst, 20);
  assert.equal(join!.bytesDstToSrc, 10);
  assert.deepEqual(c.addAddrs, [
    {
      from: 'server',
      on: '[2001:db8::1]:40000 -> [2001:db8::2]:80',
      addressId: 2,
      address: '2001:db8::3',
      port: 8080,
      echo: false,
      hmac: 'verified',
    },
  ]);
  assert.deepEqual(c.removeAddrs, [
    { from: 'server', on: '[2001:db8::1]:40000 -> [2001:db8::2]:80', addressIds: [2] },
  ]);
  assert.equal(c.dataFin, true);
  assert.deepEqual(c.dataFinFrom, ['client']);
  assert.deepEqual(c.mappings, { checked: 5, mismatched: 0, unmappedSegments: 0 });
  assert.equal(r.unmatchedJoins.length, 1);
  assert.equal(r.unmatchedJoins[0]!.token, 'deadbeef');
  assert.equal(r.unmatchedJoins[0]!.join, 'incomplete');
});

test('synthetic: a segment running past its mapping is a mismatch', () => {
  const c = decodeCapture(capture(scenario({ secondPayload: 60 }))).connections[0]!;
  assert.equal(c.mappings.mismatched, 1);
  assert.match(c.problems.join('\n'), /matches no mapping|outside/);
});

test('synthetic: a mapping that does not start at IDSN+1 leaves a DSN gap', () => {
  const c = decodeCapture(capture(scenario({ serverDsn: DSN_S + 5n }))).connections[0]!;
  assert.equal(c.mappings.mismatched, 1);
  assert.match(c.problems.join('\n'), /DSN gap: mapping starts 5 bytes after/);
});

test('synthetic: a third-ACK HMAC made with the wrong key fails the join', () => {
  const c = decodeCapture(capture(scenario({ ackHmacKey: KC ^ 1n }))).connections[0]!;
  assert.equal(c.subflows[1]!.join, 'failed');
  assert.deepEqual(c.subflows[1]!.hmac, { synAck: 'verified', ack: 'failed' });
});

test('synthetic: a join opened by the server side (token of the client key) verifies with the roles swapped', () => {
  const SJ: Host = ['2001:db8::2', 40002];
  const CL: Host = ['2001:db8::1', 9000];
  const segs = scenario().slice(0, 3);
  segs.push(
    {
      from: SJ,
      to: CL,
      seq: 1,
      flags: SYN,
      options: [
        { kind: 'mp_join', form: 'syn', backup: false, addressId: 0, token: tokenOfKey(KC), nonce: NONCE_A },
      ],
    },
    {
      from: CL,
      to: SJ,
      seq: 2,
      flags: SYNACK,
      options: [
        {
          kind: 'mp_join',
          form: 'synack',
          backup: false,
          addressId: 0,
          hmac: joinSynAckHmac(KC, KS, NONCE_B, NONCE_A),
          nonce: NONCE_B,
        },
      ],
    },
    {
      from: SJ,
      to: CL,
      seq: 2,
      flags: ACK,
      options: [{ kind: 'mp_join', form: 'ack', hmac: joinAckHmac(KS, KC, NONCE_A, NONCE_B) }],
    },
  );
  const c = decodeCapture(capture(segs)).connections[0]!;
  const j = c.subflows[1]!;
  assert.equal(j.initiator, 'server');
  assert.equal(j.token, tokenOfKey(KC).toString(16).padStart(8, '0'));
  assert.equal(j.join, 'verified');
});

test('synthetic: data on the MP_CAPABLE ACK is mapped at IDSN+1, SSN 1 (RFC 8684 §3.1)', () => {
  const segs = scenario();
  // Replace the first data segment's DSS with an MP_CAPABLE carrying both keys and the data length.
  segs[4] = {
    ...segs[4]!,
    options: [
      { kind: 'mp_capable', version: 1, flags: 0x01, senderKey: KC, receiverKey: KS, dataLength: 100 },
    ],
  };
  let c = decodeCapture(capture(segs)).connections[0]!;
  assert.deepEqual(c.mappings, { checked: 5, mismatched: 0, unmappedSegments: 0 });
  // The same with a data length that does not match the payload: the mapping is short of bytes.
  segs[4] = {
    ...segs[4]!,
    options: [
      { kind: 'mp_capable', version: 1, flags: 0x01, senderKey: KC, receiverKey: KS, dataLength: 90 },
    ],
  };
  c = decodeCapture(capture(segs)).connections[0]!;
  assert.ok(c.mappings.mismatched >= 1);
});
