/**
 * http.Agent / https-less helper whose sockets are kernel MPTCP connections:
 * `http.get(url, { agent: mptcpAgent() })`.
 */
import http from 'node:http';
import type net from 'node:net';
import { connect, type MptcpConnectOptions } from './client.js';
import type { MptcpMode } from './fd.js';

export function mptcpAgent(options: http.AgentOptions & { mptcp?: MptcpMode | boolean } = {}): http.Agent {
  const { mptcp, ...agentOptions } = options;
  const agent = new http.Agent(agentOptions);
  (agent as unknown as { createConnection: unknown }).createConnection = (
    opts: MptcpConnectOptions,
    cb?: (err: Error | null, socket?: net.Socket) => void,
  ): net.Socket => {
    const socket = connect({ ...opts, mptcp: mptcp ?? opts.mptcp ?? 'prefer' });
    void cb;
    return socket;
  };
  return agent;
}
