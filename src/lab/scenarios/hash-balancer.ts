/**
 * A flow-hashing load balancer for the userspace lab (the §4.4 routers, in a TCP relay): listens on
 * 127.0.0.1, and relays each accepted connection to one of N upstream ports (the PathEmulators of
 * the paths) chosen by a keyed hash of the connection's source address and port, as an ECMP router
 * hashes the 4-tuple (the destination is the same for every flow here). The key is random per
 * balancer, like a router's hash seed, so which source ports collide changes from run to run.
 *
 * Contract: bytes are piped both ways with backpressure (stream.pipe); closing or an error on
 * either side destroys the other; `assignments` records each flow's source port and path index;
 * close() stops listening and destroys every relayed connection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';

export function flowHash(key: Buffer, srcAddress: string, srcPort: number, buckets: number): number {
  const h = createHash('sha256').update(key).update(`${srcAddress}:${srcPort}`).digest();
  return h.readUInt32BE(0) % buckets;
}

export class HashBalancer {
  readonly assignments: Array<{ srcPort: number; path: number }> = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(upstreamPorts: readonly number[], key: Buffer = randomBytes(16)): Promise<HashBalancer> {
    if (upstreamPorts.length === 0) throw new RangeError('a balancer needs at least one upstream');
    let self: HashBalancer | undefined;
    const server = createServer({ noDelay: true }, (client) => self?.relay(client, upstreamPorts, key));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    self = new HashBalancer(server, typeof addr === 'object' && addr ? addr.port : 0);
    return self;
  }

  private relay(client: Socket, upstreamPorts: readonly number[], key: Buffer): void {
    const path = flowHash(key, client.remoteAddress ?? '', client.remotePort ?? 0, upstreamPorts.length);
    this.assignments.push({ srcPort: client.remotePort ?? 0, path });
    const upstream = connect({ host: '127.0.0.1', port: upstreamPorts[path]!, noDelay: true });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    }
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
