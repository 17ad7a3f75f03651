import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { BULK_ARENA_BYTES, enableLargeReads } from '../../src/node/large-reads.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * A loopback pair: `sender` writes `payload` in 256 KiB writes, pausing now and then so some reads
 * are small, then ends. The receiving socket (server-accepted or client) switches to large reads.
 */
async function transfer(
  payload: Buffer,
  receiverSide: 'accepted' | 'client',
): Promise<{ chunks: Buffer[]; enabled: boolean; ended: boolean }> {
  const chunks: Buffer[] = [];
  let enabled = false;
  let ended = false;
  const receive = (socket: net.Socket) =>
    new Promise<void>((resolve, reject) => {
      enabled = enableLargeReads(socket, (chunk) => chunks.push(chunk));
      socket.on('end', () => {
        ended = true;
        socket.end();
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
      socket.resume();
    });
  const send = async (socket: net.Socket) => {
    for (let at = 0; at < payload.length; at += 256 * 1024) {
      if (!socket.write(payload.subarray(at, at + 256 * 1024))) await once(socket, 'drain');
      // Small writes with pauses between them: reads under the copy threshold.
      if (at % (2 * 1024 * 1024) === 0) await new Promise((r) => setTimeout(r, 2));
    }
    socket.write(Buffer.from('tail'));
    socket.end();
    socket.resume();
    await once(socket, 'close');
  };
  let done: Promise<void> = Promise.resolve();
  const server = net.createServer((s) => {
    done = receiverSide === 'accepted' ? receive(s) : send(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  const clientDone = receiverSide === 'client' ? receive(client) : send(client);
  await clientDone;
  await done;
  server.close();
  return { chunks, enabled, ended };
}

for (const side of ['accepted', 'client'] as const) {
  test(`large reads on a ${side} socket: every byte in order, views never overwritten, 'end' still emitted`, async () => {
    const payload = Buffer.concat([randomBytes(24 * 1024 * 1024)]);
    const { chunks, enabled, ended } = await transfer(payload, side);
    assert.equal(enabled, true, 'this Node version offers user read buffers');
    // Checked after the whole transfer: a slice handed out twice would have been overwritten by now.
    const all = Buffer.concat(chunks);
    assert.equal(all.length, payload.length + 4);
    assert.equal(sha(all), sha(Buffer.concat([payload, Buffer.from('tail')])));
    assert.equal(ended, true);
    const largest = Math.max(...chunks.map((c) => c.length));
    assert.ok(largest > 64 * 1024, `a read larger than Node's default 64 KiB (largest ${largest})`);
    assert.ok(largest <= BULK_ARENA_BYTES);
  });
}

test('enableLargeReads refuses a socket without a handle and changes nothing', () => {
  const socket = new net.Socket();
  assert.equal(
    enableLargeReads(socket, () => {}),
    false,
  );
});
