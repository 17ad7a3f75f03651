/**
 * Capture file → TCP segments: the glue between the capture reader (./capture.ts), the link and IP
 * layers (./link.ts, ./ip.ts) and the TCP header codec (../wire).
 *
 * Contract: `readTcpSegments` throws only PcapError (from the file layer). A packet that is not
 * IPv4/IPv6 + TCP, or whose headers are truncated or malformed, is counted in `skipped` and
 * otherwise ignored; it never stops the reading. `payload` is cut to the captured bytes (a packet
 * captured with a short snap length has a shorter payload than it carried on the wire; the
 * difference is reported in `truncatedBytes`).
 */
import { parseTcpHeader, type TcpHeader } from '../wire/index.js';
import { readPackets } from './capture.js';
import { parseIp } from './ip.js';
import { linkPayload } from './link.js';

const IPPROTO_TCP = 6;

export interface TcpSegment {
  /** Position of the packet in the capture file, from 0. */
  index: number;
  tsMicros: number;
  /** Textual source and destination addresses ("192.0.2.1", "2001:db8::1"). */
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  tcp: TcpHeader;
  /** TCP payload (a view into the capture). */
  payload: Uint8Array;
}

export interface SegmentsResult {
  segments: TcpSegment[];
  /** Packets in the file. */
  packets: number;
  /** Packets that were not IPv4/IPv6 + TCP or could not be parsed, by reason. */
  skipped: Record<string, number>;
  /** TCP payload bytes on the wire but not in the capture (short snap length). */
  truncatedBytes: number;
}

export function readTcpSegments(buf: Uint8Array): SegmentsResult {
  const out: SegmentsResult = { segments: [], packets: 0, skipped: {}, truncatedBytes: 0 };
  const skip = (reason: string): void => {
    out.skipped[reason] = (out.skipped[reason] ?? 0) + 1;
  };
  for (const pkt of readPackets(buf)) {
    out.packets++;
    const link = linkPayload(pkt.linkType, pkt.data);
    if (!link) {
      skip(`not IP (link type ${pkt.linkType})`);
      continue;
    }
    const ip = parseIp(pkt.data, link.offset, link.ipVersion);
    if ('skip' in ip) {
      skip(ip.skip);
      continue;
    }
    if (ip.protocol !== IPPROTO_TCP) {
      skip('not TCP');
      continue;
    }
    const parsed = parseTcpHeader(ip.payload);
    if (!parsed.ok) {
      skip(`bad TCP header (${parsed.error.code})`);
      continue;
    }
    const tcp = parsed.value;
    if (pkt.origLen > pkt.data.length) out.truncatedBytes += pkt.origLen - pkt.data.length;
    const payload = ip.payload.subarray(Math.min(tcp.payloadOffset, ip.payload.length));
    out.segments.push({
      index: pkt.index,
      tsMicros: pkt.tsMicros,
      src: ip.src,
      dst: ip.dst,
      srcPort: tcp.srcPort,
      dstPort: tcp.dstPort,
      tcp,
      payload,
    });
  }
  return out;
}
