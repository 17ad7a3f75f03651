import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  availableCongestionControls,
  CongestionControlError,
  connect,
  createServer,
  getCongestionControl,
  type MptcpSocket,
} from '../../src/node/index.js';

const available = availableCongestionControls() ?? [];

function readDefault(): string {
  return readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
}

/** An algorithm other than the system default, so the test sees the option take effect. */
function otherAlgorithm(): string | undefined {
  try {
    const system = readDefault();
    return available.find((a) => a !== system);
  } catch {
    return undefined;
  }
}

const algorithm = otherAlgorithm();
const skip =
  process.platform !== 'linux'
    ? 'TCP_CONGESTION is Linux only'
    : algorithm === undefined
      ? `no congestion control other than the default here (available: ${available.join(', ')})`
      : process.getuid?.() !== 0 &&
          !readFileSync('/proc/sys/net/ipv4/tcp_allowed_congestion_control', 'utf8').includes(algorithm)
        ? `${algorithm} is not allowed for unprivileged sockets here`
        : false;

test('congestionControl applies to every subflow on both ends', { skip }, async () => {
  const cc = algorithm!;
  let serverSide: MptcpSocket | undefined;
  const server = createServer({ congestionControl: cc }, (s) => {
    serverSide = s;
    s.on('error', () => {}); // the client's destroy() aborts it (MP_FASTCLOSE)
    s.resume();
  });
  await new Promise<void>((resolve) =>
    server.listen(
      [
        { port: 0, host: '127.0.0.1' },
        { port: 0, host: '127.0.0.1' },
      ],
      () => resolve(),
    ),
  );
  const [a, b] = server.addresses();
  const client = connect({
    paths: [
      { host: '127.0.0.1', port: a!.port },
      { host: '127.0.0.1', port: b!.port },
    ],
    congestionControl: cc,
  });
  try {
    await once(client, 'connect');
    const deadline = Date.now() + 5000;
    while ((client.subflows.length < 2 || (serverSide?.subflows.length ?? 0) < 2) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(client.subflows.length, 2);
    for (const sf of client.subflows) assert.equal(getCongestionControl(client.subflowSocket(sf.id)!), cc);
    for (const sf of serverSide!.subflows)
      assert.equal(
        getCongestionControl(serverSide!.subflowSocket(sf.id)!),
        cc,
        'inherited from the listener',
      );
  } finally {
    client.destroy();
    server.close();
  }
});

test('an unknown congestion control is a clear error from connect() and createServer()', () => {
  assert.throws(
    () => connect({ port: 1, host: '127.0.0.1', congestionControl: 'no-such-cc' }),
    (err: unknown) => err instanceof CongestionControlError && /no-such-cc/.test(err.message),
  );
  assert.throws(() => createServer({ congestionControl: '' }, () => {}), CongestionControlError);
});
