/**
 * MPTCP option parser (RFC 8684 §3, Linux net/mptcp/options.c mptcp_parse_option). See the
 * contract in mptcp-option.ts: never throws, never reads past the option, unknown forms are kept.
 */
import { formatIpv4, formatIpv6, IPV4_ADDRESS_BYTES, IPV6_ADDRESS_BYTES } from './ip-address.js';
import {
  ADD_ADDR_ECHO_BIT,
  ADD_ADDR_HMAC_BYTES,
  ADD_ADDR_OFF_ADDRESS,
  ADD_ADDR_OFF_ADDRESS_ID,
  ADD_ADDR_PORT_BYTES,
  addAddrLength,
  DSS_BASE_LENGTH,
  DSS_CHECKSUM_BYTES,
  DSS_OFF_FLAGS,
  DssFlag,
  dssLengthOfFlags,
  MIN_OPTION_LENGTH,
  MP_CAPABLE_ACK_DATA_CSUM_LENGTH,
  MP_CAPABLE_ACK_DATA_LENGTH,
  MP_CAPABLE_ACK_LENGTH,
  MP_CAPABLE_SYN_LENGTH,
  MP_CAPABLE_SYNACK_LENGTH,
  MP_FAIL_LENGTH,
  MP_FASTCLOSE_LENGTH,
  MP_JOIN_ACK_HMAC_BYTES,
  MP_JOIN_ACK_LENGTH,
  MP_JOIN_SYN_LENGTH,
  MP_JOIN_SYNACK_HMAC_BYTES,
  MP_JOIN_SYNACK_LENGTH,
  MP_PRIO_6824_LENGTH,
  MP_PRIO_BACKUP_BIT,
  MP_PRIO_LENGTH,
  MP_TCPRST_LENGTH,
  MPC_OFF_CHECKSUM,
  MPC_OFF_DATA_LENGTH,
  MPC_OFF_RECEIVER_KEY,
  MPC_OFF_SENDER_KEY,
  MPJ_BACKUP_BIT,
  MPJ_OFF_ADDRESS_ID,
  MPJ_OFF_HMAC,
  MPJ_OFF_SYN_NONCE,
  MPJ_OFF_SYNACK_NONCE,
  MPJ_OFF_TOKEN,
  OFF_BYTE3,
  OFF_KIND,
  OFF_LENGTH,
  OFF_SUBTYPE,
  OFF_U64_AFTER_RESERVED,
  REMOVE_ADDR_OFF_IDS,
  u16,
  u32,
  u64,
} from './mptcp-option-layout.js';
import {
  type AddAddrOption,
  type DssMapping,
  type DssOption,
  type MpCapableOption,
  type MptcpOption,
  type ParseResult,
  MptcpSubtype,
  TCPOPT_MPTCP,
  WireError,
} from './types.js';

function ok<T>(value: T, length: number): ParseResult<T> {
  return { ok: true, value, length };
}

function fail(
  code: 'truncated' | 'bad-length' | 'not-mptcp',
  message: string,
  offset: number,
): ParseResult<never> {
  return { ok: false, error: new WireError(code, message, offset) };
}

function unknown(buf: Uint8Array, len: number): ParseResult<MptcpOption> {
  return ok({ kind: 'unknown', subtype: buf[OFF_SUBTYPE]! >> 4, raw: buf.subarray(0, len) }, len);
}

