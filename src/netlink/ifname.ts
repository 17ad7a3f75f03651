/**
 * Interface name ↔ index in the calling thread's network namespace (libc if_nametoindex /
 * if_indextoname), for the `dev` argument of endpoint commands.
 *
 * Contract: `ifNameToIndex` returns undefined for an unknown name; `ifIndexToName` returns
 * undefined for an unknown index. Neither throws for a missing interface.
 */
import { libcFunction } from '../native/libc.js';

/** IFNAMSIZ: interface names are at most 15 bytes plus NUL. */
export const IFNAMSIZ = 16;

export function ifNameToIndex(name: string): number | undefined {
  if (name.length === 0 || name.length >= IFNAMSIZ) return undefined;
  const idx = libcFunction('unsigned int if_nametoindex(const char *)')(name) as number;
  return idx > 0 ? idx : undefined;
}

export function ifIndexToName(index: number): string | undefined {
  if (!Number.isInteger(index) || index <= 0) return undefined;
  const buf = Buffer.alloc(IFNAMSIZ);
  const r = libcFunction('void *if_indextoname(unsigned int, void *)')(index, buf);
  if (r === null) return undefined;
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end < 0 ? IFNAMSIZ : end);
}
