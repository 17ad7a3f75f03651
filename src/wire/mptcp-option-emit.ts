/**
 * MPTCP option emitter (RFC 8684 §3, Linux net/mptcp/options.c mptcp_write_options). See the
 * contract in mptcp-option.ts: validates everything before writing, throws WireError.
 */
import { IPV4_ADDRESS_BYTES, IPV6_ADDRESS_BYTES, writeIpv4, writeIpv6 } from './ip-address.js';
import {
  ADD_ADDR_ECHO_BIT,
  ADD_ADDR_HMAC_BYTES,
  ADD_ADDR_OFF_ADDRESS,
  ADD_ADDR_PORT_BYTES,
  addAddrLength,
  DSS_BASE_LENGTH,
  DSS_CHECKSUM_BYTES,
  DssFlag,
  dssLengthOfFlags,
  low32,
  MAX_OPTION_LENGTH,
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
  MPJ_OFF_HMAC,
  MPJ_OFF_SYN_NONCE,
  MPJ_OFF_SYNACK_NONCE,
  MPJ_OFF_TOKEN,
  OFF_BYTE3,
  OFF_KIND,
  OFF_LENGTH,
  OFF_SUBTYPE,
  OFF_U64_AFTER_RESERVED,
  put16,
  put32,
  put64,
  REMOVE_ADDR_OFF_IDS,
  U64_MAX,
} from './mptcp-option-layout.js';
import {
  type AddAddrOption,
  type DssOption,
  type MpCapableOption,
  type MptcpOption,
  MptcpSubtype,
  TCPOPT_MPTCP,
  WireError,
} from './types.js';

function badValue(message: string): WireError {
  return new WireError('bad-value', message);
}

function checkU8(v: number, what: string): void {
  if ((v & 0xff) !== v) throw badValue(`${what} ${v} is not an integer in 0…255`);
}

function checkU16(v: number, what: string): void {
  if ((v & 0xffff) !== v) throw badValue(`${what} ${v} is not an integer in 0…65535`);
}

function checkU32(v: number, what: string): void {
  if (v >>> 0 !== v) throw badValue(`${what} ${v} is not an integer in 0…2^32-1`);
}

function checkU64(v: bigint, what: string): void {
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX)
    throw badValue(`${what} ${v} is not a bigint in 0…2^64-1`);
}

function checkBytes(v: Uint8Array | undefined, n: number, what: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== n) throw badValue(`${what} must be ${n} bytes`);
  return v;
}

function mpCapableLength(opt: MpCapableOption): number {
  if (opt.senderKey === undefined) {
    if (opt.receiverKey !== undefined || opt.dataLength !== undefined || opt.checksum !== undefined) {
      throw badValue('MP_CAPABLE: receiverKey/dataLength/checksum need senderKey');
    }
    return MP_CAPABLE_SYN_LENGTH;
  }
  if (opt.receiverKey === undefined) {
    if (opt.dataLength !== undefined || opt.checksum !== undefined) {
      throw badValue('MP_CAPABLE: dataLength/checksum need receiverKey');
    }
    return MP_CAPABLE_SYNACK_LENGTH;
  }
  if (opt.dataLength === undefined) {
    if (opt.checksum !== undefined) throw badValue('MP_CAPABLE: checksum needs dataLength');
    return MP_CAPABLE_ACK_LENGTH;
  }
  return opt.checksum === undefined ? MP_CAPABLE_ACK_DATA_LENGTH : MP_CAPABLE_ACK_DATA_CSUM_LENGTH;
}

function dssFlags(opt: DssOption): number {
  let flags = opt.dataFin ? DssFlag.DATA_FIN : 0;
  if (opt.dataAck !== undefined) flags |= DssFlag.DATA_ACK | (opt.ack64 ? DssFlag.ACK64 : 0);
  if (opt.mapping !== undefined) flags |= DssFlag.MAPPING | (opt.mapping.dsn64 ? DssFlag.DSN64 : 0);
  return flags;
}

