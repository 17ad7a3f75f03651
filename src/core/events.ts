/**
 * What a Connection reports to its adapter and application (pollEvent), and what it asks the adapter to
 * do with subflow sockets (pollTransmit). Both are discriminated unions; each event says when it is
 * emitted.
 */

/** Why a subflow ended. */
export type SubflowCloseReason =
  | 'closed' // the peer or we closed it in an orderly way (connection closing, REMOVE_ADDR, controller)
  | 'reset' // the peer reset it (MP_TCPRST or a TCP RST)
  | 'timeout' // no sign of life within the probe timeout while data was outstanding
  | 'error' // a socket error
  | 'refused' // the peer refused the join (bad token, bad HMAC, limit) or the TCP connect failed
  | 'protocol'; // the peer violated the framing or the protocol; we reset it

export type ConnectionEvent =
  /** Emitted when the MP_CAPABLE exchange completes on the initial subflow: the connection is multipath. */
  | { type: 'established'; localToken: number; remoteToken: number }
  /** Emitted (client only) when the server did not answer with MPTCP: the adapter falls back to plain TCP. */
  | { type: 'fallback'; reason: string }
  /** Emitted when a subflow finishes its handshake and may carry data. */
  | { type: 'subflow-established'; subflowId: number; backup: boolean }
  /** Emitted when a subflow ends for any reason; its unacknowledged data has been queued for reinjection. */
  | {
      type: 'subflow-closed';
      subflowId: number;
      reason: SubflowCloseReason;
      detail?: string;
      reinjectedBytes: number;
      /** The peer's MP_TCPRST reason code, when it sent one. */
      resetReason?: number;
    }
  /** Emitted when the subflow's retransmission-timeout-like value (rto) crosses a new value worth reporting. */
  | { type: 'subflow-timeout'; subflowId: number; rtoMs: number }
  /** Emitted when a subflow's backup flag changes (MP_PRIO from the peer, or setBackup). */
  | { type: 'subflow-priority'; subflowId: number; backup: boolean }
  /** Emitted when in-order data is ready to read(). */
  | { type: 'readable' }
  /** Emitted when the peer's DATA_FIN has been reached: no more data will arrive. */
  | { type: 'end' }
  /** Emitted when our DATA_FIN is acknowledged: everything we wrote has been received by the peer. */
  | { type: 'send-finished' }
  /** Emitted when the send buffer drops below its low-water mark after write() returned false. */
  | { type: 'drain' }
  /** Emitted when the peer announces an address (ADD_ADDR); `hmacValid` false means it was ignored. */
  | { type: 'add-addr'; addressId: number; address: string; port?: number; hmacValid: boolean }
  /** Emitted when the peer withdraws addresses (REMOVE_ADDR). */
  | { type: 'remove-addr'; addressIds: number[] }
  /** Emitted once when the connection is over: both DATA_FINs acknowledged, fast-closed, or every subflow lost. */
  | { type: 'closed'; error?: Error };

/** What the adapter must do with a subflow socket. */
export type SubflowAction =
  /** Write these buffers, in order, to the subflow's socket (cork/writev them together). */
  | { type: 'write'; subflowId: number; buffers: Uint8Array[] }
  /** Close the subflow's socket: `reset` destroys it abruptly (RST), otherwise end() after pending writes. */
  | { type: 'close'; subflowId: number; reset: boolean };
