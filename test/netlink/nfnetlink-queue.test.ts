import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { NLM_F_ACK, NLM_F_REQUEST, parseMessages } from '../../src/netlink/message.js';
import {
  AF_INET,
  emitConfig,
  emitNfgenmsg,
  emitNfqMessage,
  emitVerdict,
  emitVerdictBatch,
  NF_ACCEPT,
  NF_DROP,
  NFQA_CFG_F,
  NFQNL_CFG_CMD,
  NFQNL_COPY,
  NFQNL_MSG,
  nfqMessageType,
  packetIdFast,
  parseNfgenmsg,
  parsePacket,
} from '../../src/netlink/nfnetlink-queue.js';
import { cat, hex } from './hex.js';

/** A packet message laid out as nfqnl_build_packet_message does (PACKET_HDR first). */
const KERNEL_PACKET = cat(
  hex('02 00 00 07'), // nfgenmsg: AF_INET, v0, queue 7
  hex('0b 00 01 00  00 00 00 2a  08 00  00  00'), // PACKET_HDR: id 42, ETH_P_IP, hook 0, 1 pad
  hex('08 00 05 00  00 00 00 03'), // IFINDEX_INDEV 3 (be32)
  hex('08 00 03 00  00 00 00 05'), // MARK 5 (be32)
  hex('14 00 04 00  00 00 00 00 65 53 f1 00  00 00 00 00 00 01 e2 40'), // TIMESTAMP 1700000000 s 123456 µs
  hex('08 00 1e 00  ff ff ff ff'), // unknown attribute 30: ignored
);