function addressBytesOf(opt: AddAddrOption): number {
  if (opt.family === 4) return IPV4_ADDRESS_BYTES;
  if (opt.family === 6) return IPV6_ADDRESS_BYTES;
  throw badValue(`ADD_ADDR family ${String(opt.family)} is not 4 or 6`);
}

/** Bytes `opt` takes on the wire, kind and length included. Throws WireError('bad-value') if it has no form. */
export function encodedLength(opt: MptcpOption): number {
  switch (opt.kind) {
    case 'mp_capable':
      return mpCapableLength(opt);
    case 'mp_join':
      return opt.form === 'syn'
        ? MP_JOIN_SYN_LENGTH
        : opt.form === 'synack'
          ? MP_JOIN_SYNACK_LENGTH
          : MP_JOIN_ACK_LENGTH;
    case 'dss': {
      const n = dssLengthOfFlags(dssFlags(opt));
      return opt.mapping?.checksum !== undefined ? n + DSS_CHECKSUM_BYTES : n;
    }
    case 'add_addr':
      return addAddrLength(addressBytesOf(opt), opt.port !== undefined, !opt.echo);
    case 'remove_addr':
      return REMOVE_ADDR_OFF_IDS + opt.addressIds.length;
    case 'mp_prio':
      return opt.addressId === undefined ? MP_PRIO_LENGTH : MP_PRIO_6824_LENGTH;
    case 'mp_fail':
      return MP_FAIL_LENGTH;
    case 'mp_fastclose':
      return MP_FASTCLOSE_LENGTH;
    case 'mp_tcprst':
      return MP_TCPRST_LENGTH;
    case 'unknown':
      return opt.raw.length;
    default:
      throw badValue(`unknown MPTCP option kind ${String((opt as { kind: unknown }).kind)}`);
  }
}

/**
 * Writes `opt` (kind, length, body) into `out` at `offset` and returns the number of bytes written.
 * Throws WireError('bad-value') for unencodable values, WireError('too-large') if `out` is too short.
 */
