/**
 * The native reflex thread (native/pm-reflex.c, built by scripts/build-native.js when a C compiler
 * is there), loaded through koffi: a pthread that answers a client-side IPv4 connection's
 * `established` event with the SUBFLOW_CREATE requests the controller's reflex asked for, without
 * waking the JS thread first. Measured with the pm-latency bench (issue #7): an idle Node thread
 * takes 50-90 µs longer than a C thread from the event to the request; see the C file's header.
 *
 * Contract:
 * - `nativeReflexUnavailableReason()`: why the library cannot be loaded here, or undefined.
 * - `NativeReflexThread.start` opens two netlink sockets in the caller's namespace (do it inside
 *   withNetns), sets a kernel filter keeping `established` only on the events one, and starts the
 *   thread; `listen()` then joins the events socket to `eventsGroup`. Join it after any other
 *   socket of the process that reads the same events: the kernel delivers a multicast to the
 *   most recently joined socket first, so that this thread is woken first (SCHED_FIFO at `realtimePriority` when given and allowed:
 *   `realtime` says whether it is). Throws NativeReflexError (library missing, socket errors).
 * - `put(key, id, messages)` installs the SUBFLOW_CREATE messages for connections between those
 *   endpoints (copied; token and sequence number are stamped by the thread); `putWildcard(saddr4,
 *   id, messages, patches)` for connections from that local address to any IPv4 remote, whose
 *   address and port the thread writes where `patches` say; `clear()` drops them all.
 * - `claim(token)`: exactly one side sends for a connection. The thread's record of the token
 *   (sending, sent with each message's errno, or seen without an entry), or `none`: the thread has
 *   not seen it, and now never will act on it: the caller sends.
 * - `close()` stops the thread and closes its sockets; idempotent. Nothing here throws after start
 *   except put() on a malformed message list (a caller bug).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { keepGenlCommands } from '../netlink/bpf.js';
import { MPTCP_EVENT } from '../netlink/mptcp-pm-events.js';
import { NETLINK_GENERIC, NetlinkSocket } from '../netlink/socket.js';
import { errnoName, koffi } from '../native/libc.js';

/** build/native/ (scripts/build-native.js), from build/src/pm/. */
export const NATIVE_REFLEX_LIBRARY = fileURLToPath(
  new URL('../../native/libmptcp-pm-reflex.so', import.meta.url),
);
/** native/pm-reflex.c: MAX_MESSAGES, MAX_RECORDS. */
export const NATIVE_REFLEX_MAX_MESSAGES = 8;
const CLAIM_WORDS = 3 + NATIVE_REFLEX_MAX_MESSAGES;
const STAT_WORDS = 8;

/** native/pm-reflex.c's record states (REC_*). */
export const NATIVE_RECORD = { none: 0, claimed: 1, sending: 2, sent: 3, miss: 4 } as const;

export class NativeReflexError extends Error {
  override readonly name = 'NativeReflexError';
}

/** The thread's record of a connection (see the module contract). */
export type NativeClaim =
  | { state: 'none' }
  | { state: 'miss' }
  | { state: 'sending'; entryId: number; count: number }
  | { state: 'sent'; entryId: number; count: number; errnos: readonly number[] };

export interface NativeReflexStats {
  /** Client-side IPv4 `established` events the thread read. */
  events: number;
  /** … with an entry (requests sent), without one, and skipped (claimed by JS first). */
  hits: number;
  misses: number;
  skipped: number;
  /** Requests the kernel accepted, refused (after retries), and ENOTCONN retries. */
  sent: number;
  errors: number;
  retries: number;
  /** Requests that took over 0.5 ms from send to ACK (the kernel waited, e.g. for the socket lock). */
  slow: number;
}

export interface NativeReflexStartOptions {
  familyId: number;
  /** The mptcp_pm_events multicast group id. */
  eventsGroup: number;
  /** Byte offset of MPTCP_PM_ATTR_TOKEN's value in a SUBFLOW_CREATE message. */
  tokenOffset: number;
  /** ENOTCONN retries per request (20 µs apart). */
  maxRetries: number;
  /** SCHED_FIFO priority for the thread (1..99); normal scheduling when absent. */
  realtimePriority?: number;
}