describe('netlink/nfnetlink-queue', () => {
  test('message types are (NFNL_SUBSYS_QUEUE << 8) | msg', () => {
    assert.equal(nfqMessageType(NFQNL_MSG.PACKET), 0x300);
    assert.equal(nfqMessageType(NFQNL_MSG.VERDICT), 0x301);
    assert.equal(nfqMessageType(NFQNL_MSG.CONFIG), 0x302);
    assert.equal(nfqMessageType(NFQNL_MSG.VERDICT_BATCH), 0x303);
  });

  test('nfgenmsg: res_id is the queue number, big-endian', () => {
    assert.deepEqual(emitNfgenmsg(AF_INET, 0x1234), hex('02 00 12 34'));
    assert.deepEqual(parseNfgenmsg(hex('0a 00 ff fe')), { family: 10, version: 0, resId: 0xfffe });
    assert.equal(parseNfgenmsg(hex('0a 00 ff')), undefined);
  });

  test('CONFIG BIND, full message with header', () => {
    const payload = emitConfig(0, { command: { cmd: NFQNL_CFG_CMD.BIND } });
    assert.deepEqual(payload, hex('00 00 00 00  08 00 01 00  01 00 00 00'));
    const msg = emitNfqMessage(NFQNL_MSG.CONFIG, NLM_F_REQUEST | NLM_F_ACK, 1, payload);
    assert.deepEqual(
      msg,
      hex('1c 00 00 00 02 03 05 00 01 00 00 00 00 00 00 00  00 00 00 00  08 00 01 00  01 00 00 00'),
    );
  });

  test('CONFIG PF_BIND carries the family big-endian in nfqnl_msg_config_cmd', () => {
    const payload = emitConfig(5, { command: { cmd: NFQNL_CFG_CMD.PF_BIND, pf: AF_INET } });
    assert.deepEqual(payload, hex('00 00 00 05  08 00 01 00  03 00 00 02'));
  });

  test('CONFIG params (packed, padded), queue maxlen and flags/mask are big-endian', () => {
    const payload = emitConfig(0x0102, {
      params: { copyMode: NFQNL_COPY.META, copyRange: 0 },
      queueMaxLen: 65536,
      flags: { mask: NFQA_CFG_F.FAIL_OPEN, value: 0 },
    });
    assert.deepEqual(
      payload,
      hex(
        '00 00 01 02' +
          '09 00 02 00  00 00 00 00 01 00 00 00' + // copy_range 0, copy_mode META, 3 pad
          '08 00 03 00  00 01 00 00' + // maxlen 65536
          '08 00 04 00  00 00 00 01' + // mask FAIL_OPEN
          '08 00 05 00  00 00 00 00', // flags 0
      ),
    );
    const copy = emitConfig(1, { params: { copyMode: NFQNL_COPY.PACKET, copyRange: 0xffff } });
    assert.deepEqual(copy, hex('00 00 00 01  09 00 02 00  00 00 ff ff 02 00 00 00'));
  });

  test('VERDICT with and without mark; VERDICT_BATCH', () => {
    assert.deepEqual(
      emitVerdict(7, 0x01020304, NF_ACCEPT),
      hex('00 00 00 07  0c 00 02 00  00 00 00 01  01 02 03 04'),
    );
    assert.deepEqual(
      emitVerdict(7, 9, NF_DROP, 0xdeadbeef),
      hex('00 00 00 07  0c 00 02 00  00 00 00 00  00 00 00 09  08 00 03 00  de ad be ef'),
    );
    const batch = emitNfqMessage(
      NFQNL_MSG.VERDICT_BATCH,
      NLM_F_REQUEST,
      3,
      emitVerdictBatch(0, 0xffffffff, NF_ACCEPT),
    );
    assert.deepEqual(
      batch,
      hex(
        '20 00 00 00 03 03 01 00 03 00 00 00 00 00 00 00  00 00 00 00  0c 00 02 00  00 00 00 01  ff ff ff ff',
      ),
    );
  });

  test('queue numbers outside [0, 65535] are refused', () => {
    assert.throws(() => emitVerdict(65536, 1, NF_ACCEPT), RangeError);
    assert.throws(() => emitConfig(-1, {}), RangeError);
    assert.throws(() => emitVerdictBatch(1.5, 1, NF_ACCEPT), RangeError);
  });

  test('parsePacket decodes a kernel packet message, ignoring unknown attributes', () => {
    assert.deepEqual(parsePacket(KERNEL_PACKET), {
      queueNum: 7,
      family: AF_INET,
      id: 42,
      hwProtocol: 0x0800,
      hook: 0,
      indev: 3,
      mark: 5,
      timestampMicros: 1_700_000_000_123_456,
    });
    // Inside a netlink frame, as read from the socket.
    const frame = emitNfqMessage(NFQNL_MSG.PACKET, 0, 0, KERNEL_PACKET);
    const [m] = parseMessages(frame).messages;
    assert.equal(m!.type, 0x300);
    assert.equal(parsePacket(m!.payload)?.id, 42);
  });

  test('parsePacket: undefined without nfgenmsg or a usable PACKET_HDR; payload is a view', () => {
    assert.equal(parsePacket(hex('02 00 00')), undefined);
    assert.equal(parsePacket(hex('02 00 00 07')), undefined);
    assert.equal(parsePacket(hex('02 00 00 07  0a 00 01 00  00 00 00 2a 08 00 00 00')), undefined); // 6-byte hdr
    const withData = cat(
      hex('0a 00 00 01  0b 00 01 00  ff ff ff ff 86 dd 01 00'),
      hex('08 00 0a 00  45 00 00 14'),
    );
    const p = parsePacket(withData)!;
    assert.equal(p.id, 0xffffffff);
    assert.equal(p.hwProtocol, 0x86dd);
    assert.equal(p.hook, 1);
    assert.deepEqual(p.payload, hex('45 00 00 14'));
  });

  test('packetIdFast agrees with parsePacket, including when PACKET_HDR is not first', () => {
    assert.equal(packetIdFast(KERNEL_PACKET), 42);
    const reordered = cat(
      hex('02 00 00 07'),
      hex('08 00 03 00 00 00 00 05'),
      hex('0b 00 01 00 00 00 01 00 08 00 00 00'),
    );
    assert.equal(packetIdFast(reordered), 256);
    assert.equal(packetIdFast(hex('02 00 00 07 08 00 03 00 00 00 00 05')), -1);
  });

  test('parsers never throw on arbitrary bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 96 }),
          // Mostly well-formed: a PACKET_HDR first, then noise (exercises the fast path).
          fc.uint8Array({ maxLength: 40 }).map((tail) => cat(hex('02 00 00 07 0b 00 01 00'), tail)),
        ),
        (bytes) => {
          const p = parsePacket(bytes);
          assert.equal(packetIdFast(bytes), p ? p.id : -1);
          if (p) assert.ok(p.id >= 0 && p.id <= 0xffffffff);
        },
      ),
    );
  });

  test('emitVerdict round-trips ids through the verdict header for any id', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffff }), (id, q) => {
        const p = emitVerdict(q, id, NF_ACCEPT);
        const d = new DataView(p.buffer, p.byteOffset);
        assert.equal(d.getUint16(2, false), q);
        assert.equal(d.getUint32(12, false), id);
      }),
    );
  });
});
