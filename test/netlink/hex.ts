/** Test helper: bytes from "0d 00 02 00"-style hex, and string bytes with a NUL. */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  if (clean.length % 2 !== 0) throw new Error(`odd hex: ${s}`);
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

export function cat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

export function cstr(s: string, padTo = 0): Uint8Array {
  const b = Buffer.alloc(Math.max(padTo, s.length + 1));
  b.write(s, 'latin1');
  return Uint8Array.from(b);
}
