/**
 * The deterministic byte pattern of bench/userspace-throughput.ts, shared by sender and receiver.
 * Byte k of the stream is PATTERN[k mod PATTERN_PERIOD_BYTES] (xorshift32 from a fixed seed). The period
 * is odd and larger than any receive window, so a lost, duplicated or misordered range cannot match by
 * chance; the receiver checks every byte with memcmp (Buffer.compare), which costs far less than a hash.
 */

/** Pattern period (bytes): 8 MiB + 13, larger than the 4 MiB data-level receive window. */
export const PATTERN_PERIOD_BYTES = 8 * 1024 * 1024 + 13;

/** PATTERN_PERIOD_BYTES bytes of pattern followed by `tailBytes` more (so a chunk never wraps). */
export function makePattern(tailBytes: number): Buffer {
  const out = Buffer.allocUnsafe(PATTERN_PERIOD_BYTES + tailBytes);
  let x = 0x9e3779b9;
  for (let i = 0; i < PATTERN_PERIOD_BYTES; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  out.copy(out, PATTERN_PERIOD_BYTES, 0, tailBytes);
  return out;
}

/** Checks received chunks against the pattern, in order. */
export class PatternVerifier {
  received = 0;
  mismatchAt: number | undefined;
  private readonly pattern = makePattern(0);

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      const phase = this.received % PATTERN_PERIOD_BYTES;
      const n = Math.min(chunk.length - pos, PATTERN_PERIOD_BYTES - phase);
      if (
        this.mismatchAt === undefined &&
        this.pattern.compare(chunk, pos, pos + n, phase, phase + n) !== 0
      ) {
        this.mismatchAt = this.received;
      }
      this.received += n;
      pos += n;
    }
  }
}