// biome-ignore lint/suspicious/noExplicitAny: koffi function objects are untyped.
type Fn = (...args: any[]) => any;
interface Library {
  start: Fn;
  put: Fn;
  clear: Fn;
  claim: Fn;
  stats: Fn;
  stop: Fn;
}
let library: Library | undefined;
let loadError: string | undefined;

function load(): Library {
  if (library) return library;
  if (loadError) throw new NativeReflexError(loadError);
  if (!existsSync(NATIVE_REFLEX_LIBRARY)) {
    loadError = `${NATIVE_REFLEX_LIBRARY} is not built (no C compiler at build time? see scripts/build-native.js)`;
    throw new NativeReflexError(loadError);
  }
  try {
    const lib = koffi().load(NATIVE_REFLEX_LIBRARY);
    library = {
      start: lib.func('void *mptcp_reflex_start(int, int, int, int, int, int, _Out_ int *, _Out_ int *)'),
      put: lib.func(
        'int mptcp_reflex_put(void *, uint32_t, uint32_t, uint32_t, uint32_t, const uint8_t *, uint32_t, uint32_t, const int32_t *)',
      ),
      clear: lib.func('void mptcp_reflex_clear(void *)'),
      claim: lib.func('int32_t mptcp_reflex_claim(void *, uint32_t, _Out_ int32_t *)'),
      stats: lib.func('int32_t mptcp_reflex_stats(void *, _Out_ double *)'),
      stop: lib.func('void mptcp_reflex_stop(void *)'),
    };
    return library;
  } catch (err) {
    loadError = `cannot load ${NATIVE_REFLEX_LIBRARY}: ${(err as Error).message}`;
    throw new NativeReflexError(loadError);
  }
}