export function emitMptcpOption(opt: MptcpOption, out: Uint8Array, offset: number): number {
  const len = encodedLength(opt);
  if (len > MAX_OPTION_LENGTH) throw new WireError('too-large', `MPTCP option of ${len} bytes exceeds 255`);
  if (!Number.isInteger(offset) || offset < 0 || offset + len > out.length) {
    throw new WireError('too-large', `MPTCP option of ${len} bytes does not fit at offset ${offset}`, offset);
  }
  if (opt.kind === 'unknown') {
    const raw = opt.raw;
    if (raw.length < MIN_OPTION_LENGTH || raw[OFF_KIND] !== TCPOPT_MPTCP || raw[OFF_LENGTH] !== raw.length) {
      throw badValue('unknown MPTCP option: raw must hold kind 30 and its own length (≥ 3)');
    }
    out.set(raw, offset);
    return len;
  }
  // Validate everything before writing, so that a throw leaves `out` untouched.
  const o = offset;
  switch (opt.kind) {
    case 'mp_capable': {
      if ((opt.version & 0x0f) !== opt.version) throw badValue(`MP_CAPABLE version ${opt.version} > 15`);
      checkU8(opt.flags, 'MP_CAPABLE flags');
      if (opt.senderKey !== undefined) checkU64(opt.senderKey, 'MP_CAPABLE senderKey');
      if (opt.receiverKey !== undefined) checkU64(opt.receiverKey, 'MP_CAPABLE receiverKey');
      if (opt.dataLength !== undefined) checkU16(opt.dataLength, 'MP_CAPABLE dataLength');
      if (opt.checksum !== undefined) checkU16(opt.checksum, 'MP_CAPABLE checksum');
      writeHeader(out, o, len, MptcpSubtype.MP_CAPABLE, opt.version, opt.flags);
      if (opt.senderKey !== undefined) put64(out, o + MPC_OFF_SENDER_KEY, opt.senderKey);
      if (opt.receiverKey !== undefined) put64(out, o + MPC_OFF_RECEIVER_KEY, opt.receiverKey);
      if (opt.dataLength !== undefined) put16(out, o + MPC_OFF_DATA_LENGTH, opt.dataLength);
      if (opt.checksum !== undefined) put16(out, o + MPC_OFF_CHECKSUM, opt.checksum);
      return len;
    }
    case 'mp_join':
      return emitMpJoin(opt, out, o, len);
    case 'dss':
      return emitDss(opt, out, o, len);
    case 'add_addr':
      return emitAddAddr(opt, out, o, len);
    case 'remove_addr': {
      if (opt.addressIds.length === 0) throw badValue('REMOVE_ADDR needs at least one address ID');
      for (const id of opt.addressIds) checkU8(id, 'REMOVE_ADDR address ID');
      writeHeader(out, o, len, MptcpSubtype.REMOVE_ADDR, 0, opt.addressIds[0]!);
      for (let i = 1; i < opt.addressIds.length; i++) out[o + REMOVE_ADDR_OFF_IDS + i] = opt.addressIds[i]!;
      return len;
    }
    case 'mp_prio': {
      if (opt.addressId !== undefined) checkU8(opt.addressId, 'MP_PRIO address ID');
      const nibble = opt.backup ? MP_PRIO_BACKUP_BIT : 0;
      if (opt.addressId === undefined) {
        out[o + OFF_KIND] = TCPOPT_MPTCP;
        out[o + OFF_LENGTH] = len;
        out[o + OFF_SUBTYPE] = (MptcpSubtype.MP_PRIO << 4) | nibble;
      } else {
        writeHeader(out, o, len, MptcpSubtype.MP_PRIO, nibble, opt.addressId);
      }
      return len;
    }
    case 'mp_fail':
      checkU64(opt.dsn, 'MP_FAIL dsn');
      writeHeader(out, o, len, MptcpSubtype.MP_FAIL, 0, 0);
      put64(out, o + OFF_U64_AFTER_RESERVED, opt.dsn);
      return len;
    case 'mp_fastclose':
      checkU64(opt.receiverKey, 'MP_FASTCLOSE receiverKey');
      writeHeader(out, o, len, MptcpSubtype.MP_FASTCLOSE, 0, 0);
      put64(out, o + OFF_U64_AFTER_RESERVED, opt.receiverKey);
      return len;
    case 'mp_tcprst':
      if ((opt.flags & 0x0f) !== opt.flags) throw badValue(`MP_TCPRST flags ${opt.flags} > 15`);
      checkU8(opt.reason, 'MP_TCPRST reason');
      writeHeader(out, o, len, MptcpSubtype.MP_TCPRST, opt.flags, opt.reason);
      return len;
  }
}

/** Kind, length, subtype‖nibble, byte 3: the 4-byte word every option but MP_PRIO (v1) starts with. */
function writeHeader(
  out: Uint8Array,
  o: number,
  len: number,
  subtype: number,
  nibble: number,
  byte3: number,
): void {
  out[o + OFF_KIND] = TCPOPT_MPTCP;
  out[o + OFF_LENGTH] = len;
  out[o + OFF_SUBTYPE] = (subtype << 4) | nibble;
  out[o + OFF_BYTE3] = byte3;
}

function emitMpJoin(opt: MptcpOption & { kind: 'mp_join' }, out: Uint8Array, o: number, len: number): number {
  switch (opt.form) {
    case 'syn':
      checkU8(opt.addressId, 'MP_JOIN address ID');
      checkU32(opt.token, 'MP_JOIN token');
      checkU32(opt.nonce, 'MP_JOIN nonce');
      writeHeader(out, o, len, MptcpSubtype.MP_JOIN, opt.backup ? MPJ_BACKUP_BIT : 0, opt.addressId);
      put32(out, o + MPJ_OFF_TOKEN, opt.token);
      put32(out, o + MPJ_OFF_SYN_NONCE, opt.nonce);
      return len;
    case 'synack': {
      checkU8(opt.addressId, 'MP_JOIN address ID');
      const hmac = checkBytes(opt.hmac, MP_JOIN_SYNACK_HMAC_BYTES, 'MP_JOIN SYN/ACK hmac');
      checkU32(opt.nonce, 'MP_JOIN nonce');
      writeHeader(out, o, len, MptcpSubtype.MP_JOIN, opt.backup ? MPJ_BACKUP_BIT : 0, opt.addressId);
      out.set(hmac, o + MPJ_OFF_HMAC);
      put32(out, o + MPJ_OFF_SYNACK_NONCE, opt.nonce);
      return len;
    }
    case 'ack': {
      const hmac = checkBytes(opt.hmac, MP_JOIN_ACK_HMAC_BYTES, 'MP_JOIN ACK hmac');
      writeHeader(out, o, len, MptcpSubtype.MP_JOIN, 0, 0);
      out.set(hmac, o + MPJ_OFF_HMAC);
      return len;
    }
    default:
      throw badValue(`MP_JOIN form ${String((opt as { form: unknown }).form)} is not syn, synack or ack`);
  }
}

