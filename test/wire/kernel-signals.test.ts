/**
 * The signalling options against a real Linux kernel: test/wire/fixtures/kernel-signals.pcap and
 * kernel-signals6.pcap (IPv6), made by test/wire/fixtures/capture-signals.sh: ADD_ADDR (with and
 * without a port), MP_JOIN, MP_PRIO, REMOVE_ADDR, and the MP_FASTCLOSE + MP_TCPRST of an abortive
 * close. Each kernel option must parse to the expected value and re-encode byte for byte, and
 * every ADD_ADDR HMAC must verify.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { addAddrHmac } from '../../src/crypto/hmac.js';
import { encodeMptcpOption } from '../../src/wire/mptcp-option.js';
import type { MptcpOption } from '../../src/wire/types.js';
import { readSegments } from './pcap-reader.js';

type Announced = [addressId: number, family: 4 | 6, address: string, port: number | undefined];

function checkSignals(file: string, announced: Announced[], removed: number[]): void {
  const segs = readSegments(new Uint8Array(readFileSync(file)));
  const all: Array<{ opt: MptcpOption; rst: boolean }> = [];
  for (const s of segs) {
    for (const { opt, bytes } of s.mptcp) {
      assert.notEqual(opt.kind, 'unknown', Buffer.from(bytes).toString('hex'));
      assert.equal(Buffer.from(encodeMptcpOption(opt)).toString('hex'), Buffer.from(bytes).toString('hex'));
      all.push({ opt, rst: s.tcp.rst });
    }
  }
  const of = <K extends MptcpOption['kind']>(kind: K) =>
    all.filter((x) => x.opt.kind === kind) as Array<{ opt: Extract<MptcpOption, { kind: K }>; rst: boolean }>;

  const third = of('mp_capable').find((x) => x.opt.receiverKey !== undefined)!.opt;
  const keyClient = third.senderKey!;
  const keyServer = third.receiverKey!;

  // What the server announced (its signal endpoints), echoed by the client; then it removed some.
  const adds = of('add_addr')
    .filter((x) => !x.opt.echo)
    .map((x) => x.opt)
    .sort((a, b) => a.addressId - b.addressId);
  assert.deepEqual(
    adds.map((a) => [a.addressId, a.family, a.address, a.port]),
    announced,
  );
  for (const a of adds)
    assert.deepEqual(a.hmac, addAddrHmac(keyServer, keyClient, a.addressId, a.address, a.port));
  const echoes = of('add_addr')
    .filter((x) => x.opt.echo)
    .map((x) => x.opt)
    .sort((a, b) => a.addressId - b.addressId);
  assert.deepEqual(
    echoes,
    announced.map(([addressId, family, address, port]) =>
      port === undefined
        ? { kind: 'add_addr', echo: true, addressId, family, address }
        : { kind: 'add_addr', echo: true, addressId, family, address, port },
    ),
  );
  assert.deepEqual(
    of('remove_addr').map((x) => x.opt),
    [{ kind: 'remove_addr', addressIds: removed }],
  );

  // The client switched its endpoint to backup: RFC 8684 MP_PRIO, length 3, B set.
  assert.deepEqual(
    of('mp_prio').map((x) => x.opt),
    [{ kind: 'mp_prio', backup: true }],
  );

  // Abortive close: every RST carries MP_FASTCLOSE with the peer's (server's) key, and MP_TCPRST.
  const fastcloses = of('mp_fastclose');
  assert.ok(fastcloses.length >= 1);
  for (const f of fastcloses) {
    assert.equal(f.rst, true);
    assert.equal(f.opt.receiverKey, keyServer);
  }
  const resets = of('mp_tcprst');
  assert.equal(resets.length, fastcloses.length);
  for (const r of resets) {
    assert.equal(r.rst, true);
    // As the 6.18 kernel that made the fixture sent it: 1e 04 80 00, no flags, reason unspecified.
    assert.deepEqual(r.opt, { kind: 'mp_tcprst', flags: 0, reason: 0 });
  }
}

const FIXTURES: Array<[string, Announced[]]> = [
  [
    'test/wire/fixtures/kernel-signals.pcap',
    [
      [5, 4, '10.79.2.2', undefined],
      [6, 4, '10.79.2.3', 5204],
    ],
  ],
  // IPv6: ADD_ADDR6 with a port (30 bytes) does not fit beside the timestamps, so only id 5 goes out.
  ['test/wire/fixtures/kernel-signals6.pcap', [[5, 6, 'fd79:2::2', undefined]]],
];

for (const [file, announced] of FIXTURES) {
  const skip = existsSync(file)
    ? false
    : `${file} not present (make it with test/wire/fixtures/capture-signals.sh)`;
  test(`kernel signalling options (${file}) parse as expected and re-encode byte for byte`, { skip }, () => {
    checkSignals(file, announced, [5]);
  });
}
