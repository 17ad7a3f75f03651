/**
 * DSS checksums against a real Linux kernel: test/wire/fixtures/kernel-checksum.pcap (made by
 * test/wire/fixtures/capture-checksum.sh with net.mptcp.checksum_enabled=1). Every checksum the
 * kernel put in a DSS mapping, and in the MP_CAPABLE ACK carrying the first data, must verify with
 * src/wire/dss-checksum.ts over the subflow bytes the mapping covers (mappings spanning several
 * segments included). A second test repeats this on a fresh live capture when root, iproute2,
 * tcpdump, python3 and kernel MPTCP are available.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { idsnOfKey } from '../../src/crypto/keys.js';
import { dssChecksum, dssChecksumValid } from '../../src/wire/dss-checksum.js';
import { encodeMptcpOption } from '../../src/wire/mptcp-option.js';
import { readSegments, type Segment } from './pcap-reader.js';

const FIXTURE = 'test/wire/fixtures/kernel-checksum.pcap';
const SCRIPT = 'test/wire/fixtures/capture-checksum.sh';

/** Subflow byte streams per direction, indexed by relative sequence number - 1. */
function subflowStreams(segs: Segment[]): Map<string, Uint8Array> {
  const isn = new Map<string, number>();
  const parts = new Map<string, Array<[number, Uint8Array]>>();
  for (const s of segs) {
    const dir = `${s.src}:${s.sport}>${s.dst}:${s.dport}`;
    if (s.tcp.syn) isn.set(dir, s.tcp.seq);
    const base = isn.get(dir);
    if (base === undefined || s.payload.length === 0) continue;
    const rel = (s.tcp.seq - base - 1) >>> 0;
    const list = parts.get(dir) ?? [];
    list.push([rel, s.payload]);
    parts.set(dir, list);
  }
  const out = new Map<string, Uint8Array>();
  for (const [dir, list] of parts) {
    const end = Math.max(...list.map(([o, p]) => o + p.length));
    const stream = new Uint8Array(end);
    for (const [o, p] of list) stream.set(p, o);
    out.set(dir, stream);
  }
  return out;
}

function checkCapture(segs: Segment[]): { mappings: number; multiSegment: number; mpCapableData: number } {
  const streams = subflowStreams(segs);
  let mappings = 0;
  let multiSegment = 0;
  let mpCapableData = 0;
  let keyClient: bigint | undefined;
  for (const s of segs) {
    const dir = `${s.src}:${s.sport}>${s.dst}:${s.dport}`;
    for (const { opt, bytes } of s.mptcp) {
      // The checksum-carrying forms re-encode byte for byte too.
      assert.equal(Buffer.from(encodeMptcpOption(opt)).toString('hex'), Buffer.from(bytes).toString('hex'));
      if (opt.kind === 'mp_capable' && opt.receiverKey !== undefined && keyClient === undefined) {
        keyClient = opt.senderKey;
      }
      if (opt.kind === 'mp_capable' && opt.checksum !== undefined) {
        // MP_CAPABLE with data (RFC 8684 §3.1): DSN = IDSN(sender key) + 1, subflow sequence 1.
        assert.ok(opt.senderKey !== undefined && opt.dataLength !== undefined);
        const data = streams.get(dir)!.subarray(0, opt.dataLength);
        assert.ok(dssChecksumValid(idsnOfKey(opt.senderKey) + 1n, 1, opt.dataLength, data, opt.checksum));
        mpCapableData++;
      }
      if (opt.kind !== 'dss' || !opt.mapping) continue;
      const m = opt.mapping;
      assert.ok(m.checksum !== undefined, 'checksums were negotiated: every mapping carries one');
      if (m.ssn === 0) {
        // A DATA_FIN without data: the checksum covers the pseudo-header alone.
        assert.ok(opt.dataFin && m.length === 1);
        assert.equal(m.checksum, dssChecksum(m.dsn, 0, 1, new Uint8Array(0)));
        continue;
      }
      // A DATA_FIN takes one data sequence number but no subflow byte.
      const dataBytes = m.length - (opt.dataFin ? 1 : 0);
      const data = streams.get(dir)!.subarray(m.ssn - 1, m.ssn - 1 + dataBytes);
      assert.equal(data.length, dataBytes, 'mapped bytes present in the capture');
      assert.ok(
        dssChecksumValid(m.dsn, m.ssn, m.length, data, m.checksum),
        `checksum ${m.checksum.toString(16)} of mapping dsn=${m.dsn} ssn=${m.ssn} len=${m.length}`,
      );
      assert.equal(dssChecksum(m.dsn, m.ssn, m.length, data), m.checksum);
      mappings++;
      if (s.payload.length < dataBytes) multiSegment++;
    }
  }
  return { mappings, multiSegment, mpCapableData };
}

const fixtureSkip = existsSync(FIXTURE) ? false : `${FIXTURE} not present (make it with ${SCRIPT})`;

test('kernel checksum capture: every DSS / MP_CAPABLE checksum verifies', { skip: fixtureSkip }, () => {
  const r = checkCapture(readSegments(new Uint8Array(readFileSync(FIXTURE))));
  assert.ok(r.mappings >= 10, `only ${r.mappings} mappings`);
  assert.ok(r.multiSegment > 0, 'no mapping spanning several segments');
  assert.equal(r.mpCapableData, 1);
});

function liveSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const tool of ['ip', 'tcpdump', 'python3']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not installed`;
  }
  if (!existsSync('/proc/sys/net/mptcp/enabled')) return 'kernel without MPTCP';
  return false;
}

test('live kernel capture with checksums: every checksum verifies', { skip: liveSkipReason() }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mptcp-csum-'));
  try {
    const out = join(dir, 'cap.pcap');
    const r = spawnSync('bash', [SCRIPT, out], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 2) {
      t.skip(r.stderr.trim());
      return;
    }
    assert.equal(r.status, 0, r.stderr);
    const res = checkCapture(readSegments(new Uint8Array(readFileSync(out))));
    assert.ok(res.mappings >= 10, `only ${res.mappings} mappings`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
