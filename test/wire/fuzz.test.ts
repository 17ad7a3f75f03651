/**
 * Fuzz: random and mutated buffers (bit flips, truncation, length-byte changes, splices of valid
 * encodings) through parseMptcpOption, parseTcpOptions and parseTcpHeader. No exception may
 * escape; every result is ok or carries a WireError; ok results stay within the input and, for
 * MPTCP options, re-encode to something that parses back to the same value.
 * Deterministic: a fixed-seed PRNG drives the mutations (FUZZ_SEED overrides the seed).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeMptcpOption, parseMptcpOption } from '../../src/wire/mptcp-option.js';
import { encodeTcpHeader, parseTcpHeader } from '../../src/wire/tcp-header.js';
import { parseTcpOptions, type TcpOption } from '../../src/wire/tcp-options.js';
import { type MptcpOption, type ParseResult, WireError } from '../../src/wire/types.js';
import { arbMptcpOption } from './arbitraries.js';

const ITERATIONS = 100_000;
const SEED = Number(process.env.FUZZ_SEED ?? 0x6d707463);

/** xorshift32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function mutate(src: Uint8Array, rnd: () => number): Uint8Array {
  let b = Uint8Array.from(src);
  const ops = 1 + (rnd() % 3);
  for (let k = 0; k < ops; k++) {
    switch (rnd() % 7) {
      case 0: // bit flip
        if (b.length) b[rnd() % b.length]! ^= 1 << (rnd() % 8);
        break;
      case 1: // truncate
        b = b.subarray(0, rnd() % (b.length + 1));
        break;
      case 2: // length byte (MPTCP option) to anything
        if (b.length > 1) b[1] = rnd() & 0xff;
        break;
      case 3: // length byte ± small
        if (b.length > 1) b[1] = (b[1]! + (rnd() % 5) - 2) & 0xff;
        break;
      case 4: {
        // random byte
        if (b.length) b[rnd() % b.length] = rnd() & 0xff;
        break;
      }
      case 5: {
        // extend with random bytes
        const extra = new Uint8Array(rnd() % 8);
        for (let i = 0; i < extra.length; i++) extra[i] = rnd() & 0xff;
        const c = new Uint8Array(b.length + extra.length);
        c.set(b);
        c.set(extra, b.length);
        b = c;
        break;
      }
      default: // subtype nibble / flags byte
        if (b.length > 3) b[2 + (rnd() % 2)] = rnd() & 0xff;
    }
  }
  return b;
}

function checkResult<T>(r: ParseResult<T>, buf: Uint8Array, where: string): void {
  if (r.ok) {
    assert.ok(
      Number.isInteger(r.length) && r.length >= 0 && r.length <= buf.length,
      `${where}: length ${r.length}`,
    );
  } else {
    assert.ok(r.error instanceof WireError, `${where}: error is not a WireError`);
  }
}

function checkMptcp(buf: Uint8Array): ParseResult<MptcpOption> {
  const r = parseMptcpOption(buf);
  checkResult(r, buf, 'parseMptcpOption');
  if (r.ok) {
    assert.ok(r.length >= 3);
    // A parsed value must be encodable, and its encoding must parse back to the same value.
    const again = encodeMptcpOption(r.value);
    const r2 = parseMptcpOption(again);
    assert.ok(r2.ok);
    assert.deepEqual(r2.value, r.value);
  }
  return r;
}

test(`fuzz: ${ITERATIONS} random and mutated buffers (seed ${SEED})`, () => {
  const rnd = prng(SEED);
  // Seeds: valid MPTCP options of every kind, as bytes and inside TCP headers.
  const options = fc.sample(arbMptcpOption, { numRuns: 600, seed: SEED });
  const optionBytes = options.map((o) => encodeMptcpOption(o));
  const headers = options
    .filter((_, i) => optionBytes[i]!.length <= 36)
    .map((o, i) =>
      encodeTcpHeader({
        srcPort: 1000 + i,
        dstPort: 80,
        seq: i,
        ack: 0,
        flags: 0x18,
        options: [{ kind: 1, data: new Uint8Array(0) } as TcpOption, { kind: 30, mptcp: o }],
      }),
    );
  let ok = 0;
  let errors = 0;
  const started = performance.now();
  for (let n = 0; n < ITERATIONS; n++) {
    const mode = n % 6;
    let buf: Uint8Array;
    if (mode === 0) {
      buf = new Uint8Array(rnd() % 64);
      for (let i = 0; i < buf.length; i++) buf[i] = rnd() & 0xff;
      if (buf.length && rnd() % 2) buf[0] = 30;
    } else if (mode <= 3) {
      buf = mutate(optionBytes[rnd() % optionBytes.length]!, rnd);
    } else {
      buf = mutate(headers[rnd() % headers.length]!, rnd);
    }
    try {
      const a = checkMptcp(buf);
      const b = parseTcpOptions(buf);
      checkResult(b, buf, 'parseTcpOptions');
      if (b.ok) for (const o of b.value) if ('mptcp' in o) assert.ok(o.mptcp.kind);
      // Header parsing from the start, and from inside a header (the TCP options area).
      const c = parseTcpHeader(buf);
      checkResult(c, buf, 'parseTcpHeader');
      if (c.ok) assert.ok(c.value.payloadOffset >= 20 && c.value.payloadOffset <= buf.length);
      if (mode > 3 && buf.length > 20) checkMptcp(buf.subarray(21));
      if (a.ok) ok++;
      else errors++;
    } catch (e) {
      assert.fail(`input ${Buffer.from(buf).toString('hex')} threw: ${(e as Error).stack}`);
    }
  }
  const ms = performance.now() - started;
  // Both outcomes must actually occur, or the corpus is not exercising the parser.
  assert.ok(ok > ITERATIONS / 10, `only ${ok} parsed`);
  assert.ok(errors > ITERATIONS / 10, `only ${errors} rejected`);
  console.log(`fuzz: ${ITERATIONS} inputs in ${ms.toFixed(0)} ms (${ok} MPTCP ok, ${errors} MPTCP errors)`);
});
