/**
 * Named errors of the kernel MPTCP socket layer.
 */
import { errnoName } from '../native/libc.js';

/** What each socket(…, IPPROTO_MPTCP) failure means on Linux. */
export const MPTCP_UNAVAILABLE_ERRNOS: Record<string, string> = {
  EINVAL: 'the kernel is older than 5.6 and does not know IPPROTO_MPTCP',
  EPROTONOSUPPORT: 'the kernel was built without MPTCP (CONFIG_MPTCP=n)',
  ENOPROTOOPT: 'MPTCP is disabled in this network namespace (net.mptcp.enabled=0)',
};

/** socket(…, IPPROTO_MPTCP) failed and the caller asked for `mptcp: 'require'`. */
export class MptcpUnavailableError extends Error {
  override readonly name = 'MptcpUnavailableError';
  readonly code: string;
  constructor(readonly errno: number) {
    const code = errnoName(errno);
    const meaning = MPTCP_UNAVAILABLE_ERRNOS[code] ?? 'unexpected error';
    super(
      `kernel MPTCP unavailable: socket(IPPROTO_MPTCP) failed with ${code}: ${meaning}. ` +
        'Fix: use Linux >= 5.6 built with CONFIG_MPTCP=y and run `sysctl -w net.mptcp.enabled=1`.',
    );
    this.code = code;
  }
}

/** The connection was not established within the `timeout` given to connect(). */
export class ConnectTimeoutError extends Error {
  override readonly name = 'ConnectTimeoutError';
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly host: string,
    readonly port: number,
    readonly timeoutMs: number,
  ) {
    super(`connect to ${host}:${port} timed out after ${timeoutMs} ms`);
  }
}

/** The object passed to isMultipath/mptcpInfo/subflows has no open socket descriptor. */
export class NotConnectedError extends Error {
  override readonly name = 'NotConnectedError';
}

/** A socket error with the shape of Node's system errors (code, errno, syscall, address, port). */
export class SocketSystemError extends Error {
  override readonly name = 'SocketSystemError';
  readonly code: string;
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly address?: string,
    readonly port?: number,
  ) {
    const code = errnoName(errno);
    super(
      `${syscall} ${code}${address !== undefined ? ` ${address}${port !== undefined ? `:${port}` : ''}` : ''}`,
    );
    this.code = code;
  }
}
