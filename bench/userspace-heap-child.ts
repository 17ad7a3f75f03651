/**
 * Heap per idle userspace MPTCP connection (bench/userspace-throughput.ts runs this with --expose-gc):
 * one process holds a server listening on two ports and <count> clients, each with two subflows
 * (one per port). Prints JSON {bytesPerConnection, count}: (heapUsed with every connection idle and
 * both subflows established on both sides − heapUsed before) / count, client and server together.
 * argv: <count>
 */
import { connect, createServer, type MptcpSocket } from '../src/node/index.js';

const SETTLE_POLL_MS = 20;
const SETTLE_TIMEOUT_MS = 120_000;
const BATCH = 50;

const count = Number(process.argv[2] ?? 1000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function heapAfterGc(): number {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().heapUsed;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const established = (s: MptcpSocket) => s.subflows.filter((f) => f.state === 'established').length;

async function main(): Promise<void> {
  const serverSockets: MptcpSocket[] = [];
  const server = createServer({}, (s) => {
    s.on('error', () => {}); // the warm-up client aborts (MP_FASTCLOSE)
    serverSockets.push(s);
  });
  await new Promise<void>((resolve) =>
    server.listen(
      [
        { port: 0, host: '127.0.0.1' },
        { port: 0, host: '127.0.0.1' },
      ],
      resolve,
    ),
  );
  const paths = server.addresses().map((a) => ({ host: '127.0.0.1', port: a.port }));
  // Warm up (code compiled, lazy module state created) so the baseline holds no one-off costs.
  const warm = connect({ paths });
  while (established(warm) < 2) await sleep(SETTLE_POLL_MS);
  warm.destroy();
  await sleep(200);
  serverSockets.length = 0;
  const before = heapAfterGc();

  // Opened in batches, each settled before the next: a burst of thousands of handshakes in one
  // process would stall the event loop past the server's plain-TCP detection (the measure is of idle
  // connections, not of a connection storm).
  const clients: MptcpSocket[] = [];
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while (clients.length < count) {
    const batch = Math.min(BATCH, count - clients.length);
    for (let i = 0; i < batch; i++) {
      const c = connect({ paths });
      c.on('error', () => {});
      clients.push(c);
    }
    for (;;) {
      const ready =
        serverSockets.length === clients.length &&
        clients.every((c) => established(c) === 2) &&
        serverSockets.every((s) => established(s) === 2);
      if (ready) break;
      if (Date.now() > deadline) {
        const short = (list: MptcpSocket[]) => list.filter((c) => established(c) !== 2).length;
        throw new Error(
          `connections did not settle: ${serverSockets.length}/${clients.length} accepted, ${short(clients)} clients and ${short(serverSockets)} server sockets without 2 subflows`,
        );
      }
      await sleep(SETTLE_POLL_MS);
    }
  }
  await sleep(100); // delayed acknowledgements and join answers go out
  const after = heapAfterGc();
  console.log(JSON.stringify({ count, bytesPerConnection: (after - before) / count }));
  for (const c of clients) c.destroy();
  server.close();
  setTimeout(() => process.exit(0), 500).unref();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
