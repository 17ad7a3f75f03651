/**
 * fast-check arbitraries for valid MPTCP option values (every subtype and form), shared by the
 * round-trip property tests and the fuzz test. Values are canonical: what parse returns for the
 * bytes emit writes (addresses in Node's textual form, 32-bit wire fields below 2^32, optional
 * keys absent rather than undefined).
 */
import fc from 'fast-check';
import { formatIpv4, formatIpv6 } from '../../src/wire/ip-address.js';
import type { DssMapping, DssOption, MptcpOption } from '../../src/wire/types.js';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

export const arbMpCapable: fc.Arbitrary<MptcpOption> = fc
  .tuple(fc.integer({ min: 0, max: 15 }), u8, fc.integer({ min: 0, max: 4 }), u64, u64, u16, u16)
  .map(([version, flags, form, senderKey, receiverKey, dataLength, checksum]) => {
    const o: MptcpOption = { kind: 'mp_capable', version, flags };
    if (form >= 1) o.senderKey = senderKey;
    if (form >= 2) o.receiverKey = receiverKey;
    if (form >= 3) o.dataLength = dataLength;
    if (form >= 4) o.checksum = checksum;
    return o;
  });

export const arbMpJoin: fc.Arbitrary<MptcpOption> = fc.oneof(
  fc.tuple(fc.boolean(), u8, u32, u32).map(([backup, addressId, token, nonce]) => ({
    kind: 'mp_join' as const,
    form: 'syn' as const,
    backup,
    addressId,
    token,
    nonce,
  })),
  fc.tuple(fc.boolean(), u8, bytes(8), u32).map(([backup, addressId, hmac, nonce]) => ({
    kind: 'mp_join' as const,
    form: 'synack' as const,
    backup,
    addressId,
    hmac,
    nonce,
  })),
  bytes(20).map((hmac) => ({ kind: 'mp_join' as const, form: 'ack' as const, hmac })),
);

export const arbDss: fc.Arbitrary<MptcpOption> = fc
  .tuple(
    fc.option(fc.tuple(fc.boolean(), u64)),
    fc.option(fc.tuple(fc.boolean(), u64, u32, u16, fc.option(u16))),
    fc.boolean(),
  )
  .map(([ack, map, dataFin]) => {
    const o: DssOption = { kind: 'dss', dataFin };
    if (ack) {
      const [ack64, v] = ack;
      o.dataAck = ack64 ? v : BigInt.asUintN(32, v);
      o.ack64 = ack64;
    }
    if (map) {
      const [dsn64, dsn, ssn, length, checksum] = map;
      const m: DssMapping = { dsn: dsn64 ? dsn : BigInt.asUintN(32, dsn), dsn64, ssn, length };
      if (checksum !== null) m.checksum = checksum;
      o.mapping = m;
    }
    return o;
  });

export const arbIpv4 = bytes(4).map((b) => formatIpv4(b, 0));
export const arbIpv6 = fc
  .oneof(
    bytes(16),
    // Addresses with zero runs and the IPv4-mapped/compatible forms, which random bytes rarely hit.
    fc
      .tuple(fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0x2001), { minLength: 8, maxLength: 8 }))
      .map(([w]) => {
        const b = new Uint8Array(16);
        w.forEach((x, i) => {
          b[2 * i] = x >> 8;
          b[2 * i + 1] = x & 0xff;
        });
        return b;
      }),
  )
  .map((b) => formatIpv6(b, 0));

export const arbAddAddr: fc.Arbitrary<MptcpOption> = fc
  .tuple(fc.boolean(), u8, fc.boolean(), arbIpv4, arbIpv6, fc.option(u16), bytes(8))
  .map(([echo, addressId, v4, a4, a6, port, hmac]) => {
    const o: MptcpOption = { kind: 'add_addr', echo, addressId, family: v4 ? 4 : 6, address: v4 ? a4 : a6 };
    if (port !== null) o.port = port;
    if (!echo) o.hmac = hmac;
    return o;
  });

export const arbRemoveAddr: fc.Arbitrary<MptcpOption> = fc
  .array(u8, { minLength: 1, maxLength: 36 })
  .map((addressIds) => ({ kind: 'remove_addr' as const, addressIds }));

export const arbMpPrio: fc.Arbitrary<MptcpOption> = fc
  .tuple(fc.boolean(), fc.option(u8))
  .map(([backup, id]) =>
    id === null ? { kind: 'mp_prio', backup } : { kind: 'mp_prio', backup, addressId: id },
  );

export const arbMpFail: fc.Arbitrary<MptcpOption> = u64.map((dsn) => ({ kind: 'mp_fail' as const, dsn }));

export const arbMpFastclose: fc.Arbitrary<MptcpOption> = u64.map((receiverKey) => ({
  kind: 'mp_fastclose' as const,
  receiverKey,
}));

export const arbMpTcpRst: fc.Arbitrary<MptcpOption> = fc
  .tuple(fc.integer({ min: 0, max: 15 }), u8)
  .map(([flags, reason]) => ({ kind: 'mp_tcprst' as const, flags, reason }));

/** Options of subtypes ≥ 9 (unknown to this codec), as raw bytes. */
export const arbUnknown: fc.Arbitrary<MptcpOption> = fc
  .tuple(fc.integer({ min: 9, max: 15 }), fc.integer({ min: 0, max: 15 }), fc.uint8Array({ maxLength: 37 }))
  .map(([subtype, nibble, body]) => {
    const raw = new Uint8Array(3 + body.length);
    raw[0] = 30;
    raw[1] = raw.length;
    raw[2] = (subtype << 4) | nibble;
    raw.set(body, 3);
    return { kind: 'unknown' as const, subtype, raw };
  });

export const arbMptcpOption: fc.Arbitrary<MptcpOption> = fc.oneof(
  arbMpCapable,
  arbMpJoin,
  arbDss,
  arbAddAddr,
  arbRemoveAddr,
  arbMpPrio,
  arbMpFail,
  arbMpFastclose,
  arbMpTcpRst,
  arbUnknown,
);
