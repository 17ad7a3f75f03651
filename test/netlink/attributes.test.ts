import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type AttrInput,
  attributesLength,
  be16Attr,
  be32Attr,
  binaryAttr,
  emitAttributes,
  findAttr,
  MAX_ATTRIBUTES,
  nestedAttr,
  parseAttributes,
  readBe16,
  readBe32,
  readS32,
  readString,
  readU16,
  readU32,
  readU8,
  s32Attr,
  stringAttr,
  u16Attr,
  u32Attr,
  u8Attr,
} from '../../src/netlink/attributes.js';
import { cat, cstr, hex } from './hex.js';

describe('netlink/attributes', () => {
  test('encodes each scalar kind with the kernel layout and padding', () => {
    assert.deepEqual(emitAttributes([u8Attr(3, 7)]), hex('05 00 03 00 07 00 00 00'));
    assert.deepEqual(emitAttributes([u16Attr(1, 0x0a02)]), hex('06 00 01 00 02 0a 00 00'));
    assert.deepEqual(emitAttributes([u32Attr(4, 0xdeadbeef)]), hex('08 00 04 00 ef be ad de'));
    assert.deepEqual(emitAttributes([s32Attr(7, -2)]), hex('08 00 07 00 fe ff ff ff'));
    assert.deepEqual(emitAttributes([be16Attr(9, 8080)]), hex('06 00 09 00 1f 90 00 00'));
    assert.deepEqual(emitAttributes([be32Attr(3, 0x0a000001)]), hex('08 00 03 00 0a 00 00 01'));
    assert.deepEqual(emitAttributes([stringAttr(2, 'abc')]), hex('08 00 02 00 61 62 63 00'));
    assert.deepEqual(emitAttributes([stringAttr(2, 'abcd')]), hex('09 00 02 00 61 62 63 64 00 00 00 00'));
    assert.deepEqual(emitAttributes([binaryAttr(5, hex('01 02 03'))]), hex('07 00 05 00 01 02 03 00'));
  });

  test('nested attributes carry NLA_F_NESTED and the children length', () => {
    const bytes = emitAttributes([nestedAttr(1, [u16Attr(1, 2), u8Attr(2, 5)])]);
    assert.deepEqual(bytes, hex('14 00 01 80  06 00 01 00 02 00 00 00  05 00 02 00 05 00 00 00'));
    assert.equal(attributesLength([nestedAttr(1, [u16Attr(1, 2), u8Attr(2, 5)])]), 20);
    const [outer] = parseAttributes(bytes).attrs;
    assert.ok(outer?.nested);
    assert.equal(outer.type, 1);
    const inner = parseAttributes(outer.payload).attrs;
    assert.equal(readU16(findAttr(inner, 1)), 2);
    assert.equal(readU8(findAttr(inner, 2)), 5);
  });

  test('decodes a hand-built stream, keeping unknown types and flags', () => {
    const buf = cat(
      hex('08 00 01 00 ef be ad de'), // u32
      hex('06 00 63 40 12 34 00 00'), // type 99 with NET_BYTEORDER
      hex('09 00 02 00'),
      cstr('eth0', 8),
    );
    const { attrs, truncated } = parseAttributes(buf);
    assert.equal(truncated, false);
    assert.equal(attrs.length, 3);
    assert.equal(readU32(attrs[0]), 0xdeadbeef);
    assert.equal(attrs[1]?.type, 99);
    assert.equal(attrs[1]?.netByteOrder, true);
    assert.equal(readBe16(attrs[1]), 0x1234);
    assert.equal(readString(attrs[2]), 'eth0');
  });

  test('typed readers refuse payloads that are too short', () => {
    const [a] = parseAttributes(hex('05 00 01 00 07 00 00 00')).attrs;
    assert.equal(readU8(a), 7);
    assert.equal(readU16(a), undefined);
    assert.equal(readU32(a), undefined);
    assert.equal(readS32(a), undefined);
    assert.equal(readBe32(a), undefined);
  });

  test('a length running past the end or below the header is reported, not read', () => {
    const r1 = parseAttributes(hex('08 00 01 00 01 00 00 00  10 00 02 00 01 02'));
    assert.equal(r1.attrs.length, 1);
    assert.equal(r1.truncated, true);
    const r2 = parseAttributes(hex('02 00 01 00 00 00 00 00'));
    assert.equal(r2.attrs.length, 0);
    assert.equal(r2.truncated, true);
    // An unpadded final attribute is fine.
    const r3 = parseAttributes(hex('05 00 01 00 07'));
    assert.equal(r3.truncated, false);
    assert.equal(readU8(r3.attrs[0]), 7);
  });

  test('respects offset/end bounds', () => {
    const buf = hex('ff ff 08 00 01 00 01 00 00 00 08 00 02 00 02 00 00 00');
    const { attrs } = parseAttributes(buf, 2, 10);
    assert.equal(attrs.length, 1);
    assert.equal(readU32(attrs[0]), 1);
  });

  test('stops at MAX_ATTRIBUTES', () => {
    const many = new Uint8Array((MAX_ATTRIBUTES + 5) * 4);
    for (let i = 0; i < many.length; i += 4) many[i] = 4;
    const { attrs, truncated } = parseAttributes(many);
    assert.equal(attrs.length, MAX_ATTRIBUTES);
    assert.equal(truncated, true);
  });

  test('fuzz: never throws, every payload lies inside the input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.nat(600), fc.nat(600), (buf, a, b) => {
        const { attrs } = parseAttributes(buf, Math.min(a, b), Math.max(a, b));
        for (const at of attrs) {
          assert.equal(at.payload.buffer, buf.buffer);
          assert.ok(at.payload.byteOffset >= buf.byteOffset);
          assert.ok(
            at.payload.byteOffset + at.payload.length <=
              buf.byteOffset + Math.min(buf.length, Math.max(a, b)),
          );
          parseAttributes(at.payload);
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('property: emit then parse gives back types and payloads', () => {
    const leaf = fc.record({
      type: fc.integer({ min: 0, max: 0x3fff }),
      payload: fc.uint8Array({ maxLength: 40 }),
    });
    fc.assert(
      fc.property(fc.array(leaf, { maxLength: 20 }), (list: AttrInput[]) => {
        const bytes = emitAttributes(list);
        assert.equal(bytes.length, attributesLength(list));
        const { attrs, truncated } = parseAttributes(bytes);
        assert.equal(truncated, false);
        assert.equal(attrs.length, list.length);
        attrs.forEach((a, i) => {
          assert.equal(a.type, list[i]!.type);
          assert.deepEqual(Uint8Array.from(a.payload), list[i]!.payload);
        });
      }),
      { numRuns: 500 },
    );
  });
});
