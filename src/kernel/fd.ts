/**
 * Creating the socket descriptor: socket(family, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, IPPROTO_MPTCP),
 * falling back to IPPROTO_TCP when the kernel cannot do MPTCP (EINVAL, EPROTONOSUPPORT, ENOPROTOOPT)
 * unless the mode is 'require'. Any other failure (EMFILE, EAFNOSUPPORT…) is thrown as is.
 */
import { NativeCallError } from '../native/libc.js';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_MPTCP,
  IPPROTO_TCP,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
} from './constants.js';
import { MPTCP_UNAVAILABLE_ERRNOS, MptcpUnavailableError } from './errors.js';
import { sysSocket } from './native.js';

/** 'prefer' (default): MPTCP, else plain TCP. 'require': MPTCP or MptcpUnavailableError. false: plain TCP. */
export type MptcpMode = 'prefer' | 'require' | false;

export interface CreatedFd {
  fd: number;
  /** Whether the descriptor is an MPTCP socket (the connection may still fall back to TCP). */
  mptcp: boolean;
  family: 4 | 6;
  /** errno name of the MPTCP failure when we fell back to TCP. */
  fallbackReason?: string;
}

export function normalizeMode(mode: unknown): MptcpMode {
  if (mode === undefined || mode === true || mode === 'prefer') return 'prefer';
  if (mode === 'require') return 'require';
  if (mode === false) return false;
  throw new TypeError(`mptcp must be 'prefer', 'require', true or false, got ${String(mode)}`);
}

export function createStreamFd(family: 4 | 6, mode: MptcpMode): CreatedFd {
  const domain = family === 6 ? AF_INET6 : AF_INET;
  const type = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
  if (mode === false) return { fd: sysSocket(domain, type, IPPROTO_TCP), mptcp: false, family };
  try {
    return { fd: sysSocket(domain, type, IPPROTO_MPTCP), mptcp: true, family };
  } catch (err) {
    if (!(err instanceof NativeCallError) || !(err.code in MPTCP_UNAVAILABLE_ERRNOS)) throw err;
    if (mode === 'require') throw new MptcpUnavailableError(err.errno);
    return { fd: sysSocket(domain, type, IPPROTO_TCP), mptcp: false, family, fallbackReason: err.code };
  }
}
