/**
 * Cross-check against a real Linux kernel: test/fixtures/kernel-mptcp.pcap (captured by
 * scripts/capture-kernel-fixture.sh; one MPTCP connection, ADD_ADDR, two MP_JOIN subflows, data
 * both ways). Every MPTCP option the kernel sent must parse to a known form and re-encode byte for
 * byte; the keys, tokens, IDSNs and HMACs in it must agree with src/crypto.
 * The pcap is read with a minimal reader of its own (./pcap-reader.ts), independent of src/pcap.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { addAddrHmac, joinAckHmac, joinSynAckHmac } from '../../src/crypto/hmac.js';
import { idsnOfKey, tokenOfKey } from '../../src/crypto/keys.js';
import { encodeMptcpOption } from '../../src/wire/mptcp-option.js';
import { readSegments, type Segment } from './pcap-reader.js';

const FIXTURE = 'test/fixtures/kernel-mptcp.pcap';

const skip = existsSync(FIXTURE)
  ? false
  : `${FIXTURE} not present (make it with scripts/capture-kernel-fixture.sh)`;

test('kernel capture: every MPTCP option parses to a known form and re-encodes byte for byte', {
  skip,
}, () => {
  const segs = readSegments(new Uint8Array(readFileSync(FIXTURE)));
  const kinds = new Map<string, number>();
  for (const s of segs) {
    for (const { opt, bytes } of s.mptcp) {
      assert.notEqual(opt.kind, 'unknown', Buffer.from(bytes).toString('hex'));
      const key = opt.kind === 'mp_join' ? `mp_join/${opt.form}` : opt.kind;
      kinds.set(key, (kinds.get(key) ?? 0) + 1);
      assert.equal(Buffer.from(encodeMptcpOption(opt)).toString('hex'), Buffer.from(bytes).toString('hex'));
    }
  }
  for (const k of ['mp_capable', 'mp_join/syn', 'mp_join/synack', 'mp_join/ack', 'dss', 'add_addr']) {
    assert.ok((kinds.get(k) ?? 0) > 0, `capture has no ${k}`);
  }
});

test('kernel capture: tokens, IDSNs and the MP_JOIN / ADD_ADDR HMACs agree with src/crypto', { skip }, () => {
  const segs = readSegments(new Uint8Array(readFileSync(FIXTURE)));
  const opts = (s: Segment) => s.mptcp.map((m) => m.opt);
  // Keys from the MP_CAPABLE third ACK: client's key first.
  const third = segs.flatMap(opts).find((o) => o.kind === 'mp_capable' && o.receiverKey !== undefined);
  assert.ok(third && third.kind === 'mp_capable');
  const keyClient = third.senderKey!;
  const keyServer = third.receiverKey!;

  // MP_JOIN: the SYN carries the server's token; pair SYN / SYN-ACK / ACK by 4-tuple.
  let joins = 0;
  for (const syn of segs.filter((s) => s.tcp.syn && !s.tcp.ackFlag)) {
    const j = opts(syn).find((o) => o.kind === 'mp_join');
    if (j?.kind !== 'mp_join' || j.form !== 'syn') continue;
    assert.equal(j.token, tokenOfKey(keyServer));
    const synAck = segs.find(
      (s) => s.tcp.syn && s.tcp.ackFlag && s.sport === syn.dport && s.dport === syn.sport,
    );
    const sa = synAck && opts(synAck).find((o) => o.kind === 'mp_join');
    assert.ok(sa && sa.kind === 'mp_join' && sa.form === 'synack');
    assert.deepEqual(sa.hmac, joinSynAckHmac(keyServer, keyClient, sa.nonce, j.nonce));
    const ack = segs.find(
      (s) =>
        !s.tcp.syn &&
        s.sport === syn.sport &&
        s.dport === syn.dport &&
        opts(s).some((o) => o.kind === 'mp_join'),
    );
    const a = ack && opts(ack).find((o) => o.kind === 'mp_join');
    assert.ok(a && a.kind === 'mp_join' && a.form === 'ack');
    assert.deepEqual(a.hmac, joinAckHmac(keyClient, keyServer, j.nonce, sa.nonce));
    joins++;
  }
  assert.ok(joins >= 1, 'no MP_JOIN handshake in the capture');

  // ADD_ADDR from the server: HMAC keyed with the server's key first, rightmost 64 bits.
  const add = segs.flatMap(opts).find((o) => o.kind === 'add_addr' && !o.echo);
  assert.ok(add && add.kind === 'add_addr');
  assert.deepEqual(add.hmac, addAddrHmac(keyServer, keyClient, add.addressId, add.address, add.port));

  // IDSNs: the client's first mapping starts at IDSN(client key) + 1; before the server sends
  // anything, the client acknowledges IDSN(server key) + 1.
  const clientAddresses = new Set(segs.filter((s) => s.tcp.syn && !s.tcp.ackFlag).map((s) => s.src));
  const fromClient = segs.filter((s) => clientAddresses.has(s.src));
  const firstMap = fromClient
    .flatMap(opts)
    .find((o) => o.kind === 'dss' && o.mapping !== undefined && o.mapping.length > 0);
  assert.ok(firstMap && firstMap.kind === 'dss' && firstMap.mapping);
  assert.equal(firstMap.mapping.dsn, idsnOfKey(keyClient) + 1n);
  const firstAck = fromClient.flatMap(opts).find((o) => o.kind === 'dss' && o.dataAck !== undefined);
  assert.ok(firstAck && firstAck.kind === 'dss' && firstAck.dataAck !== undefined);
  const expected = idsnOfKey(keyServer) + 1n;
  assert.equal(firstAck.dataAck, firstAck.ack64 ? expected : BigInt.asUintN(32, expected));
});
