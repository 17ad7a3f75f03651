/**
 * An http.Agent whose sockets are kernel MPTCP connections: `http.get(url, { agent: mptcpAgent() })`.
 * All http.Agent options apply (keepAlive, maxSockets…); connect errors reach the request's 'error'.
 */
import http from 'node:http';
import type net from 'node:net';
import { connect, type MptcpConnectOptions } from './client.js';
import type { MptcpMode } from './fd.js';
import { subflows } from './info.js';

export interface MptcpAgentOptions extends http.AgentOptions {
  mptcp?: MptcpMode | boolean;
}

export function mptcpAgent(options: MptcpAgentOptions = {}): http.Agent {
  const { mptcp, ...agentOptions } = options;
  const agent = new http.Agent(agentOptions);
  (agent as unknown as { createConnection: unknown }).createConnection = (
    opts: MptcpConnectOptions,
  ): net.Socket => connect({ ...opts, mptcp: mptcp ?? opts.mptcp ?? 'prefer' });
  return agent;
}

/**
 * Subflows both ends know about: the first (the MP_CAPABLE one) once ESTABLISHED; an MP_JOIN subflow
 * once it has received a segment after the SYN/ACK (the peer's ACK of our third ACK, sent after the
 * peer created its side). Counting joins at the SYN/ACK would race the peer.
 */
export function subflowsUp(socket: net.Socket): number {
  return subflows(socket).filter((f, i) => f.state === 1 && (i === 0 || (f.segsIn ?? 2) >= 2)).length;
}
