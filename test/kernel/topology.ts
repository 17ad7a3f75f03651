/**
 * Two-path test topology: a client namespace and a server namespace joined by two veth pairs.
 *
 *   client ns                          server ns
 *   c1 10.<n>.1.1/24  <── path A ──>  s1 10.<n>.1.2/24   (the server's address: 10.<n>.1.2)
 *   c2 10.<n>.2.1/24  <── path B ──>  s2 10.<n>.2.2/24
 *
 * The client has an MPTCP "subflow" endpoint on c2 and a source-routing rule (from 10.<n>.2.1 → c2), so
 * the kernel opens a second subflow over path B. Limits: subflow 2, add_addr_accepted 2 on both sides.
 * Everything lives in the two namespaces and vanishes with them.
 */
import { ip, Netns, sysctl, vethPair } from '../../src/lab/netns.js';

export interface TwoPaths {
  client: Netns;
  server: Netns;
  serverAddr: string;
  clientAddrA: string;
  clientAddrB: string;
  destroy(): void;
}

let subnet = 0;

export function buildTwoPaths(opts: { rateMbit?: number } = {}): TwoPaths {
  subnet += 1;
  const n = 60 + ((process.pid + subnet) % 60);
  const client = Netns.create('mptcp-kc');
  const server = Netns.create('mptcp-ks');
  try {
    vethPair(client, 'c1', server, 's1');
    vethPair(client, 'c2', server, 's2');
    ip(client, ['addr', 'add', `10.${n}.1.1/24`, 'dev', 'c1']);
    ip(client, ['addr', 'add', `10.${n}.2.1/24`, 'dev', 'c2']);
    ip(server, ['addr', 'add', `10.${n}.1.2/24`, 'dev', 's1']);
    ip(server, ['addr', 'add', `10.${n}.2.2/24`, 'dev', 's2']);
    for (const ns of [client, server]) {
      sysctl(ns, 'net.ipv4.conf.all.rp_filter', 0);
      sysctl(ns, 'net.ipv4.conf.default.rp_filter', 0);
      ip(ns, ['mptcp', 'limits', 'set', 'subflow', '2', 'add_addr_accepted', '2']);
    }
    // Path B: packets from the client's second address leave through c2, whatever the destination.
    ip(client, ['rule', 'add', 'from', `10.${n}.2.1`, 'table', '102']);
    ip(client, ['route', 'add', 'default', 'dev', 'c2', 'table', '102']);
    ip(client, ['mptcp', 'endpoint', 'add', `10.${n}.2.1`, 'dev', 'c2', 'subflow']);
    if (opts.rateMbit) {
      for (const [ns, dev] of [
        [client, 'c1'],
        [client, 'c2'],
        [server, 's1'],
        [server, 's2'],
      ] as const) {
        const tbf = ['qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${opts.rateMbit}mbit`];
        const r = ns.exec('tc', [...tbf, 'burst', '32kb', 'latency', '50ms']);
        if (r.code !== 0) throw new Error(`tc ${tbf.join(' ')} failed: ${r.stderr}`);
      }
    }
  } catch (err) {
    client.delete();
    server.delete();
    throw err;
  }
  return {
    client,
    server,
    serverAddr: `10.${n}.1.2`,
    clientAddrA: `10.${n}.1.1`,
    clientAddrB: `10.${n}.2.1`,
    destroy() {
      client.delete();
      server.delete();
    },
  };
}
