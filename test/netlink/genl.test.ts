import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  CTRL_CMD_GETFAMILY,
  emitGetFamilyPayload,
  GENL_ID_CTRL,
  parseFamilyReply,
  parseGenl,
} from '../../src/netlink/genl.js';
import { parseMessages } from '../../src/netlink/message.js';
import { cat, cstr, hex } from './hex.js';

// A CTRL_CMD_NEWFAMILY reply for mptcp_pm as the kernel lays it out (ctrl_fill_info).
const familyAttrs = cat(
  hex('0d 00 02 00'),
  cstr('mptcp_pm', 12), // FAMILY_NAME
  hex('06 00 01 00 1c 00 00 00'), // FAMILY_ID 28
  hex('08 00 03 00 01 00 00 00'), // VERSION 1
  hex('08 00 04 00 00 00 00 00'), // HDRSIZE 0
  hex('08 00 05 00 00 00 00 00'), // MAXATTR 0
  hex('44 00 07 00'), // MCAST_GROUPS (68 bytes)
  hex('20 00 01 00'), // group #1
  hex('08 00 02 00 08 00 00 00'), // GRP_ID 8
  hex('12 00 01 00'),
  cstr('mptcp_pm_cmds', 16), // GRP_NAME
  hex('20 00 02 80'), // group #2 (with NLA_F_NESTED)
  hex('08 00 02 00 09 00 00 00'),
  hex('14 00 01 00'),
  cstr('mptcp_pm_events', 16),
);
const reply = cat(
  hex(`${(20 + familyAttrs.length).toString(16)} 00 00 00 10 00 00 00 01 00 00 00 d2 04 00 00`),
  hex('01 02 00 00'), // genl: NEWFAMILY, version 2
  familyAttrs,
);

describe('netlink/genl', () => {
  test('GETFAMILY request payload: cmd 3, version 2, FAMILY_NAME', () => {
    assert.deepEqual(
      emitGetFamilyPayload('mptcp_pm'),
      cat(hex('03 02 00 00 0d 00 02 00'), cstr('mptcp_pm', 12)),
    );
    assert.equal(CTRL_CMD_GETFAMILY, 3);
    assert.equal(GENL_ID_CTRL, 0x10);
  });

  test('decodes a hand-built nlctrl reply: family id and multicast groups', () => {
    const { messages, truncated } = parseMessages(reply);
    assert.equal(truncated, false);
    assert.equal(messages[0]?.type, GENL_ID_CTRL);
    const fam = parseFamilyReply(messages[0]!.payload);
    assert.ok(fam);
    assert.equal(fam.id, 28);
    assert.equal(fam.name, 'mptcp_pm');
    assert.equal(fam.version, 1);
    assert.deepEqual(
      [...fam.groups],
      [
        ['mptcp_pm_cmds', 8],
        ['mptcp_pm_events', 9],
      ],
    );
  });

  test('a reply without the id is rejected; short payloads are undefined', () => {
    assert.equal(parseFamilyReply(cat(hex('01 02 00 00 0d 00 02 00'), cstr('mptcp_pm', 12))), undefined);
    assert.equal(parseGenl(hex('01 02')), undefined);
    assert.equal(parseFamilyReply(hex('01')), undefined);
  });

  test('fuzz: the family reply decoder never throws, also on mutated real replies', () => {
    const payload = parseMessages(reply).messages[0]!.payload;
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(payload.length - 1),
        fc.nat(255),
        (junk, at, byte) => {
          parseFamilyReply(junk);
          const mutated = Uint8Array.from(payload);
          mutated[at] = byte;
          parseFamilyReply(mutated);
          parseFamilyReply(mutated.subarray(0, at));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
