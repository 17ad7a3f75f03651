/**
 * FrameDecoder: a stream of encoded frames decodes to the same frames however it is split; malformed
 * input raises FrameError and nothing else; buffering stays bounded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  encodeFrameHeader,
  type Frame,
  FrameDecoder,
  FrameError,
  FRAMING_VERSION,
  MAX_FRAME_BYTES,
  MAX_PAYLOAD_BYTES,
  PREAMBLE,
  PREAMBLE_BYTES,
} from '../../src/core/frame.js';
import type { MptcpOption } from '../../src/wire/types.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const optionArb: fc.Arbitrary<MptcpOption> = fc.oneof(
  fc.record({
    kind: fc.constant('dss' as const),
    dataAck: u64,
    ack64: fc.constant(true),
    mapping: fc.record({
      dsn: u64,
      dsn64: fc.constant(true),
      ssn: fc.nat({ max: 0xffffffff }),
      length: fc.nat({ max: 0xffff }),
    }),
    dataFin: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('mp_prio' as const), backup: fc.boolean() }),
  fc.record({
    kind: fc.constant('remove_addr' as const),
    addressIds: fc.array(fc.nat(255), { minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant('mp_tcprst' as const),
    flags: fc.nat(15),
    reason: fc.nat(255),
  }),
);

interface FrameSpec {
  flags: number;
  window: number;
  subflowAck: number;
  options: MptcpOption[];
  ts: { val: number; ecr: number } | undefined;
  payload: Uint8Array;
}

const frameArb: fc.Arbitrary<FrameSpec> = fc.record({
  flags: fc.nat(255),
  window: fc.nat({ max: 0xffffffff }),
  subflowAck: fc.nat({ max: 0xffffffff }),
  options: fc.array(optionArb, { maxLength: 3 }),
  ts: fc.option(fc.record({ val: fc.nat({ max: 0xffffffff }), ecr: fc.nat({ max: 0xffffffff }) }), {
    nil: undefined,
  }),
  payload: fc.uint8Array({ maxLength: 300 }),
});

function encode(f: FrameSpec): Uint8Array {
  const head = encodeFrameHeader({
    flags: f.flags,
    window: f.window,
    subflowAck: f.subflowAck,
    options: f.options,
    ...(f.ts ? { tsVal: f.ts.val, tsEcr: f.ts.ecr } : {}),
    payloadLength: f.payload.length,
  });
  return Buffer.concat([head, f.payload]);
}

/**
 * A comparable form of a decoded frame: the payload as one hex string whether it came as one view or
 * as several parts (a payload split over input chunks), copied (views die with the decoder's input).
 */
function normal(f: Frame): string {
  const parts = (f as { payloadParts?: Uint8Array[] }).payloadParts ?? [f.payload];
  const payload = Buffer.concat(parts);
  const length = (f as { payloadLength?: number }).payloadLength;
  if (length !== undefined) assert.equal(payload.length, length, 'payloadLength matches the payload');
  const plain = {
    flags: f.flags,
    window: f.window,
    subflowAck: f.subflowAck,
    options: f.options,
    tsVal: f.tsVal,
    tsEcr: f.tsEcr,
  };
  return JSON.stringify({ ...plain, payload: payload.toString('hex') }, (_k, v) =>
    typeof v === 'bigint'
      ? `${v}n`
      : v instanceof Uint8Array
        ? Buffer.from(v).toString('hex')
        : v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)
          ? Buffer.from(v.data).toString('hex')
          : v,
  );
}

function decodeChunks(chunks: Uint8Array[]): string[] {
  const d = new FrameDecoder(true);
  const out: string[] = [];
  for (const c of chunks) for (const f of d.push(c)) out.push(normal(f));
  return out;
}

test('frames split at every possible boundary decode to the same frames', () => {
  fc.assert(
    fc.property(fc.array(frameArb, { minLength: 1, maxLength: 4 }), (frames) => {
      const stream = Buffer.concat([PREAMBLE, ...frames.map(encode)]);
      const whole = decodeChunks([stream]);
      assert.equal(whole.length, frames.length);
      whole.forEach((json, i) => {
        const f = JSON.parse(json) as {
          flags: number;
          window: number;
          subflowAck: number;
          payload: string;
          tsVal?: number;
        };
        const spec = frames[i]!;
        assert.equal(f.flags, spec.flags);
        assert.equal(f.window, spec.window);
        assert.equal(f.subflowAck, spec.subflowAck);
        assert.equal(f.payload, Buffer.from(spec.payload).toString('hex'));
        assert.equal(f.tsVal, spec.ts?.val);
      });
      for (let i = 0; i <= stream.length; i++) {
        assert.deepEqual(decodeChunks([stream.subarray(0, i), stream.subarray(i)]), whole, `split at ${i}`);
      }
    }),
    { numRuns: 150 },
  );
});

