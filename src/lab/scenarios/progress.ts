/**
 * A one-line progress bar on a TTY stream (stderr): `[#####-----]  50% label`, redrawn in place,
 * at most every PROGRESS_REDRAW_MS. On a non-TTY stream it prints nothing.
 */
export const PROGRESS_REDRAW_MS = 100;
const BAR_CHARS = 24;

export interface ProgressSink {
  update(fraction: number, label: string): void;
  done(): void;
}

export function progressBar(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  if (!stream.isTTY) return { update() {}, done() {} };
  let last = 0;
  let drawn = false;
  return {
    update(fraction, label) {
      const now = Date.now();
      if (now - last < PROGRESS_REDRAW_MS && fraction < 1) return;
      last = now;
      const f = Math.max(0, Math.min(1, fraction));
      const n = Math.round(f * BAR_CHARS);
      const width = (stream.columns || 80) - BAR_CHARS - 10;
      const text = label.length > width ? `${label.slice(0, Math.max(0, width - 1))}…` : label;
      stream.write(
        `\r\x1b[2K[${'#'.repeat(n)}${'-'.repeat(BAR_CHARS - n)}] ${String(Math.round(f * 100)).padStart(3)}% ${text}`,
      );
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\x1b[2K');
    },
  };
}
