/**
 * Fuzz: mutated copies of the kernel captures go through the whole pipeline (capture reader, link,
 * IP, TCP/MPTCP option codec, connection reconstruction, text and JSON rendering). The only error
 * allowed out is PcapError (a broken file); anything inside a packet must be reported, not thrown.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeCapture, formatDecodeResult } from '../../src/decode/index.js';
import { readPackets } from '../../src/pcap/capture.js';
import { PcapError } from '../../src/pcap/errors.js';

function prefix(name: string, packets: number): Uint8Array {
  const buf = new Uint8Array(readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url)));
  const recs = [...readPackets(buf)];
  const last = recs[Math.min(packets, recs.length) - 1]!;
  return buf.slice(0, last.offset + 16 + last.data.length);
}

test('fuzz: mutated kernel captures decode or fail with PcapError only', () => {
  // The handshakes, ADD_ADDR, joins and the first data of each capture.
  const seeds = [prefix('kernel-mptcp.pcap', 40), prefix('kernel-mptcp-csum.pcap', 40)];
  let decoded = 0;
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }),
      (which, edits) => {
        const buf = seeds[which]!.slice();
        // Mutate after the 24-byte file header, mostly inside packets.
        for (const [pos, val] of edits) buf[24 + (pos % (buf.length - 24))] = val;
        try {
          const r = decodeCapture(buf);
          JSON.stringify(r);
          formatDecodeResult(r);
          decoded++;
        } catch (err) {
          if (!(err instanceof PcapError)) throw err;
        }
      },
    ),
    { numRuns: 3000, seed: 6824 },
  );
  assert.ok(decoded > 1000, `most mutations still decode (${decoded})`);
});
