/**
 * Data-level reassembly (RFC 8684 §3.3.1): bytes arrive on several subflows tagged with their data
 * offset; they leave in order, once, whatever the arrival order or how often a range was reinjected.
 *
 * Offsets are data-level offsets from IDSN + 1 (see send-buffer.ts). Chunks are kept as views of the
 * frames they came in (no copy). The caller bounds the total with the advertised receive window and
 * rejects data beyond it before calling insert().
 */
interface OutOfOrder {
  start: number;
  data: Uint8Array;
}

export class Reassembly {
  /** Next expected offset: everything below has been made ready (cumulative DATA_ACK point). */
  next = 0;
  private ready: Uint8Array[] = [];
  private readyHead = 0;
  readyBytes = 0;
  /** Sorted by start, non-overlapping, all above `next`. */
  private ooo: OutOfOrder[] = [];
  oooBytes = 0;
  /** Bytes that arrived more than once (reinjection duplicates), dropped here. */
  duplicateBytes = 0;

  get bufferedBytes(): number {
    return this.readyBytes + this.oooBytes;
  }

  /** Adds `data` at `start`. Returns the number of new (not duplicate) bytes. */
  insert(start: number, data: Uint8Array): number {
    let end = start + data.length;
    if (end <= this.next) {
      this.duplicateBytes += data.length;
      return 0;
    }
    if (start < this.next) {
      this.duplicateBytes += this.next - start;
      data = data.subarray(this.next - start);
      start = this.next;
    }
    if (start === this.next) {
      const added = this.pushReady(data);
      return added - this.drainOoo();
    }
    // Out of order: insert into the sorted list, trimming overlaps with neighbours.
    let lo = 0;
    let hi = this.ooo.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ooo[mid]!.start < start) lo = mid + 1;
      else hi = mid;
    }
    const prev = this.ooo[lo - 1];
    if (prev) {
      const prevEnd = prev.start + prev.data.length;
      if (prevEnd >= end) {
        this.duplicateBytes += data.length;
        return 0;
      }
      if (prevEnd > start) {
        this.duplicateBytes += prevEnd - start;
        data = data.subarray(prevEnd - start);
        start = prevEnd;
      }
    }
    let added = 0;
    let i = lo;
    while (data.length > 0) {
      const nextEntry = this.ooo[i];
      if (!nextEntry || nextEntry.start >= end) {
        this.ooo.splice(i, 0, { start, data });
        this.oooBytes += data.length;
        added += data.length;
        break;
      }
      if (nextEntry.start > start) {
        const piece = data.subarray(0, nextEntry.start - start);
        this.ooo.splice(i, 0, { start, data: piece });
        this.oooBytes += piece.length;
        added += piece.length;
        i++;
      }
      // Skip the part covered by nextEntry.
      const coveredEnd = nextEntry.start + nextEntry.data.length;
      const skipTo = Math.min(end, coveredEnd);
      const skip = skipTo - Math.max(start, nextEntry.start);
      if (skip > 0) this.duplicateBytes += skip;
      if (coveredEnd >= end) break;
      data = data.subarray(coveredEnd - start);
      start = coveredEnd;
      end = start + data.length;
      i++;
    }
    return added;
  }

  /** Takes the next in-order chunk (a view), or undefined when none is ready. */
  read(): Uint8Array | undefined {
    if (this.readyHead >= this.ready.length) return undefined;
    const chunk = this.ready[this.readyHead]!;
    this.ready[this.readyHead++] = EMPTY;
    if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
    this.readyBytes -= chunk.length;
    return chunk;
  }

  private pushReady(data: Uint8Array): number {
    this.ready.push(data);
    this.readyBytes += data.length;
    this.next += data.length;
    return data.length;
  }

  /** Moves held chunks the cumulative point has reached; returns the held bytes it had already covered. */
  private drainOoo(): number {
    let covered = 0;
    while (this.ooo.length > 0) {
      const first = this.ooo[0]!;
      if (first.start > this.next) break;
      this.ooo.shift();
      this.oooBytes -= first.data.length;
      const end = first.start + first.data.length;
      covered += Math.min(end, this.next) - first.start;
      if (end > this.next) this.pushReady(first.data.subarray(this.next - first.start));
    }
    this.duplicateBytes += covered;
    return covered;
  }
}

const EMPTY = new Uint8Array(0);
