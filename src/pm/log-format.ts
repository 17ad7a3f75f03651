/**
 * Text and JSON forms of driver log entries (`mptcp pm run`). Contract: pure; one line per entry.
 * Text: `<time ms, 10 wide> <kind> <type> <connection> key=value…`.
 */
import type { DriverLogEntry } from './kernel-driver.js';

function fields(o: object, skip: readonly string[]): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(o) as Array<[string, unknown]>) {
    if (skip.includes(k) || v === undefined) continue;
    if (v !== null && typeof v === 'object') {
      const e = v as { address?: unknown; port?: unknown };
      parts.push(
        typeof e.address === 'string' && typeof e.port === 'number'
          ? `${k}=${e.address}:${e.port}`
          : `${k}=${JSON.stringify(v)}`,
      );
    } else parts.push(`${k}=${String(v)}`);
  }
  return parts.join(' ');
}

export function formatLogEntry(e: DriverLogEntry): string {
  const t = `${e.timeMs.toFixed(1)}ms`.padStart(11);
  switch (e.kind) {
    case 'event':
      return `${t} event   ${e.event.type} ${e.event.connection} ${fields(e.event, ['type', 'connection', 'timeMs'])}`.trimEnd();
    case 'command':
      return `${t} command ${e.command.type} ${e.command.connection} ${fields(e.command, ['type', 'connection'])}`.trimEnd();
    case 'error':
      return `${t} error   ${e.message}${e.command ? ` (${e.command.type} ${e.command.connection})` : ''}`;
    case 'info':
      return `${t} info    ${e.message}`;
  }
}

export function logEntryJson(e: DriverLogEntry): string {
  return JSON.stringify(e);
}
