/**
 * Decodes the committed capture of a real Linux kernel MPTCP connection (scripts/capture-kernel-fixture.sh:
 * two paths, the server announces its second address, the client opens MP_JOIN subflows, both sides
 * send 8 rounds × 4 chunks × 1200 bytes, the client then marks its joined subflows backup and the
 * server withdraws its address), and checks the decoder against facts computed independently
 * (SHA-256 from node:crypto, the raw options of the segments, the amount of data the peers sent).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decodeCapture } from '../../src/decode/index.js';
import { readPackets } from '../../src/pcap/capture.js';
import { readTcpSegments } from '../../src/pcap/segments.js';
import { mptcpOptionsOf } from '../../src/wire/index.js';

const FIXTURE = new URL('../../../test/fixtures/kernel-mptcp.pcap', import.meta.url);
/** What the peers of the capture script send each way: ROUNDS × BURST × CHUNK. */
const BYTES_EACH_WAY = 8 * 4 * 1200;

function fixture(): Uint8Array {
  return new Uint8Array(readFileSync(FIXTURE));
}

/** Token = most significant 32 bits of SHA-256(key as 8 big-endian bytes), computed here directly. */
function tokenHex(keyHex: string): string {
  return createHash('sha256').update(Buffer.from(keyHex, 'hex')).digest('hex').slice(0, 8);
}

test('kernel fixture: one connection, both keys, tokens as SHA-256 of the keys', () => {
  const buf = fixture();
  const r = decodeCapture(buf);
  assert.equal(r.connections.length, 1);
  assert.equal(r.unmatchedJoins.length, 0);
  const c = r.connections[0]!;
  assert.equal(c.version, 1);
  assert.equal(c.fallback, false);
  assert.match(c.keys.client ?? '', /^[0-9a-f]{16}$/);
  assert.match(c.keys.server ?? '', /^[0-9a-f]{16}$/);
  assert.deepEqual(c.tokens, [tokenHex(c.keys.client!), tokenHex(c.keys.server!)]);

  // The keys are those of the raw MP_CAPABLE options: SYN/ACK (server's) and third ACK (both).
  const caps = readTcpSegments(buf).segments.flatMap((s) =>
    mptcpOptionsOf(s.tcp.options).filter((o) => o.kind === 'mp_capable'),
  );
  const withBoth = caps.find((o) => o.kind === 'mp_capable' && o.receiverKey !== undefined);
  assert.ok(withBoth?.kind === 'mp_capable');
  assert.equal(withBoth.senderKey!.toString(16).padStart(16, '0'), c.keys.client);
  assert.equal(withBoth.receiverKey!.toString(16).padStart(16, '0'), c.keys.server);

  // Every MP_JOIN SYN in the capture carries the token of the server's key.
  const joinTokens = readTcpSegments(buf).segments.flatMap((s) =>
    mptcpOptionsOf(s.tcp.options).flatMap((o) => (o.kind === 'mp_join' && o.form === 'syn' ? [o.token] : [])),
  );
  assert.ok(joinTokens.length >= 1);
  for (const t of joinTokens) assert.equal(t.toString(16).padStart(8, '0'), tokenHex(c.keys.server!));
});

test('kernel fixture: joins verified, ADD_ADDR verified, mappings consistent, every subflow carried data', () => {
  const c = decodeCapture(fixture()).connections[0]!;
  const initial = c.subflows.filter((s) => s.join === 'initial');
  const joins = c.subflows.filter((s) => s.join !== 'initial');
  assert.equal(initial.length, 1);
  assert.ok(joins.length >= 1, 'at least one MP_JOIN subflow');
  for (const j of joins) {
    assert.equal(j.join, 'verified', `${j.src} -> ${j.dst}`);
    assert.deepEqual(j.hmac, { synAck: 'verified', ack: 'verified' });
    assert.equal(j.token, c.tokens[1]);
    assert.equal(j.initiator, 'client');
  }
  const announced = c.addAddrs.filter((a) => !a.echo);
  assert.equal(announced.length, 1);
  assert.equal(announced[0]!.from, 'server');
  assert.equal(announced[0]!.address, '10.77.2.2');
  assert.equal(announced[0]!.hmac, 'verified');
  assert.ok(c.addAddrs.some((a) => a.echo && a.from === 'client' && a.hmac === 'echo'));

  assert.ok(c.mappings.checked >= 64, `mappings checked: ${c.mappings.checked}`);
  assert.equal(c.mappings.mismatched, 0, c.problems.join('\n'));
  assert.equal(c.mappings.unmappedSegments, 0);
  for (const s of c.subflows) {
    assert.ok(s.bytesSrcToDst > 0 && s.bytesDstToSrc > 0, `${s.src} -> ${s.dst} carried data both ways`);
  }
  const sent = c.subflows.reduce((n, s) => n + s.bytesSrcToDst, 0);
  const received = c.subflows.reduce((n, s) => n + s.bytesDstToSrc, 0);
  assert.equal(sent, BYTES_EACH_WAY);
  assert.equal(received, BYTES_EACH_WAY);
  assert.equal(c.dataFin, true);
  assert.deepEqual(c.dataFinFrom, ['client', 'server']);
});

