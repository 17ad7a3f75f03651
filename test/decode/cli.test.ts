/**
 * `mptcp decode` through the real CLI (node bin/mptcp.js), and a live capture of a fresh kernel
 * MPTCP connection (scripts/capture-kernel-fixture.sh) when this machine allows it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DecodeResult } from '../../src/decode/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin/mptcp.js');
const SCRIPT = join(ROOT, 'scripts/capture-kernel-fixture.sh');
const FIXTURE = join(ROOT, 'test/fixtures/kernel-mptcp.pcap');
const TMP = mkdtempSync(join(tmpdir(), `mptcp-decode-${process.pid}-`));

after(() => rmSync(TMP, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'decode', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('mptcp decode FILE: text with keys, tokens, join verdicts, ADD_ADDR, DATA_FIN', () => {
  const r = cli(FIXTURE);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /client key [0-9a-f]{16} \(token [0-9a-f]{8}\)/);
  assert.match(r.stdout, /server key [0-9a-f]{16} \(token [0-9a-f]{8}\)/);
  assert.match(r.stdout, /subflow 10\.77\.1\.1:\d+ -> 10\.77\.1\.2:5201 {2}initial/);
  assert.match(r.stdout, /join verified/);
  assert.match(r.stdout, /ADD_ADDR from server: id 1 10\.77\.2\.2, HMAC verified/);
  assert.match(r.stdout, /DATA_FIN: from client and server/);
  assert.match(r.stdout, /DSS mappings: \d+ checked, 0 mismatched/);
});

test('mptcp decode --json FILE: the documented shape', () => {
  const r = cli('--json', FIXTURE);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as DecodeResult;
  assert.equal(j.connections.length, 1);
  const c = j.connections[0]!;
  assert.equal(c.tokens.length, 2);
  for (const t of c.tokens) assert.match(t, /^[0-9a-f]{8}$/);
  assert.ok(
    c.subflows.every(
      (s) => /:\d+$/.test(s.src) && typeof s.bytes === 'number' && typeof s.backup === 'boolean',
    ),
  );
  assert.ok(c.subflows.some((s) => s.join === 'verified'));
  assert.equal(typeof c.mappings.checked, 'number');
  assert.equal(c.dataFin, true);
});

test('mptcp decode: unreadable input → one line with the offset, exit 1', () => {
  const full = readFileSync(FIXTURE);
  const truncated = join(TMP, 'truncated.pcap');
  writeFileSync(truncated, full.subarray(0, 24 + 16 + 10));
  const firstLen = full.readUInt32LE(24 + 8); // incl_len of the first record (little-endian file)
  let r = cli(truncated);
  assert.equal(r.status, 1);
  assert.equal(
    r.stderr,
    `mptcp decode: ${truncated}: record truncated (10 of ${firstLen} bytes) at offset 24\n`,
  );

  const text = join(TMP, 'text.pcap');
  writeFileSync(text, 'not a capture at all\n');
  r = cli(text);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^mptcp decode: .*text\.pcap: not a pcap or pcapng file \(magic 0x[0-9a-f]{8}\) at offset 0\n$/,
  );

  r = cli(join(TMP, 'does-not-exist.pcap'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /does-not-exist\.pcap: ENOENT at offset 0\n$/);
});

test('mptcp decode: usage errors exit 2', () => {
  assert.equal(cli().status, 2);
  assert.equal(cli('--bogus', FIXTURE).status, 2);
  assert.equal(cli(FIXTURE, 'extra').status, 2);
});

function liveSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const tool of ['ip', 'tcpdump', 'python3', 'bash']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not installed`;
  }
  if (!existsSync('/proc/sys/net/mptcp/enabled')) return 'kernel without MPTCP';
  if (readFileSync('/proc/sys/net/mptcp/enabled', 'utf8').trim() !== '1') return 'net.mptcp.enabled is 0';
  const probe = `mpdprobe${process.pid}`;
  const ok = spawnSync('ip', ['netns', 'add', probe]).status === 0;
  spawnSync('ip', ['netns', 'del', probe]);
  if (!ok) return 'cannot create network namespaces';
  return undefined;
}

const liveSkip = liveSkipReason();

test('live: capture a fresh kernel MPTCP connection and decode it (library and CLI)', {
  skip: liveSkip,
}, () => {
  const out = join(TMP, 'live.pcap');
  const cap = spawnSync('bash', [SCRIPT, out], { cwd: ROOT, encoding: 'utf8', timeout: 90_000 });
  assert.equal(cap.status, 0, `capture script failed: ${cap.stderr}`);
  assert.ok(readFileSync(out).length < 200 * 1024, 'capture stays small');
  const r = cli('--json', out);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as DecodeResult;
  assert.equal(j.connections.length, 1);
  const c = j.connections[0]!;
  const joins = c.subflows.filter((s) => s.join !== 'initial');
  assert.ok(joins.length >= 1, 'an MP_JOIN subflow');
  for (const s of joins) assert.equal(s.join, 'verified', `${s.src} -> ${s.dst}`);
  assert.equal(c.addAddrs.find((a) => !a.echo)?.hmac, 'verified');
  assert.equal(c.mappings.mismatched, 0, c.problems.join('\n'));
  assert.ok(
    joins.some((s) => s.bytes > 0),
    'a joined subflow carried data',
  );
});
