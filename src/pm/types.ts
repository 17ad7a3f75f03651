/**
 * The path-manager controller API (seed 003 §3): events in, commands out. One API for both worlds:
 * the userspace MPTCP (src/node/, through ./userspace-driver.ts) and the Linux kernel's userspace
 * path manager over generic netlink (./kernel-driver.ts).
 *
 * Contract:
 * - A `Controller` is pure and deterministic given the sequence of events and the views it is
 *   shown: no I/O, no clocks, no timers. Time arrives in `event.timeMs` and `view.nowMs`; to be
 *   woken later a controller returns a `set-timer` command and later receives a `tick` carrying the
 *   timer's name. State kept inside the controller object is fine.
 * - Drivers call `handle` once per event, in order, with a view refreshed just before, and execute
 *   the returned commands in order. A command the OS refuses comes back as a `command-failed` event.
 * - Identifiers are opaque strings: a connection id (kernel: the local token as 8 hex digits;
 *   userspace: the socket's local token) and a subflow key (kernel: `saddr:sport>daddr:dport`;
 *   userspace: the subflow id). Controllers only compare them and hand them back.
 */

/** An opaque connection identifier. */
export type ConnectionId = string;
/** An opaque subflow identifier, unique within its connection. */
export type SubflowKey = string;

/** Connection id of events that concern the host rather than one connection (interfaces, periodic tick). */
export const ANY_CONNECTION: ConnectionId = '*';

export interface PmEndpoint {
  address: string;
  port: number;
}

/** Why a subflow ended, as far as the OS tells. */
export type PmCloseReason = 'reset' | 'timeout' | 'unreachable' | 'refused' | 'closed' | 'error';

interface EventBase {
  /** The connection concerned, or ANY_CONNECTION for host-wide events. */
  connection: ConnectionId;
  /** When the driver saw the event (ms, the driver's monotonic clock). */
  timeMs: number;
}

export type PmEvent = EventBase &
  (
    | /** Emitted when a connection is created (first SYN sent, or MP_CAPABLE SYN accepted). */
    {
        type: 'connection-created';
        local: PmEndpoint;
        remote: PmEndpoint;
        serverSide: boolean;
      }
    /** Emitted when the MPTCP handshake has completed: subflows may be added from now on. */
    | { type: 'connection-established'; local: PmEndpoint; remote: PmEndpoint; serverSide: boolean }
    /** Emitted when the connection is over; no command for it will succeed after this. */
    | { type: 'connection-closed' }
    /** Emitted when the peer announced an address (ADD_ADDR); `port` only when it announced one. */
    | { type: 'add-addr'; addressId: number; address: string; port?: number }
    /** Emitted when the peer withdrew an address (REMOVE_ADDR). */
    | { type: 'rem-addr'; addressId: number }
    /** Emitted when a subflow (initial or MP_JOIN) has completed its handshake. */
    | {
        type: 'subflow-established';
        subflow: SubflowKey;
        local: PmEndpoint;
        remote: PmEndpoint;
        backup: boolean;
      }
    /**
     * Emitted when a subflow ended or a join attempt failed. `errno` is the socket error the OS
     * reported (ECONNRESET 104, ETIMEDOUT 110, ECONNREFUSED 111, EHOSTUNREACH 113…), `resetReason`
     * the peer's MP_TCPRST reason, when known.
     */
    | {
        type: 'subflow-closed';
        subflow: SubflowKey;
        local: PmEndpoint;
        remote: PmEndpoint;
        reason: PmCloseReason;
        errno?: number;
        resetReason?: number;
      }
    /** Emitted when a subflow's retransmission timer expired; `rtoMs` is its current (backed-off) value. */
    | { type: 'subflow-timeout'; subflow: SubflowKey; rtoMs: number }
    /** Emitted when a subflow's backup flag changed (MP_PRIO sent or received). */
    | { type: 'subflow-priority'; subflow: SubflowKey; backup: boolean }
    /** Emitted (connection ANY_CONNECTION) when a local address appeared on an interface. */
    | { type: 'local-addr-added'; address: string; ifname?: string }
    /** Emitted (connection ANY_CONNECTION) when a local address went away. */
    | { type: 'local-addr-removed'; address: string; ifname?: string }
    /**
     * Emitted when time passes: for a `set-timer` of this controller (`timer` is its name, the
     * connection its connection), or periodically by the driver (connection ANY_CONNECTION, no timer).
     */
    | { type: 'tick'; timer?: string }
    /**
     * Injected by the application or the lab: a block of `bytes` was just written to the
     * connection and should be delivered within `deadlineMs` (deadline-streaming, seed §4.3).
     */
    | { type: 'block-sent'; bytes: number; deadlineMs?: number }
    /** Emitted when the OS refused a command of this controller. */
    | { type: 'command-failed'; command: PmCommand; error: string; errno?: number }
  );

export type PmEventType = PmEvent['type'];
/** The event of one type. */
export type PmEventOf<T extends PmEventType> = Extract<PmEvent, { type: T }>;