/** Parses one MPTCP option starting at its kind byte (see the module contract). */
export function parseMptcpOption(buf: Uint8Array): ParseResult<MptcpOption> {
  if (buf.length < 2) return fail('truncated', 'MPTCP option shorter than 2 bytes', buf.length);
  if (buf[OFF_KIND] !== TCPOPT_MPTCP) return fail('not-mptcp', `TCP option kind ${buf[OFF_KIND]}, not 30`, 0);
  const len = buf[OFF_LENGTH]!;
  if (len < MIN_OPTION_LENGTH) return fail('bad-length', `MPTCP option length ${len} < 3`, OFF_LENGTH);
  if (len > buf.length) {
    return fail(
      'truncated',
      `MPTCP option length ${len} exceeds the ${buf.length} bytes available`,
      OFF_LENGTH,
    );
  }
  const subtype = buf[OFF_SUBTYPE]! >> 4;
  switch (subtype) {
    case MptcpSubtype.MP_CAPABLE:
      return parseMpCapable(buf, len);
    case MptcpSubtype.MP_JOIN:
      return parseMpJoin(buf, len);
    case MptcpSubtype.DSS:
      return parseDss(buf, len);
    case MptcpSubtype.ADD_ADDR:
      return parseAddAddr(buf, len);
    case MptcpSubtype.REMOVE_ADDR: {
      if (len === REMOVE_ADDR_OFF_IDS) return unknown(buf, len); // no address ID: fits no form
      const addressIds: number[] = [];
      for (let i = REMOVE_ADDR_OFF_IDS; i < len; i++) addressIds.push(buf[i]!);
      return ok({ kind: 'remove_addr', addressIds }, len);
    }
    case MptcpSubtype.MP_PRIO: {
      const backup = (buf[OFF_SUBTYPE]! & MP_PRIO_BACKUP_BIT) !== 0;
      if (len === MP_PRIO_LENGTH) return ok({ kind: 'mp_prio', backup }, len);
      if (len === MP_PRIO_6824_LENGTH)
        return ok({ kind: 'mp_prio', backup, addressId: buf[OFF_BYTE3]! }, len);
      return unknown(buf, len);
    }
    case MptcpSubtype.MP_FAIL:
      if (len !== MP_FAIL_LENGTH) return unknown(buf, len);
      return ok({ kind: 'mp_fail', dsn: u64(buf, OFF_U64_AFTER_RESERVED) }, len);
    case MptcpSubtype.MP_FASTCLOSE:
      if (len !== MP_FASTCLOSE_LENGTH) return unknown(buf, len);
      return ok({ kind: 'mp_fastclose', receiverKey: u64(buf, OFF_U64_AFTER_RESERVED) }, len);
    case MptcpSubtype.MP_TCPRST:
      if (len !== MP_TCPRST_LENGTH) return unknown(buf, len);
      return ok({ kind: 'mp_tcprst', flags: buf[OFF_SUBTYPE]! & 0x0f, reason: buf[OFF_BYTE3]! }, len);
    default:
      return unknown(buf, len);
  }
}

function parseMpCapable(buf: Uint8Array, len: number): ParseResult<MptcpOption> {
  if (
    len !== MP_CAPABLE_SYN_LENGTH &&
    len !== MP_CAPABLE_SYNACK_LENGTH &&
    len !== MP_CAPABLE_ACK_LENGTH &&
    len !== MP_CAPABLE_ACK_DATA_LENGTH &&
    len !== MP_CAPABLE_ACK_DATA_CSUM_LENGTH
  ) {
    return unknown(buf, len);
  }
  const opt: MpCapableOption = {
    kind: 'mp_capable',
    version: buf[OFF_SUBTYPE]! & 0x0f,
    flags: buf[OFF_BYTE3]!,
  };
  if (len >= MP_CAPABLE_SYNACK_LENGTH) opt.senderKey = u64(buf, MPC_OFF_SENDER_KEY);
  if (len >= MP_CAPABLE_ACK_LENGTH) opt.receiverKey = u64(buf, MPC_OFF_RECEIVER_KEY);
  if (len >= MP_CAPABLE_ACK_DATA_LENGTH) opt.dataLength = u16(buf, MPC_OFF_DATA_LENGTH);
  if (len === MP_CAPABLE_ACK_DATA_CSUM_LENGTH) opt.checksum = u16(buf, MPC_OFF_CHECKSUM);
  return ok(opt, len);
}