test('frames fed in random small chunks decode to the same frames', () => {
  fc.assert(
    fc.property(
      fc.array(frameArb, { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 50 }),
      (frames, sizes) => {
        const stream = Buffer.concat([PREAMBLE, ...frames.map(encode)]);
        const chunks: Uint8Array[] = [];
        for (let at = 0, i = 0; at < stream.length; i++) {
          const n = sizes[i % sizes.length]!;
          chunks.push(stream.subarray(at, at + n));
          at += n;
        }
        assert.deepEqual(decodeChunks(chunks), decodeChunks([stream]));
      },
    ),
    { numRuns: 300 },
  );
});

test('malformed input raises FrameError, never another exception, and buffering stays bounded', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 400 }), { minLength: 1, maxLength: 12 }),
      frameArb,
      (withPreamble, garbage, valid) => {
        const d = new FrameDecoder(true);
        const chunks = withPreamble ? [PREAMBLE, encode(valid), ...garbage] : garbage;
        try {
          for (const c of chunks) {
            d.push(c);
            assert.ok(d.bufferedBytes <= MAX_FRAME_BYTES + c.length, `holds ${d.bufferedBytes}`);
          }
        } catch (err) {
          assert.ok(err instanceof FrameError, `threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test('corrupted option areas raise FrameError (bad-options), never another exception', () => {
  fc.assert(
    fc.property(
      frameArb,
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }),
      (spec, flips) => {
        if (spec.options.length === 0 && !spec.ts) return;
        const bytes = Buffer.from(encode(spec));
        const optionsLength = bytes[0]!;
        for (const [at, value] of flips) bytes[12 + (at % optionsLength)] = value;
        try {
          new FrameDecoder(false).push(bytes);
        } catch (err) {
          assert.ok(err instanceof FrameError, `threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
          assert.equal(err.code, 'bad-options');
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test('a wrong preamble or version is refused at once', () => {
  assert.throws(() => new FrameDecoder(true).push(Buffer.from('GET / HTTP/1.1\r\n')), {
    code: 'bad-preamble',
  });
  for (const version of [FRAMING_VERSION - 1, FRAMING_VERSION + 1]) {
    const other = Uint8Array.from(PREAMBLE);
    other[PREAMBLE_BYTES - 2] = version;
    assert.throws(() => new FrameDecoder(true).push(other), { code: 'bad-version' });
  }
  // A partial preamble that already differs is refused without waiting for more.
  assert.throws(() => new FrameDecoder(true).push(Uint8Array.of(0x89, 0x00)), { code: 'bad-preamble' });
  assert.deepEqual(new FrameDecoder(true).push(PREAMBLE.subarray(0, 3)), []);
});

test('encodeFrameHeader refuses a payload over MAX_PAYLOAD_BYTES; the decoder refuses its header', () => {
  const over = { flags: 0, window: 0, subflowAck: 0, options: [], payloadLength: MAX_PAYLOAD_BYTES + 1 };
  assert.throws(() => encodeFrameHeader(over), FrameError);
  const head = encodeFrameHeader({ ...over, payloadLength: MAX_PAYLOAD_BYTES });
  Buffer.from(head.buffer, head.byteOffset, head.length).writeUInt32BE(MAX_PAYLOAD_BYTES + 1, 2);
  assert.throws(() => new FrameDecoder(false).push(head), { code: 'too-large' });
});

test('header layout (framing v2): optLen u8, flags u8, payLen u32, window u32, subflowAck u32', () => {
  const head = encodeFrameHeader({
    flags: 1,
    window: 0x01020304,
    subflowAck: 0xa0b0c0d0,
    options: [],
    payloadLength: 70_000,
  });
  assert.equal(Buffer.from(head).toString('hex'), '0001' + '00011170' + '01020304' + 'a0b0c0d0');
  const payload = Buffer.alloc(70_000, 7);
  const [frame] = new FrameDecoder(false).push(Buffer.concat([head, payload]));
  assert.equal(frame!.payloadLength, 70_000);
  assert.equal(frame!.window, 0x01020304);
  assert.equal(frame!.subflowAck, 0xa0b0c0d0);
  assert.equal(frame!.flags, 1);
});
