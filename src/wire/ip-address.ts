/**
 * Textual IP addresses ↔ network-order bytes, for the address fields of ADD_ADDR (RFC 8684 §3.4.1)
 * and the ADD_ADDR HMAC.
 *
 * Contract:
 * - `writeIpv4` / `writeIpv6` accept any valid textual form (IPv6: "::" compression, an embedded
 *   dotted IPv4 tail, upper- or lower-case hex; no zone id) and write 4 / 16 bytes at `offset`;
 *   they return false (writing nothing useful) when the text is not a valid address. Never throw.
 * - `formatIpv4` / `formatIpv6` read 4 / 16 bytes at `offset` and produce the same text as Node's
 *   own formatting (libuv `inet_ntop`, as in `socket.remoteAddress`): lower case, the first longest
 *   run of two or more zero groups compressed, and `::a.b.c.d` / `::ffff:a.b.c.d` for
 *   IPv4-compatible and IPv4-mapped addresses. The caller guarantees the bytes are in bounds.
 */

export const IPV4_ADDRESS_BYTES = 4;
export const IPV6_ADDRESS_BYTES = 16;

/** Writes the 4 bytes of a dotted-quad IPv4 address; false if `text` is not one. */
export function writeIpv4(text: string, out: Uint8Array, offset: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e; // virtual trailing '.'
    if (c >= 0x30 && c <= 0x39) {
      // No leading zeros ("01"), as Node's net.isIPv4 rejects them.
      if (digits === 1 && value === 0) return false;
      value = value * 10 + (c - 0x30);
      digits++;
      if (value > 255) return false;
    } else if (c === 0x2e) {
      if (digits === 0 || part > 3) return false;
      out[offset + part] = value;
      part++;
      value = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  return part === 4;
}

/** The dotted-quad text of the 4 bytes at `offset`. */
export function formatIpv4(buf: Uint8Array, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Writes the 16 bytes of a textual IPv6 address; false if `text` is not one. */
export function writeIpv6(text: string, out: Uint8Array, offset: number): boolean {
  if (text.length < 2 || text.length > 45) return false;
  const groups = new Array<number>(8).fill(0);
  let count = 0;
  let gap = -1; // index in `groups` where "::" stands
  let i = 0;
  if (text.startsWith('::')) {
    gap = 0;
    i = 2;
    if (i === text.length) {
      out.fill(0, offset, offset + IPV6_ADDRESS_BYTES);
      return true;
    }
  } else if (text.charCodeAt(0) === 0x3a) {
    return false;
  }
  while (i < text.length) {
    // One group: hex digits, or a dotted IPv4 tail occupying two groups.
    let j = i;
    let value = 0;
    while (j < text.length && j - i < 5) {
      const h = hexValue(text.charCodeAt(j));
      if (h < 0) break;
      value = (value << 4) | h;
      j++;
    }
    if (j < text.length && text.charCodeAt(j) === 0x2e) {
      if (count > 6) return false;
      const tail = new Uint8Array(4);
      if (!writeIpv4(text.slice(i), tail, 0)) return false;
      groups[count++] = (tail[0]! << 8) | tail[1]!;
      groups[count++] = (tail[2]! << 8) | tail[3]!;
      i = text.length;
      break;
    }
    if (j === i || j - i > 4 || count >= 8) return false;
    groups[count++] = value;
    i = j;
    if (i === text.length) break;
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i < text.length && text.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    } else if (i === text.length) {
      return false; // trailing single ':'
    }
  }
  if (gap >= 0) {
    if (count > 7) return false;
    const moved = count - gap;
    for (let k = 0; k < moved; k++) groups[7 - k] = groups[count - 1 - k]!;
    for (let k = gap; k < 8 - moved; k++) groups[k] = 0;
  } else if (count !== 8) {
    return false;
  }
  for (let k = 0; k < 8; k++) {
    out[offset + 2 * k] = groups[k]! >> 8;
    out[offset + 2 * k + 1] = groups[k]! & 0xff;
  }
  return true;
}

/** The text of the 16-byte IPv6 address at `offset`, formatted as libuv's inet_ntop6 does. */
export function formatIpv6(buf: Uint8Array, offset: number): string {
  const words = new Array<number>(8);
  for (let k = 0; k < 8; k++) words[k] = (buf[offset + 2 * k]! << 8) | buf[offset + 2 * k + 1]!;
  // Find the first longest run of zero words (length ≥ 2).
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let k = 0; k < 8; k++) {
    if (words[k] === 0) {
      if (curBase < 0) {
        curBase = k;
        curLen = 1;
      } else {
        curLen++;
      }
    } else if (curBase >= 0) {
      if (curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase >= 0 && curLen > bestLen) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestLen < 2) bestBase = -1;
  let text = '';
  for (let k = 0; k < 8; k++) {
    if (bestBase >= 0 && k >= bestBase && k < bestBase + bestLen) {
      if (k === bestBase) text += ':';
      continue;
    }
    if (k !== 0) text += ':';
    // IPv4-compatible (::a.b.c.d with a non-zero 7th word) or IPv4-mapped (::ffff:a.b.c.d).
    if (k === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      return text + formatIpv4(buf, offset + 12);
    }
    text += words[k]!.toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) text += ':';
  return text;
}
