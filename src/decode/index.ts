/**
 * `mptcp decode` as a library: a capture file's bytes → MPTCP connections (./model.ts).
 * Throws only PcapError (the file cannot be read); everything inside packets is reported, not thrown.
 */
import { readTcpSegments } from '../pcap/segments.js';
import type { DecodeResult } from './model.js';
import { decodeMptcp } from './reconstruct.js';

export { formatDecodeResult } from './format.js';
export * from './model.js';
export { decodeMptcp } from './reconstruct.js';

export function decodeCapture(buf: Uint8Array): DecodeResult {
  const r = readTcpSegments(buf);
  const result = decodeMptcp(r.segments);
  result.stats.packets = r.packets;
  result.stats.skippedPackets = r.skipped;
  result.stats.truncatedBytes = r.truncatedBytes;
  return result;
}