function parseMpJoin(buf: Uint8Array, len: number): ParseResult<MptcpOption> {
  const backup = (buf[OFF_SUBTYPE]! & MPJ_BACKUP_BIT) !== 0;
  switch (len) {
    case MP_JOIN_SYN_LENGTH:
      return ok(
        {
          kind: 'mp_join',
          form: 'syn',
          backup,
          addressId: buf[MPJ_OFF_ADDRESS_ID]!,
          token: u32(buf, MPJ_OFF_TOKEN),
          nonce: u32(buf, MPJ_OFF_SYN_NONCE),
        },
        len,
      );
    case MP_JOIN_SYNACK_LENGTH:
      return ok(
        {
          kind: 'mp_join',
          form: 'synack',
          backup,
          addressId: buf[MPJ_OFF_ADDRESS_ID]!,
          hmac: buf.subarray(MPJ_OFF_HMAC, MPJ_OFF_HMAC + MP_JOIN_SYNACK_HMAC_BYTES),
          nonce: u32(buf, MPJ_OFF_SYNACK_NONCE),
        },
        len,
      );
    case MP_JOIN_ACK_LENGTH:
      return ok(
        {
          kind: 'mp_join',
          form: 'ack',
          hmac: buf.subarray(MPJ_OFF_HMAC, MPJ_OFF_HMAC + MP_JOIN_ACK_HMAC_BYTES),
        },
        len,
      );
    default:
      return unknown(buf, len);
  }
}

function parseDss(buf: Uint8Array, len: number): ParseResult<MptcpOption> {
  const flags = buf[DSS_OFF_FLAGS]!;
  const hasMap = (flags & DssFlag.MAPPING) !== 0;
  const expected = dssLengthOfFlags(flags);
  // A checksum exists only inside a mapping (RFC 8684 §3.3, Figure 9).
  const withChecksum = hasMap && len === expected + DSS_CHECKSUM_BYTES;
  if (len !== expected && !withChecksum) return unknown(buf, len);
  const opt: DssOption = { kind: 'dss', dataFin: (flags & DssFlag.DATA_FIN) !== 0 };
  let o = DSS_BASE_LENGTH;
  if (flags & DssFlag.DATA_ACK) {
    if (flags & DssFlag.ACK64) {
      opt.dataAck = u64(buf, o);
      opt.ack64 = true;
      o += 8;
    } else {
      opt.dataAck = BigInt(u32(buf, o));
      opt.ack64 = false;
      o += 4;
    }
  }
  if (hasMap) {
    const dsn64 = (flags & DssFlag.DSN64) !== 0;
    const dsn = dsn64 ? u64(buf, o) : BigInt(u32(buf, o));
    o += dsn64 ? 8 : 4;
    const mapping: DssMapping = { dsn, dsn64, ssn: u32(buf, o), length: u16(buf, o + 4) };
    if (withChecksum) mapping.checksum = u16(buf, o + 6);
    opt.mapping = mapping;
  }
  return ok(opt, len);
}

function parseAddAddr(buf: Uint8Array, len: number): ParseResult<MptcpOption> {
  const echo = (buf[OFF_SUBTYPE]! & ADD_ADDR_ECHO_BIT) !== 0;
  // As Linux: an echo carries no HMAC, a non-echo always does; the length gives family and port.
  const hmac = !echo;
  let addressBytes: number;
  let port: boolean;
  if (len === addAddrLength(IPV4_ADDRESS_BYTES, false, hmac)) {
    addressBytes = IPV4_ADDRESS_BYTES;
    port = false;
  } else if (len === addAddrLength(IPV4_ADDRESS_BYTES, true, hmac)) {
    addressBytes = IPV4_ADDRESS_BYTES;
    port = true;
  } else if (len === addAddrLength(IPV6_ADDRESS_BYTES, false, hmac)) {
    addressBytes = IPV6_ADDRESS_BYTES;
    port = false;
  } else if (len === addAddrLength(IPV6_ADDRESS_BYTES, true, hmac)) {
    addressBytes = IPV6_ADDRESS_BYTES;
    port = true;
  } else {
    return unknown(buf, len);
  }
  const v4 = addressBytes === IPV4_ADDRESS_BYTES;
  const opt: AddAddrOption = {
    kind: 'add_addr',
    echo,
    addressId: buf[ADD_ADDR_OFF_ADDRESS_ID]!,
    family: v4 ? 4 : 6,
    address: v4 ? formatIpv4(buf, ADD_ADDR_OFF_ADDRESS) : formatIpv6(buf, ADD_ADDR_OFF_ADDRESS),
  };
  let o = ADD_ADDR_OFF_ADDRESS + addressBytes;
  if (port) {
    opt.port = u16(buf, o);
    o += ADD_ADDR_PORT_BYTES;
  }
  if (hmac) opt.hmac = buf.subarray(o, o + ADD_ADDR_HMAC_BYTES);
  return ok(opt, len);
}
