/**
 * nfnetlink_queue (NETLINK_NETFILTER, subsystem NFNL_SUBSYS_QUEUE): the messages a userspace
 * program exchanges with the kernel's NFQUEUE target. Pure codec, no I/O.
 *
 * Sources: include/uapi/linux/netfilter/nfnetlink.h (struct nfgenmsg, NFNL_SUBSYS_QUEUE),
 * include/uapi/linux/netfilter/nfnetlink_queue.h (message types, attributes, structs) and
 * net/netfilter/nfnetlink_queue.c (nfqnl_recv_config, nfqnl_recv_verdict[_batch],
 * nfqnl_build_packet_message), include/uapi/linux/netfilter.h (NF_DROP, NF_ACCEPT…).
 *
 * Wire format: nlmsghdr with type (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_*, then struct nfgenmsg
 * (u8 nfgen_family, u8 version = NFNETLINK_V0, be16 res_id = the queue number), then attributes.
 * Unlike most netlink families, the nfqueue attribute values are BIG-endian (the kernel reads them
 * with ntohl/be64_to_cpu), except the nla header itself, which is host order.
 *
 * Contract:
 * - `emit*` functions return the payload that follows the nlmsghdr (frame it with
 *   `emitNfqMessage` or `emitMessage`); their bytes are fixed by the tests' byte vectors.
 * - `parsePacket` decodes an NFQNL_MSG_PACKET payload; it never throws and returns undefined when
 *   the payload is shorter than nfgenmsg or carries no usable NFQA_PACKET_HDR. Unknown attributes
 *   are ignored; optional ones are decoded only when long enough.
 */
import {
  type AttrInput,
  be32Attr,
  binaryAttr,
  emitAttributes,
  findAttr,
  type NlAttr,
  parseAttributes,
  readBe32,
} from './attributes.js';
import { emitMessage } from './message.js';

/** NETLINK_NETFILTER (include/uapi/linux/netlink.h). */
export const NETLINK_NETFILTER = 12;
/** NFNL_SUBSYS_QUEUE (include/uapi/linux/netfilter/nfnetlink.h). */
export const NFNL_SUBSYS_QUEUE = 3;
export const NFNETLINK_V0 = 0;
/** sizeof(struct nfgenmsg). */
export const NFGENMSG_BYTES = 4;

/** enum nfqnl_msg_types. */
export const NFQNL_MSG = {
  PACKET: 0,
  VERDICT: 1,
  CONFIG: 2,
  VERDICT_BATCH: 3,
} as const;

/** enum nfqnl_attr_type. */
export const NFQA = {
  PACKET_HDR: 1,
  VERDICT_HDR: 2,
  MARK: 3,
  TIMESTAMP: 4,
  IFINDEX_INDEV: 5,
  IFINDEX_OUTDEV: 6,
  IFINDEX_PHYSINDEV: 7,
  IFINDEX_PHYSOUTDEV: 8,
  HWADDR: 9,
  PAYLOAD: 10,
  CT: 11,
  CT_INFO: 12,
  CAP_LEN: 13,
  SKB_INFO: 14,
  EXP: 15,
  UID: 16,
  GID: 17,
  SECCTX: 18,
  VLAN: 19,
  L2HDR: 20,
  PRIORITY: 21,
} as const;

/** enum nfqnl_attr_config. */
export const NFQA_CFG = {
  CMD: 1,
  PARAMS: 2,
  QUEUE_MAXLEN: 3,
  MASK: 4,
  FLAGS: 5,
} as const;

/** enum nfqnl_msg_config_cmds. */
export const NFQNL_CFG_CMD = {
  NONE: 0,
  BIND: 1,
  UNBIND: 2,
  PF_BIND: 3,
  PF_UNBIND: 4,
} as const;

/** enum nfqnl_config_mode. */
export const NFQNL_COPY = {
  NONE: 0,
  /** Metadata only (no packet bytes): all a delay line needs. */
  META: 1,
  PACKET: 2,
} as const;

/** NFQA_CFG_F_* flags. */
export const NFQA_CFG_F = {
  /** Accept packets instead of dropping them when the queue or socket is full. */
  FAIL_OPEN: 1 << 0,
  CONNTRACK: 1 << 1,
  GSO: 1 << 2,
  UID_GID: 1 << 3,
  SECCTX: 1 << 4,
} as const;

/** Verdicts (include/uapi/linux/netfilter.h). */
export const NF_DROP = 0;
export const NF_ACCEPT = 1;
export const NF_STOLEN = 2;
export const NF_QUEUE = 3;
export const NF_REPEAT = 4;
export const NF_STOP = 5;

/** Address families used with PF_BIND. */
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

// struct nfqnl_msg_packet_hdr (packed): be32 packet_id @0, be16 hw_protocol @4, u8 hook @6.
const PKT_HDR_ID = 0;
const PKT_HDR_HW_PROTOCOL = 4;
const PKT_HDR_HOOK = 6;
const PKT_HDR_BYTES = 7;
// struct nfqnl_msg_packet_timestamp: be64 sec @0, be64 usec @8.
const TIMESTAMP_BYTES = 16;

