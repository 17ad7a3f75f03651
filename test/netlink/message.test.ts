import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  emitMessage,
  encodedLength,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  nlmsgAlign,
  parseErrorPayload,
  parseMessages,
} from '../../src/netlink/message.js';
import { cat, cstr, hex } from './hex.js';

describe('netlink/message', () => {
  test('emits nlmsghdr little-endian with nlmsg_len including the header', () => {
    const m = emitMessage(
      { type: 0x1c, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 7, pid: 0 },
      hex('06 01 00 00'),
    );
    assert.deepEqual(m, hex('14 00 00 00 1c 00 05 00 07 00 00 00 00 00 00 00 06 01 00 00'));
    assert.equal(encodedLength(4), 20);
    assert.equal(nlmsgAlign(17), 20);
  });

  test('splits a multi-part datagram with padding, ending in NLMSG_DONE', () => {
    const dgram = cat(
      hex('15 00 00 00 1c 00 02 00 09 00 00 00 d2 04 00 00'), // len 21: 5 payload bytes + 3 pad
      hex('03 01 00 00 aa 00 00 00'),
      hex('14 00 00 00 03 00 02 00 09 00 00 00 d2 04 00 00'),
      hex('00 00 00 00'),
    );
    const { messages, truncated } = parseMessages(dgram);
    assert.equal(truncated, false);
    assert.equal(messages.length, 2);
    assert.deepEqual(messages[0], {
      type: 0x1c,
      flags: NLM_F_MULTI,
      seq: 9,
      pid: 1234,
      payload: hex('03 01 00 00 aa'),
    });
    assert.equal(messages[1]?.type, NLMSG_DONE);
  });

  test('a cut or impossible length is reported as truncated', () => {
    assert.equal(parseMessages(hex('40 00 00 00 1c 00 00 00 01 00 00 00 00 00 00 00')).truncated, true);
    assert.equal(parseMessages(hex('08 00 00 00 1c 00 00 00 01 00 00 00 00 00 00 00')).truncated, true);
    assert.deepEqual(parseMessages(new Uint8Array(0)), { messages: [], truncated: false });
  });

  test('NLMSG_ERROR with capped request and extended ACK message + offset', () => {
    const payload = cat(
      hex('ea ff ff ff'), // -EINVAL
      hex('24 00 00 00 1c 00 05 00 07 00 00 00 00 00 00 00'), // request header copy
      hex('16 00 01 00'),
      cstr('address not found', 20), // 18 bytes + pad to 20
      hex('08 00 02 00 14 00 00 00'),
    );
    const dgram = cat(
      hex(
        `${(16 + payload.length).toString(16).padStart(2, '0')} 00 00 00 02 00 00 03 07 00 00 00 d2 04 00 00`,
      ),
      payload,
    );
    const [msg] = parseMessages(dgram).messages;
    assert.equal(msg?.type, NLMSG_ERROR);
    assert.equal(msg.flags, NLM_F_CAPPED | NLM_F_ACK_TLVS);
    const e = parseErrorPayload(msg.payload, msg.flags);
    assert.deepEqual(e, {
      errno: 22,
      request: { type: 0x1c, flags: 5, seq: 7, pid: 0 },
      extackMessage: 'address not found',
      extackOffset: 20,
    });
  });

  test('NLMSG_ERROR without CAPPED skips the echoed request before the TLVs', () => {
    const payload = cat(
      hex('ff ff ff ff'), // -EPERM
      hex('18 00 00 00 1c 00 05 00 08 00 00 00 00 00 00 00 01 01 00 00 04 00 01 00'), // request echoed (24 bytes)
      hex('08 00 01 00'),
      cstr('nope', 4),
    );
    const e = parseErrorPayload(payload, NLM_F_ACK_TLVS);
    assert.equal(e?.errno, 1);
    assert.equal(e?.extackMessage, 'nope');
  });

  test('an ACK is error 0; a too-short error payload is undefined', () => {
    const ack = parseErrorPayload(cat(hex('00 00 00 00'), new Uint8Array(16)), 0);
    assert.equal(ack?.errno, 0);
    assert.equal(ack?.extackMessage, undefined);
    assert.equal(parseErrorPayload(hex('00 00 00 00'), 0), undefined);
  });

  test('fuzz: parseMessages never throws and payloads stay inside the datagram', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (buf) => {
        for (const m of parseMessages(buf).messages) {
          assert.ok(m.payload.byteOffset + m.payload.length <= buf.byteOffset + buf.length);
          parseErrorPayload(m.payload, m.flags);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
