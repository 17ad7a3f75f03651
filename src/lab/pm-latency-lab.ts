/**
 * The pm-latency topology (./pm-latency.ts): a client and a server network namespace joined by
 * two veth pairs (10.215.0.0/24, 10.215.1.0/24); the client's second address routes out of its
 * second interface (policy rule), so that a join from it goes over path 2. Both namespaces allow
 * two subflows. `buildLab` registers the namespaces for cleanup (./netns.ts) and deletes them
 * itself when it fails half-way.
 */
import { addAddress, ip, Netns, sysctl, vethPair } from './netns.js';

/** Client addresses: [0] on path 1 (the initial subflow), [1] on path 2 (the join). */
export const CLIENT_ADDRS = ['10.215.0.1', '10.215.1.1'] as const;
export const SERVER_ADDRS = ['10.215.0.2', '10.215.1.2'] as const;
/** Routing table of the client's second address. */
const PATH2_TABLE = 102;

export interface Lab {
  client: Netns;
  server: Netns;
  client2Ifindex: number;
}

export function buildLab(): Lab {
  const client = Netns.create('mptcp-pml-c');
  let server: Netns | undefined;
  try {
    server = Netns.create('mptcp-pml-s');
    for (let i = 0; i < 2; i++) {
      vethPair(client, `c${i}`, server, `s${i}`);
      addAddress(client, `c${i}`, `${CLIENT_ADDRS[i]}/24`);
      addAddress(server, `s${i}`, `${SERVER_ADDRS[i]}/24`);
    }
    // The second address leaves through the second interface whatever the destination.
    ip(client, ['rule', 'add', 'from', CLIENT_ADDRS[1], 'table', String(PATH2_TABLE)]);
    ip(client, ['route', 'add', 'default', 'dev', 'c1', 'table', String(PATH2_TABLE)]);
    ip(server, ['mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
    ip(client, ['mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
    const link = JSON.parse(ip(client, ['-j', 'link', 'show', 'c1'])) as Array<{ ifindex: number }>;
    return { client, server, client2Ifindex: link[0]!.ifindex };
  } catch (err) {
    server?.delete();
    client.delete();
    throw err;
  }
}

export function setPathManager(ns: Netns, userspace: boolean): void {
  const r = ns.exec('sysctl', ['-qw', `net.mptcp.path_manager=${userspace ? 'userspace' : 'kernel'}`]);
  if (r.code !== 0) sysctl(ns, 'net.mptcp.pm_type', userspace ? 1 : 0);
}
