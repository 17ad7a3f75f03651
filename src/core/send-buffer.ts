/**
 * Connection-level send buffer: application bytes in data-sequence order, kept until DATA_ACKed
 * (RFC 8684 §3.3.2) so that bytes mapped to a failed subflow can be reinjected on another.
 *
 * Offsets are data-level offsets from the connection's initial data sequence number (IDSN + 1), as
 * plain numbers: 2^53 bytes is far beyond any connection's life. The wire DSN is derived when a frame
 * is emitted. Chunks are kept as the application wrote them (no copy); a read that spans several small
 * chunks is coalesced up to the frame size.
 */
export class SendBuffer {
  private chunks: Uint8Array[] = [];
  /** Data offset of chunks[0][0]. */
  private headOffset = 0;
  /** Read cursor cache: reads are mostly sequential, so start the chunk search where the last ended. */
  private cursorIndex = 0;
  private cursorStart = 0;
  /** Data offset one past the last byte written by the application. */
  writeEnd = 0;
  /** Everything below this is DATA_ACKed and released. */
  acked = 0;

  get retainedBytes(): number {
    return this.writeEnd - this.acked;
  }

  append(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.writeEnd += data.length;
  }

  /** Releases bytes below `offset` (a cumulative DATA_ACK). */
  ack(offset: number): void {
    if (offset <= this.acked) return;
    this.acked = Math.min(offset, this.writeEnd);
    while (this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const end = this.headOffset + first.length;
      if (end > this.acked) break;
      this.chunks.shift();
      this.headOffset = end;
      this.cursorIndex--;
    }
    if (this.cursorIndex < 0) {
      this.cursorIndex = 0;
      this.cursorStart = this.headOffset;
    }
  }

  /**
   * Views of up to `maxBytes` bytes starting at `offset` (≥ acked, < writeEnd), appended to `out` in
   * order; returns their total length. Nothing is copied: a range spanning several chunks is several
   * views (a frame's payload is written with writev).
   */
  readParts(offset: number, maxBytes: number, out: Uint8Array[]): number {
    if (offset < this.acked || offset >= this.writeEnd)
      throw new RangeError(`offset ${offset} not in buffer`);
    const i = this.seek(offset);
    const want = Math.min(maxBytes, this.writeEnd - offset);
    let filled = 0;
    let src = this.chunks[i]!;
    let within = offset - this.cursorStart;
    for (let j = i; ; ) {
      const n = Math.min(src.length - within, want - filled);
      out.push(within === 0 && n === src.length ? src : src.subarray(within, within + n));
      filled += n;
      if (filled >= want || ++j >= this.chunks.length) break;
      src = this.chunks[j]!;
      within = 0;
    }
    return filled;
  }

  /** Index of the chunk holding `offset`; leaves the cursor on it (cursorStart = its data offset). */
  private seek(offset: number): number {
    let chunkStart = this.headOffset;
    let i = 0;
    if (offset >= this.cursorStart && this.cursorIndex < this.chunks.length) {
      chunkStart = this.cursorStart;
      i = this.cursorIndex;
    }
    for (; i < this.chunks.length; i++) {
      const len = this.chunks[i]!.length;
      if (offset < chunkStart + len) break;
      chunkStart += len;
    }
    this.cursorIndex = i;
    this.cursorStart = chunkStart;
    return i;
  }

  /**
   * A view of up to `maxBytes` bytes starting at `offset` (≥ acked, < writeEnd). Returns a subarray of
   * one chunk when it holds enough, otherwise a coalesced copy of the following chunks.
   */
  read(offset: number, maxBytes: number): Uint8Array {
    if (offset < this.acked || offset >= this.writeEnd)
      throw new RangeError(`offset ${offset} not in buffer`);
    let i = this.seek(offset);
    const chunkStart = this.cursorStart;
    const want = Math.min(maxBytes, this.writeEnd - offset);
    const first = this.chunks[i]!;
    const within = offset - chunkStart;
    if (first.length - within >= want || i === this.chunks.length - 1) {
      return first.subarray(within, within + want);
    }
    const out = Buffer.allocUnsafe(want);
    let filled = 0;
    let src = first.subarray(within);
    while (filled < want) {
      const n = Math.min(src.length, want - filled);
      out.set(src.subarray(0, n), filled);
      filled += n;
      i++;
      if (i >= this.chunks.length) break;
      src = this.chunks[i]!;
    }
    return out.subarray(0, filled);
  }
}
