/**
 * Large reads for a subflow's `net.Socket`: while bulk data arrives, each read(2) goes into a slice of
 * a 1 MiB arena instead of Node's fresh 64 KiB buffer, so one readable event can take up to the
 * arena's free space at once. Fewer read callbacks, and the 64 KiB frames mostly arrive whole instead
 * of split across two reads (one chunk per frame for the reader instead of two).
 *
 * Contract: `enableLargeReads(socket, onBytes)` returns false (and changes nothing) when this Node
 * lacks the mechanism. Once it returns true, `onBytes` receives every byte read from the socket, in
 * order, as views of arena memory that is never written again (a slice is handed to the kernel only
 * once; reads under 16 KiB are copied out instead, so they pin no arena); 'data' is no longer emitted, while 'end', 'error' and 'close' are. An arena is freed by the
 * garbage collector when no view of it is left; memory held is the views the caller keeps plus one
 * arena per socket, and a socket that goes quiet drops back to a 64 KiB buffer.
 *
 * Mechanism: Node's public `onread` option of `net.connect` (a buffer generator and a callback) is
 * not available to the sockets a `net.Server` accepts, so this sets the same three fields Node's
 * `net.Socket` constructor sets for `onread` (found by their symbol descriptions) and calls the
 * handle's `useUserBuffer`, which is what that constructor does (Node 18–22 `lib/net.js`).
 */
import type net from 'node:net';

/** The arena a busy socket reads into (bytes). */
export const BULK_ARENA_BYTES = 1024 * 1024;
/** The buffer of a socket whose last read was small (bytes): what Node itself allocates per read. */
export const QUIET_BUFFER_BYTES = 64 * 1024;
/** A read smaller than this means the socket went quiet (bytes). */
const QUIET_READ_BYTES = 16 * 1024;
/** The least free space worth offering the kernel for a read (bytes). */
const MIN_READ_BYTES = 64 * 1024;

interface UserBufferHandle {
  useUserBuffer(buf: Uint8Array): void;
}

function symbolNamed(target: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(target).find((s) => s.description === description);
}

export function enableLargeReads(socket: net.Socket, onBytes: (chunk: Buffer) => void): boolean {
  const kBuffer = symbolNamed(socket, 'kBuffer');
  const kBufferCb = symbolNamed(socket, 'kBufferCb');
  const kBufferGen = symbolNamed(socket, 'kBufferGen');
  const handle = (socket as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle;
  if (!kBuffer || !kBufferCb || !kBufferGen || typeof handle?.useUserBuffer !== 'function') return false;

  let arena = Buffer.allocUnsafeSlow(BULK_ARENA_BYTES);
  let used = 0;
  let lastRead = BULK_ARENA_BYTES;
  const fields = socket as unknown as Record<symbol, unknown>;
  fields[kBufferCb] = (nread: number, buf: Buffer): void => {
    // `buf` is the slice handed out last: arena[used..].
    lastRead = nread;
    if (nread < QUIET_READ_BYTES) {
      // A small read is copied out, so its slice can be offered again and pins no arena.
      onBytes(Buffer.from(buf.subarray(0, nread)));
      return;
    }
    used += nread; // those bytes are now the caller's
    onBytes(buf.subarray(0, nread));
  };
  fields[kBufferGen] = (): Buffer => {
    const quiet = lastRead < QUIET_READ_BYTES;
    if (quiet && arena.length > QUIET_BUFFER_BYTES) {
      arena = Buffer.allocUnsafeSlow(QUIET_BUFFER_BYTES);
      used = 0;
    } else if (arena.length - used < MIN_READ_BYTES) {
      arena = Buffer.allocUnsafeSlow(quiet ? QUIET_BUFFER_BYTES : BULK_ARENA_BYTES);
      used = 0;
    }
    return arena.subarray(used);
  };
  const first = arena.subarray(0);
  fields[kBuffer] = first;
  (handle as UserBufferHandle).useUserBuffer(first);
  return true;
}