/** nlmsg_type of an nfqueue message. */
export function nfqMessageType(msg: number): number {
  return (NFNL_SUBSYS_QUEUE << 8) | msg;
}

/** struct nfgenmsg: family, version NFNETLINK_V0, res_id = queue number (big-endian). */
export function emitNfgenmsg(family: number, resId: number): Uint8Array {
  const out = new Uint8Array(NFGENMSG_BYTES);
  out[0] = family & 0xff;
  out[1] = NFNETLINK_V0;
  out[2] = (resId >> 8) & 0xff;
  out[3] = resId & 0xff;
  return out;
}

export interface Nfgenmsg {
  family: number;
  version: number;
  resId: number;
}

export function parseNfgenmsg(payload: Uint8Array): Nfgenmsg | undefined {
  if (payload.length < NFGENMSG_BYTES) return undefined;
  return { family: payload[0]!, version: payload[1]!, resId: (payload[2]! << 8) | payload[3]! };
}

function withHeader(family: number, queueNum: number, attrs: readonly AttrInput[]): Uint8Array {
  const body = emitAttributes(attrs);
  const out = new Uint8Array(NFGENMSG_BYTES + body.length);
  out.set(emitNfgenmsg(family, queueNum), 0);
  out.set(body, NFGENMSG_BYTES);
  return out;
}

function checkQueueNum(queueNum: number): void {
  if (!Number.isInteger(queueNum) || queueNum < 0 || queueNum > 0xffff) {
    throw new RangeError(`nfqueue number must be an integer in [0, 65535], got ${queueNum}`);
  }
}

export interface NfqConfig {
  /** NFQA_CFG_CMD: a command, with `pf` for PF_BIND / PF_UNBIND (AF_INET…). */
  command?: { cmd: number; pf?: number };
  /** NFQA_CFG_PARAMS: copy mode and range (bytes of packet copied with NFQNL_COPY.PACKET). */
  params?: { copyMode: number; copyRange: number };
  /** NFQA_CFG_QUEUE_MAXLEN: packets the kernel holds for this queue before dropping. */
  queueMaxLen?: number;
  /** NFQA_CFG_FLAGS with NFQA_CFG_MASK (which flags to change). */
  flags?: { mask: number; value: number };
}

/**
 * NFQNL_MSG_CONFIG payload for `queueNum`. The kernel applies the command first (BIND creates the
 * instance), then params, maxlen and flags (nfqnl_recv_config), so one message may carry all.
 */
export function emitConfig(queueNum: number, config: NfqConfig, family = AF_UNSPEC): Uint8Array {
  checkQueueNum(queueNum);
  const attrs: AttrInput[] = [];
  if (config.command) {
    // struct nfqnl_msg_config_cmd: u8 command, u8 _pad, be16 pf.
    const pf = config.command.pf ?? 0;
    attrs.push(
      binaryAttr(NFQA_CFG.CMD, Uint8Array.of(config.command.cmd & 0xff, 0, (pf >> 8) & 0xff, pf & 0xff)),
    );
  }
  if (config.params) {
    // struct nfqnl_msg_config_params (packed): be32 copy_range, u8 copy_mode.
    const p = new Uint8Array(5);
    new DataView(p.buffer).setUint32(0, config.params.copyRange >>> 0, false);
    p[4] = config.params.copyMode & 0xff;
    attrs.push(binaryAttr(NFQA_CFG.PARAMS, p));
  }
  if (config.queueMaxLen !== undefined) attrs.push(be32Attr(NFQA_CFG.QUEUE_MAXLEN, config.queueMaxLen));
  if (config.flags) {
    attrs.push(be32Attr(NFQA_CFG.MASK, config.flags.mask));
    attrs.push(be32Attr(NFQA_CFG.FLAGS, config.flags.value));
  }
  return withHeader(family, queueNum, attrs);
}

function verdictHdr(verdict: number, id: number): AttrInput {
  // struct nfqnl_msg_verdict_hdr: be32 verdict, be32 id.
  const p = new Uint8Array(8);
  const d = new DataView(p.buffer);
  d.setUint32(0, verdict >>> 0, false);
  d.setUint32(4, id >>> 0, false);
  return binaryAttr(NFQA.VERDICT_HDR, p);
}

/** NFQNL_MSG_VERDICT payload: `verdict` for packet `id`, optionally setting its mark. */
export function emitVerdict(queueNum: number, id: number, verdict: number, mark?: number): Uint8Array {
  checkQueueNum(queueNum);
  const attrs = [verdictHdr(verdict, id)];
  if (mark !== undefined) attrs.push(be32Attr(NFQA.MARK, mark));
  return withHeader(AF_UNSPEC, queueNum, attrs);
}

/**
 * NFQNL_MSG_VERDICT_BATCH payload: `verdict` for every packet still queued whose id is not after
 * `maxId` (wrap-safe comparison, nfqnl_recv_verdict_batch / find_dequeue_entry_batch).
 */
