/**
 * An http.Agent whose sockets are kernel MPTCP connections: `http.get(url, { agent: mptcpAgent() })`.
 *
 * With `minSubflows` > 1 the agent hands a socket to the request only once that many subflows are up
 * (polled every SUBFLOW_POLL_MS) or `subflowWaitMs` has passed, whichever comes first, so a short
 * request can be observed on every path. Connect errors reach the request's 'error' event.
 */
import http from 'node:http';
import type net from 'node:net';
import { connect, type MptcpConnectOptions } from './client.js';
import type { MptcpMode } from './fd.js';
import { subflows } from './info.js';

export const SUBFLOW_POLL_MS = 20;
export const DEFAULT_SUBFLOW_WAIT_MS = 2000;

export interface MptcpAgentOptions extends http.AgentOptions {
  mptcp?: MptcpMode | boolean;
  /** Wait for this many subflows before sending the request (default 1: no wait). */
  minSubflows?: number;
  /** Upper bound on that wait (ms). */
  subflowWaitMs?: number;
}

/**
 * Subflows both ends know about: the first (the MP_CAPABLE one) once ESTABLISHED; an MP_JOIN subflow
 * once it has received a segment after the SYN/ACK — the peer's ACK of our third ACK, which the peer
 * sends only after it has created its side of the subflow. (Counting joins as soon as the SYN/ACK
 * arrives lets a request reach a server that still sees one subflow fewer.)
 */
export function subflowsUp(socket: net.Socket): number {
  return subflows(socket).filter((f, i) => f.state === 1 && (i === 0 || (f.segsIn ?? 2) >= 2)).length;
}

export function mptcpAgent(options: MptcpAgentOptions = {}): http.Agent {
  const { mptcp, minSubflows = 1, subflowWaitMs = DEFAULT_SUBFLOW_WAIT_MS, ...agentOptions } = options;
  const agent = new http.Agent(agentOptions);
  (agent as unknown as { createConnection: unknown }).createConnection = (
    opts: MptcpConnectOptions,
    cb: (err: Error | null, socket?: net.Socket) => void,
  ): net.Socket | undefined => {
    const socket = connect({ ...opts, mptcp: mptcp ?? opts.mptcp ?? 'prefer' });
    if (minSubflows <= 1) return socket;
    const deadline = Date.now() + subflowWaitMs;
    const onError = (err: Error) => cb(err);
    socket.once('error', onError);
    socket.once('connect', () => {
      const poll = () => {
        if (socket.destroyed) return;
        if (subflowsUp(socket) >= minSubflows || Date.now() >= deadline) {
          socket.off('error', onError);
          cb(null, socket);
        } else setTimeout(poll, SUBFLOW_POLL_MS);
      };
      poll();
    });
    return undefined;
  };
  return agent;
}