/** Why the native reflex thread cannot run here, or undefined when it can. */
export function nativeReflexUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'the native reflex thread is Linux-only';
  try {
    load();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Where a wildcard entry's message takes the connection's remote address and port. */
export interface RemotePatch {
  /** Offset of the 4-byte IPv4 address (network order). */
  daddrOffset: number;
  /** Offset of the 2-byte port, and its byte order. */
  portOffset: number;
  portBigEndian: boolean;
}

/** native/pm-reflex.c: WILDCARD_PORT. */
const WILDCARD_PORT = 0x1_0000;

/** An IPv4 connection's endpoints as peekEstablished reads them (addresses as u32). */
export interface NativeReflexKey {
  saddr4: number;
  daddr4: number;
  dport: number;
}

export class NativeReflexThread {
  private handle: unknown;
  private readonly claimOut = new Int32Array(CLAIM_WORDS);
  private readonly statsOut = new Float64Array(STAT_WORDS);

  private constructor(
    private readonly lib: Library,
    handle: unknown,
    private readonly sockets: readonly NetlinkSocket[],
    private readonly eventsGroup: number,
    /** Whether the thread runs SCHED_FIFO. */
    readonly realtime: boolean,
  ) {
    this.handle = handle;
  }

  /**
   * Starts a thread on two new sockets of the caller's namespace. `sockets` (events, command) may
   * be given instead, for tests: any datagram sockets; they are then the caller's to close.
   */
  static start(
    o: NativeReflexStartOptions,
    sockets?: { eventsFd: number; cmdFd: number },
  ): NativeReflexThread {
    const lib = load();
    const own: NetlinkSocket[] = [];
    try {
      let fds = sockets;
      if (!fds) {
        const events = NetlinkSocket.open(NETLINK_GENERIC);
        own.push(events);
        const cmd = NetlinkSocket.open(NETLINK_GENERIC);
        own.push(cmd);
        events.attachFilter(keepGenlCommands(o.familyId, [MPTCP_EVENT.ESTABLISHED]));
        fds = { eventsFd: events.fd, cmdFd: cmd.fd };
      }
      const rtOk = [0];
      const err = [0];
      const handle = lib.start(
        fds.eventsFd,
        fds.cmdFd,
        o.familyId,
        o.tokenOffset,
        o.maxRetries,
        o.realtimePriority ?? 0,
        rtOk,
        err,
      );
      if (!handle) throw new NativeReflexError(`cannot start the reflex thread: ${errnoName(err[0]!)}`);
      return new NativeReflexThread(lib, handle, own, o.eventsGroup, rtOk[0] === 1);
    } catch (err) {
      for (const s of own) void s.close();
      if (err instanceof NativeReflexError) throw err;
      throw new NativeReflexError(`cannot start the reflex thread: ${(err as Error).message}`);
    }
  }

  /** Joins the thread's events socket to the events group (see the module contract). */
  listen(): void {
    this.sockets[0]?.joinGroup(this.eventsGroup);
  }

  /** Installs the requests for connections between these endpoints (see the module contract). */
  /** Returns true when the table was full and emptied first (wildcards included: install them again). */
  put(key: NativeReflexKey, id: number, messages: readonly Uint8Array[]): boolean {
    return this.install(key.saddr4, key.daddr4, key.dport, id, messages, null);
  }

  /** Installs requests for connections from `saddr4` to any IPv4 remote (see the module contract). */
  putWildcard(
    saddr4: number,
    id: number,
    messages: readonly Uint8Array[],
    patches: readonly RemotePatch[],
  ): boolean {
    if (patches.length !== messages.length)
      throw new RangeError(`one patch per message: ${patches.length} for ${messages.length}`);
    const flat = Int32Array.from(
      patches.flatMap((p) => [p.daddrOffset, p.portOffset, p.portBigEndian ? 1 : 0]),
    );
    return this.install(saddr4, 0, WILDCARD_PORT, id, messages, flat);
  }

  private install(
    saddr4: number,
    daddr4: number,
    dport: number,
    id: number,
    messages: readonly Uint8Array[],
    patches: Int32Array | null,
  ): boolean {
    if (!this.handle) return false;
    if (messages.length === 0 || messages.length > NATIVE_REFLEX_MAX_MESSAGES)
      throw new RangeError(`1..${NATIVE_REFLEX_MAX_MESSAGES} messages per entry, got ${messages.length}`);
    const all = Buffer.concat(messages);
    const put = () =>
      this.lib.put(
        this.handle,
        saddr4,
        daddr4,
        dport,
        id,
        all,
        all.length,
        messages.length,
        patches,
      ) as number;
    let rc = put();
    const full = rc === 28; // ENOSPC
    if (full) {
      this.lib.clear(this.handle);
      rc = put();
    }
    if (rc !== 0) throw new NativeReflexError(`reflex entry refused: ${errnoName(rc)}`);
    return full;
  }

  clear(): void {
    if (this.handle) this.lib.clear(this.handle);
  }

  claim(token: number): NativeClaim {
    if (!this.handle) return { state: 'none' };
    const out = this.claimOut;
    const state = this.lib.claim(this.handle, token >>> 0, out) as number;
    switch (state) {
      case NATIVE_RECORD.sending:
        return { state: 'sending', entryId: out[1]!, count: out[2]! };
      case NATIVE_RECORD.sent:
        return {
          state: 'sent',
          entryId: out[1]!,
          count: out[2]!,
          errnos: Array.from(out.subarray(3, 3 + out[2]!)),
        };
      case NATIVE_RECORD.miss:
        return { state: 'miss' };
      default:
        // none (claimed now) or claimed (by an earlier call): the caller's.
        return { state: 'none' };
    }
  }

  stats(): NativeReflexStats {
    const s = this.statsOut;
    if (this.handle) this.lib.stats(this.handle, s);
    return {
      events: s[0]!,
      hits: s[1]!,
      misses: s[2]!,
      skipped: s[3]!,
      sent: s[4]!,
      errors: s[5]!,
      retries: s[6]!,
      slow: s[7]!,
    };
  }

  async close(): Promise<void> {
    const h = this.handle;
    if (!h) return;
    this.stats(); // kept: stats() after close() gives the final counts
    this.handle = undefined;
    this.lib.stop(h);
    for (const s of this.sockets) await s.close();
  }
}