export type PmCommand =
  /**
   * Open a subflow to remoteAddress:remotePort, from `localAddress` (default: the connection's
   * initial local address; the source port is always chosen by the OS, so it is new each time).
   */
  | {
      type: 'create-subflow';
      connection: ConnectionId;
      localAddress?: string;
      remoteAddress: string;
      remotePort: number;
      backup?: boolean;
    }
  /** Close one subflow (the connection survives on its other subflows). */
  | { type: 'remove-subflow'; connection: ConnectionId; subflow: SubflowKey }
  /** Announce a local address to the peer (ADD_ADDR). */
  | { type: 'announce'; connection: ConnectionId; addressId: number; address: string; port?: number }
  /** Withdraw an announced address (REMOVE_ADDR). */
  | { type: 'withdraw'; connection: ConnectionId; addressId: number; address?: string; port?: number }
  /** Set or clear a subflow's backup flag (MP_PRIO). */
  | { type: 'set-backup'; connection: ConnectionId; subflow: SubflowKey; backup: boolean }
  /** Deliver `{type:'tick', timer, connection}` to this controller at `atMs` (driver clock). */
  | { type: 'set-timer'; connection: ConnectionId; atMs: number; timer: string };

export type PmCommandType = PmCommand['type'];

/** One subflow, as TCP_INFO would describe it. Metrics are absent when the OS does not tell. */
export interface SubflowView {
  key: SubflowKey;
  local: PmEndpoint;
  remote: PmEndpoint;
  backup: boolean;
  /** False while the handshake is in progress. */
  established: boolean;
  srttMs?: number;
  rtoMs?: number;
  /** Most recent delivery-rate sample, bytes per second. */
  deliveryRateBytesPerSec?: number;
  /** Bytes of this subflow acknowledged by the peer. */
  bytesAcked?: number;
  bytesSent?: number;
}

export interface RemoteAddress {
  addressId: number;
  address: string;
  port?: number;
}

export interface ConnectionView {
  id: ConnectionId;
  /** The initial subflow's endpoints. */
  local: PmEndpoint;
  remote: PmEndpoint;
  serverSide: boolean;
  established: boolean;
  subflows: readonly SubflowView[];
  /** Addresses the peer announced (ADD_ADDR) and did not withdraw. */
  remoteAddresses: readonly RemoteAddress[];
  /** Connection-level data bytes acknowledged by the peer (DATA_ACK), when known. */
  bytesAcked?: number;
}

export interface LocalAddress {
  address: string;
  family: 4 | 6;
  ifname?: string;
}

/** Read-only state a controller may consult while handling an event. */
export interface PmView {
  readonly nowMs: number;
  connections(): readonly ConnectionView[];
  connection(id: ConnectionId): ConnectionView | undefined;
  /** Usable local addresses (no loopback, no IPv6 link-local). */
  localAddresses(): readonly LocalAddress[];
}

/** What a reflex sees of a new client-side connection. */
export interface ReflexConnection {
  localAddress: string;
  remote: PmEndpoint;
}

/** A subflow a reflex opens: a create-subflow command without its connection. */
export interface ReflexSubflow {
  /** Default: the connection's local address. */
  localAddress?: string;
  remoteAddress: string;
  remotePort: number;
  backup?: boolean;
}

export interface Controller {
  readonly name: string;
  handle(event: PmEvent, view: PmView): PmCommand[];
  /**
   * Optional fast path for new connections: the subflows `handle` will open (its create-subflow
   * commands) for the connection-established event of a new client-side connection, as a pure
   * function of the connection's local address, its remote address and port, and the local
   * addresses: no view, no change to the controller's state, nothing else (drivers may cache the
   * answer for those arguments). A driver that can (KernelPmDriver) sends them the moment it reads
   * the event, before the event goes through its state, the view and `handle`; `handle` still
   * receives the event, and a command it returns equal to one already sent is not sent twice. A
   * reflex subflow that `handle` does not open is still opened, and logged as an error.
   */
  establishedReflex?(conn: ReflexConnection, localAddresses: readonly LocalAddress[]): ReflexSubflow[];
}

/** Family of an address string. */
export function addressFamily(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

/** The data bytes acknowledged on a connection: the connection counter, else the sum over subflows. */
export function connectionBytesAcked(conn: ConnectionView): number {
  if (conn.bytesAcked !== undefined) return conn.bytesAcked;
  let sum = 0;
  for (const s of conn.subflows) sum += s.bytesAcked ?? 0;
  return sum;
}

/** A plain PmView over fixed data (tests, simulations, snapshots). */
export function staticView(
  nowMs: number,
  connections: readonly ConnectionView[],
  localAddresses: readonly LocalAddress[] = [],
): PmView {
  return {
    nowMs,
    connections: () => connections,
    connection: (id) => connections.find((c) => c.id === id),
    localAddresses: () => localAddresses,
  };
}
