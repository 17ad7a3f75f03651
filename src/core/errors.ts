/**
 * Errors of the userspace MPTCP core. They are caught at the connection boundary and turned into a
 * subflow reset or a connection close plus an event; they never escape as crashes.
 */

/** The peer violated the framing or the protocol on one subflow: that subflow is reset. */
export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation';
}

/** A join was refused: unknown token, bad HMAC, or the connection's subflow limit. */
export class JoinRefused extends Error {
  override readonly name = 'JoinRefused';
  constructor(
    message: string,
    /** MP_TCPRST reason code sent to the peer. */
    readonly resetReason: number,
  ) {
    super(message);
  }
}

/** The connection was aborted: MP_FASTCLOSE from the peer, destroy(), or every subflow lost. */
export class ConnectionAborted extends Error {
  override readonly name = 'ConnectionAborted';
  readonly code = 'ECONNRESET';
}

/** The application wrote after end(). */
export class WriteAfterEnd extends Error {
  override readonly name = 'WriteAfterEnd';
  readonly code = 'ERR_STREAM_WRITE_AFTER_END';
}