export function emitVerdictBatch(queueNum: number, maxId: number, verdict: number): Uint8Array {
  checkQueueNum(queueNum);
  return withHeader(AF_UNSPEC, queueNum, [verdictHdr(verdict, maxId)]);
}

/** A full netlink message (nlmsghdr + payload) of nfqueue message kind `msg`. */
export function emitNfqMessage(msg: number, flags: number, seq: number, payload: Uint8Array): Uint8Array {
  return emitMessage({ type: nfqMessageType(msg), flags, seq, pid: 0 }, payload);
}

/** A packet the kernel queued (NFQNL_MSG_PACKET), metadata only. */
export interface NfqPacket {
  queueNum: number;
  /** Protocol family of the hook (AF_INET, AF_INET6…): nfgenmsg.nfgen_family. */
  family: number;
  /** Packet id to give back in the verdict. */
  id: number;
  /** Link-layer protocol (ETH_P_IP = 0x0800, ETH_P_IPV6 = 0x86dd). */
  hwProtocol: number;
  /** Netfilter hook (0 PRE_ROUTING, 1 LOCAL_IN, 2 FORWARD, 3 LOCAL_OUT, 4 POST_ROUTING). */
  hook: number;
  mark?: number;
  indev?: number;
  outdev?: number;
  /** Packet length before copying (NFQA_CAP_LEN, sent when the copy was cut). */
  capLen?: number;
  skbInfo?: number;
  /** NFQA_TIMESTAMP, microseconds since the epoch, when the skb had one. */
  timestampMicros?: number;
  /** NFQA_PAYLOAD bytes (a view), when the copy mode sent any. */
  payload?: Uint8Array;
}

function readBe64Micros(a: NlAttr | undefined): number | undefined {
  if (!a || a.payload.length < TIMESTAMP_BYTES) return undefined;
  const d = new DataView(a.payload.buffer, a.payload.byteOffset, TIMESTAMP_BYTES);
  return Number(d.getBigUint64(0, false)) * 1e6 + Number(d.getBigUint64(8, false));
}

/** Decodes an NFQNL_MSG_PACKET payload (after nlmsghdr). Never throws. */
export function parsePacket(payload: Uint8Array): NfqPacket | undefined {
  const gen = parseNfgenmsg(payload);
  if (!gen) return undefined;
  const { attrs } = parseAttributes(payload, NFGENMSG_BYTES);
  const hdr = findAttr(attrs, NFQA.PACKET_HDR);
  if (!hdr || hdr.payload.length < PKT_HDR_BYTES) return undefined;
  const h = new DataView(hdr.payload.buffer, hdr.payload.byteOffset, PKT_HDR_BYTES);
  const pkt: NfqPacket = {
    queueNum: gen.resId,
    family: gen.family,
    id: h.getUint32(PKT_HDR_ID, false),
    hwProtocol: h.getUint16(PKT_HDR_HW_PROTOCOL, false),
    hook: h.getUint8(PKT_HDR_HOOK),
  };
  const optional: Array<[keyof NfqPacket, number]> = [
    ['mark', NFQA.MARK],
    ['indev', NFQA.IFINDEX_INDEV],
    ['outdev', NFQA.IFINDEX_OUTDEV],
    ['capLen', NFQA.CAP_LEN],
    ['skbInfo', NFQA.SKB_INFO],
  ];
  for (const [key, type] of optional) {
    const v = readBe32(findAttr(attrs, type));
    if (v !== undefined) (pkt as unknown as Record<string, number>)[key] = v;
  }
  const ts = readBe64Micros(findAttr(attrs, NFQA.TIMESTAMP));
  if (ts !== undefined) pkt.timestampMicros = ts;
  const data = findAttr(attrs, NFQA.PAYLOAD);
  if (data) pkt.payload = data.payload;
  return pkt;
}

/**
 * The packet id alone, for the hot path: NFQA_PACKET_HDR is the first attribute the kernel puts
 * in every NFQNL_MSG_PACKET (nfqnl_build_packet_message); falls back to `parsePacket` otherwise.
 * Returns -1 when the payload is not a packet message.
 */
export function packetIdFast(payload: Uint8Array): number {
  // nfgenmsg (4) + nla header (4) + packet_hdr (7).
  if (payload.length >= NFGENMSG_BYTES + 4 + PKT_HDR_BYTES) {
    const nlaLen = payload[4]! | (payload[5]! << 8);
    const nlaType = (payload[6]! | (payload[7]! << 8)) & 0x3fff;
    if (
      nlaType === NFQA.PACKET_HDR &&
      nlaLen >= 4 + PKT_HDR_BYTES &&
      NFGENMSG_BYTES + nlaLen <= payload.length
    ) {
      const o = NFGENMSG_BYTES + 4 + PKT_HDR_ID;
      return ((payload[o]! << 24) | (payload[o + 1]! << 16) | (payload[o + 2]! << 8) | payload[o + 3]!) >>> 0;
    }
  }
  return parsePacket(payload)?.id ?? -1;
}