test('kernel fixture: MP_PRIO from the client marks a joined subflow backup; REMOVE_ADDR from the server', () => {
  const c = decodeCapture(fixture()).connections[0]!;
  const prio = c.subflows.filter((s) => s.prio.length > 0);
  assert.ok(prio.length >= 1, 'an MP_PRIO was captured');
  for (const s of prio) {
    assert.notEqual(s.join, 'initial');
    assert.deepEqual(s.prio, [{ from: 'client', backup: true }]);
    assert.equal(s.backup, true);
  }
  assert.equal(c.subflows.find((s) => s.join === 'initial')!.backup, false);
  assert.deepEqual(
    c.removeAddrs.map((r) => ({ from: r.from, ids: r.addressIds })),
    [{ from: 'server', ids: [1] }],
  );
});

/** A copy of the fixture with one byte of a raw option field flipped (located through the parse views). */
function flipped(pick: (o: ReturnType<typeof mptcpOptionsOf>[number]) => Uint8Array | undefined): Uint8Array {
  const buf = fixture();
  for (const s of readTcpSegments(buf).segments) {
    for (const o of mptcpOptionsOf(s.tcp.options)) {
      const field = pick(o);
      if (!field) continue;
      assert.equal(field.buffer, buf.buffer, 'option fields are views into the capture');
      const at = field.byteOffset - buf.byteOffset;
      const copy = buf.slice();
      copy[at + 3]! ^= 0x01;
      return copy;
    }
  }
  throw new Error('field not found in fixture');
}

test('kernel fixture: one flipped bit in a join SYN/ACK HMAC → that join "failed"', () => {
  const c = decodeCapture(flipped((o) => (o.kind === 'mp_join' && o.form === 'synack' ? o.hmac : undefined)))
    .connections[0]!;
  const joins = c.subflows.filter((s) => s.join !== 'initial');
  assert.equal(joins.filter((j) => j.join === 'failed').length, 1);
  const failed = joins.find((j) => j.join === 'failed')!;
  assert.deepEqual(failed.hmac, { synAck: 'failed', ack: 'verified' });
  assert.ok(joins.filter((j) => j.join === 'verified').length === joins.length - 1);
});

test('kernel fixture: one flipped bit in a join third-ACK HMAC → "failed"', () => {
  const c = decodeCapture(flipped((o) => (o.kind === 'mp_join' && o.form === 'ack' ? o.hmac : undefined)))
    .connections[0]!;
  const failed = c.subflows.filter((s) => s.join === 'failed');
  assert.equal(failed.length, 1);
  assert.deepEqual(failed[0]!.hmac, { synAck: 'verified', ack: 'failed' });
});

test('kernel fixture: one flipped bit in the ADD_ADDR HMAC → "failed"', () => {
  const c = decodeCapture(flipped((o) => (o.kind === 'add_addr' && !o.echo ? o.hmac : undefined)))
    .connections[0]!;
  assert.equal(c.addAddrs.find((a) => !a.echo)!.hmac, 'failed');
});

test('kernel fixture: a data packet removed from the capture → mismatched mappings', () => {
  const buf = fixture();
  const packets = [...readPackets(buf)];
  const segs = readTcpSegments(buf).segments;
  const victim = segs.find((s) => s.payload.length > 0 && s.index > 40)!;
  const rec = packets[victim.index]!;
  const start = rec.offset;
  const end = rec.offset + 16 + rec.data.length;
  const cut = new Uint8Array(buf.length - (end - start));
  cut.set(buf.subarray(0, start), 0);
  cut.set(buf.subarray(end), start);
  const c = decodeCapture(cut).connections[0]!;
  assert.ok(c.mappings.mismatched >= 1, 'the missing mapping leaves a DSN gap');
  assert.ok(c.problems.some((p) => /DSN gap/.test(p)));
  const total = c.subflows.reduce((n, s) => n + s.bytes, 0);
  assert.equal(total, 2 * BYTES_EACH_WAY - victim.payload.length);
});

const CSUM_FIXTURE = new URL('../../../test/fixtures/kernel-mptcp-csum.pcap', import.meta.url);

test('kernel fixture without checksums: none claimed, none checked', () => {
  const c = decodeCapture(fixture()).connections[0]!;
  assert.equal(c.checksums, false);
  assert.deepEqual(c.dssChecksums, { verified: 0, failed: 0 });
});

test('kernel fixture with DSS checksums (net.mptcp.checksum_enabled=1): every data mapping verifies', () => {
  const c = decodeCapture(new Uint8Array(readFileSync(CSUM_FIXTURE))).connections[0]!;
  assert.equal(c.checksums, true);
  assert.equal(c.mappings.mismatched, 0, c.problems.join('\n'));
  // Every mapping that carries payload (all but the DATA_FIN-only ones) has its checksum verified.
  assert.ok(c.dssChecksums.verified >= 60, `verified ${c.dssChecksums.verified}`);
  assert.equal(c.dssChecksums.failed, 0);
  assert.ok(c.subflows.every((s) => s.join === 'initial' || s.join === 'verified'));
});

test('kernel fixture with DSS checksums: one flipped payload byte → that checksum fails', () => {
  const buf = new Uint8Array(readFileSync(CSUM_FIXTURE));
  const victim = readTcpSegments(buf).segments.find((s) => s.payload.length > 0 && s.index > 30)!;
  const at = victim.payload.byteOffset - buf.byteOffset + 17;
  buf[at]! ^= 0x40;
  const c = decodeCapture(buf).connections[0]!;
  assert.equal(c.dssChecksums.failed, 1);
  assert.equal(c.mappings.mismatched, 1);
  assert.match(c.problems.join('\n'), /DSS checksum 0x[0-9a-f]+, payload gives 0x[0-9a-f]+/);
});