function emitDss(opt: DssOption, out: Uint8Array, o: number, len: number): number {
  const m = opt.mapping;
  if (opt.dataAck !== undefined) checkU64(opt.dataAck, 'DSS dataAck');
  if (m !== undefined) {
    checkU64(m.dsn, 'DSS dsn');
    checkU32(m.ssn, 'DSS ssn');
    checkU16(m.length, 'DSS data-level length');
    if (m.checksum !== undefined) checkU16(m.checksum, 'DSS checksum');
  }
  writeHeader(out, o, len, MptcpSubtype.DSS, 0, dssFlags(opt));
  let p = o + DSS_BASE_LENGTH;
  if (opt.dataAck !== undefined) {
    if (opt.ack64) {
      put64(out, p, opt.dataAck);
      p += 8;
    } else {
      put32(out, p, low32(opt.dataAck));
      p += 4;
    }
  }
  if (m !== undefined) {
    if (m.dsn64) {
      put64(out, p, m.dsn);
      p += 8;
    } else {
      put32(out, p, low32(m.dsn));
      p += 4;
    }
    put32(out, p, m.ssn);
    put16(out, p + 4, m.length);
    if (m.checksum !== undefined) put16(out, p + 6, m.checksum);
  }
  return len;
}

const addressScratch = new Uint8Array(IPV6_ADDRESS_BYTES);

function emitAddAddr(opt: AddAddrOption, out: Uint8Array, o: number, len: number): number {
  checkU8(opt.addressId, 'ADD_ADDR address ID');
  if (opt.port !== undefined) checkU16(opt.port, 'ADD_ADDR port');
  let hmac: Uint8Array | undefined;
  if (opt.echo) {
    if (opt.hmac !== undefined) throw badValue('ADD_ADDR echo carries no HMAC');
  } else {
    hmac = checkBytes(opt.hmac, ADD_ADDR_HMAC_BYTES, 'ADD_ADDR hmac');
  }
  const v4 = opt.family === 4;
  const addressBytes = v4 ? IPV4_ADDRESS_BYTES : IPV6_ADDRESS_BYTES;
  // Through a scratch buffer, so that an invalid address leaves `out` untouched.
  const written =
    typeof opt.address === 'string' &&
    (v4 ? writeIpv4(opt.address, addressScratch, 0) : writeIpv6(opt.address, addressScratch, 0));
  if (!written) throw badValue(`ADD_ADDR address ${String(opt.address)} is not an IPv${opt.family} address`);
  writeHeader(out, o, len, MptcpSubtype.ADD_ADDR, opt.echo ? ADD_ADDR_ECHO_BIT : 0, opt.addressId);
  for (let i = 0; i < addressBytes; i++) out[o + ADD_ADDR_OFF_ADDRESS + i] = addressScratch[i]!;
  let p = o + ADD_ADDR_OFF_ADDRESS + addressBytes;
  if (opt.port !== undefined) {
    put16(out, p, opt.port);
    p += ADD_ADDR_PORT_BYTES;
  }
  if (hmac !== undefined) out.set(hmac, p);
  return len;
}

/** `opt` encoded into a new buffer of exactly `encodedLength(opt)` bytes. */
export function encodeMptcpOption(opt: MptcpOption): Uint8Array {
  const out = new Uint8Array(encodedLength(opt));
  emitMptcpOption(opt, out, 0);
  return out;
}
