/**
 * An adversarial peer: frames forged on one subflow (as an on-path attacker or a buggy peer would send
 * them) are answered as RFC 8684 says — the subflow is reset (MP_TCPRST) or the input ignored — and
 * the connection goes on over the other subflow, delivering the stream exactly; a valid MP_FASTCLOSE
 * aborts it. Never an uncaught exception.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Connection } from '../../src/core/connection.js';
import { encodeFrameHeader, type Frame, FrameDecoder } from '../../src/core/frame.js';
import type { Subflow } from '../../src/core/subflow.js';
import { idsnOfKey } from '../../src/crypto/index.js';
import { SimPair } from '../../src/sim/pair.js';
import type { MptcpOption } from '../../src/wire/types.js';

const MASK64 = (1n << 64n) - 1n;
const DATA = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919) >>> 5);

function subflowOf(conn: Connection, id: number): Subflow {
  return (conn as unknown as { subflows: Map<number, Subflow> }).subflows.get(id)!;
}

/** Two established subflows, a transfer under way, subflow 2's pipe to the server idle. */
function setup(): SimPair {
  const sim = new SimPair({ delayMs: 5, rateBytesPerMs: 2000 });
  assert.ok(sim.waitEstablished());
  sim.join({ delayMs: 7, rateBytesPerMs: 2000 });
  assert.ok(
    sim.runUntil(() => sim.client.subflowInfo().every((s) => s.state === 'established'), sim.now + 1000),
  );
  sim.write(DATA);
  sim.runUntil(
    () => sim.serverReceivedBytes > 50_000 && sim.subflows.get(2)!.toServer.queue.length === 0,
    sim.now + 5000,
  );
  assert.equal(sim.subflows.get(2)!.toServer.queue.length, 0, 'subflow 2 idle toward the server');
  return sim;
}

/** A frame as the client would send it on `id` now (right subflow numbers), with `options` and `payload`. */
function forged(
  sim: SimPair,
  id: number,
  options: MptcpOption[],
  payload = new Uint8Array(0),
  flags = 0,
): Uint8Array {
  const csf = subflowOf(sim.client, id);
  const head = encodeFrameHeader({
    flags,
    window: 1 << 20,
    subflowAck: csf.ssnExpected,
    options,
    payloadLength: payload.length,
  });
  return Buffer.concat([head, payload]);
}

/** The client's next data-level DSN and a valid DATA_ACK of the server's data. */
function dss(sim: SimPair, offset: number, length: number | undefined, fin = false): MptcpOption {
  const client = sim.client;
  const dataAck = (idsnOfKey(sim.server!.localKey) + 1n) & MASK64;
  return {
    kind: 'dss',
    dataAck,
    ack64: true,
    ...(length !== undefined
      ? {
          mapping: {
            dsn: (idsnOfKey(client.localKey) + 1n + BigInt(offset)) & MASK64,
            dsn64: true,
            ssn: subflowOf(client, 2).ssnNext >>> 0,
            length,
          },
        }
      : {}),
    dataFin: fin,
  };
}

/** The transfer completes exactly over what is left; returns the server's subflow-closed events. */
function finish(sim: SimPair) {
  sim.end();
  assert.ok(
    sim.runUntil(() => sim.serverEnded, sim.now + 60_000),
    'the transfer completed',
  );
  assert.ok(Buffer.from(DATA).equals(sim.serverBytes()), 'the stream is delivered exactly');
  return sim.serverEvents.filter((e) => e.type === 'subflow-closed');
}

/** Frames the server has queued toward the client on `id` since the pipe was last drained. */
function serverOutput(sim: SimPair, id: number): Frame[] {
  const bytes = Buffer.concat(sim.subflows.get(id)!.toClient.queue.map((d) => d.bytes));
  return new FrameDecoder(false).push(bytes);
}

test('a DSS mapping whose length disagrees with the payload resets that subflow; the connection goes on', () => {
  const sim = setup();
  sim.inject(2, 'server', forged(sim, 2, [dss(sim, 10, 10)], new Uint8Array(5)));
  const closed = finish(sim);
  assert.ok(closed.some((e) => e.type === 'subflow-closed' && e.subflowId === 2 && e.reason === 'protocol'));
});

test('a length-0 DSS mapping on a payload a 16-bit length could say resets that subflow (framing v2)', () => {
  const sim = setup();
  sim.inject(2, 'server', forged(sim, 2, [dss(sim, 10, 0)], new Uint8Array(5000)));
  const closed = finish(sim);
  assert.ok(closed.some((e) => e.type === 'subflow-closed' && e.subflowId === 2 && e.reason === 'protocol'));
});

test('data beyond the advertised receive window is not accepted; the connection goes on', () => {
  const sim = setup();
  const far = sim.serverReceivedBytes + 64 * 1024 * 1024;
  sim.inject(2, 'server', forged(sim, 2, [dss(sim, far, 100)], new Uint8Array(100).fill(0xee)));
  const closed = finish(sim);
  assert.ok(closed.some((e) => e.type === 'subflow-closed' && e.subflowId === 2 && e.reason === 'protocol'));
  assert.equal(sim.server!.receiveBufferedBytes, 0);
});

test('a DATA_ACK beyond what was sent resets that subflow; the connection goes on', () => {
  const sim = setup();
  const opt = dss(sim, 0, undefined) as Extract<MptcpOption, { kind: 'dss' }>;
  opt.dataAck = (opt.dataAck! + 5000n) & MASK64;
  sim.inject(2, 'server', forged(sim, 2, [opt]));
  const closed = finish(sim);
  assert.ok(closed.some((e) => e.type === 'subflow-closed' && e.subflowId === 2 && e.reason === 'protocol'));
});

test('MP_FASTCLOSE with a wrong key is ignored; with the right key it aborts the connection', () => {
  const sim = setup();
  sim.inject(2, 'server', forged(sim, 2, [{ kind: 'mp_fastclose', receiverKey: sim.server!.localKey ^ 1n }]));
  assert.notEqual(sim.server!.state, 'closed');
  finish(sim);
  assert.ok(!sim.serverEvents.some((e) => e.type === 'closed' && e.error));

  const sim2 = setup();
  sim2.inject(2, 'server', forged(sim2, 2, [{ kind: 'mp_fastclose', receiverKey: sim2.server!.localKey }]));
  assert.equal(sim2.server!.state, 'closed');
  const closed = sim2.serverEvents.find((e) => e.type === 'closed');
  assert.ok(closed?.type === 'closed' && closed.error?.name === 'ConnectionAborted');
});

test('a forged ADD_ADDR HMAC is reported with hmacValid false and not echoed', () => {
  const sim = setup();
  sim.runUntil(() => sim.subflows.get(2)!.toClient.queue.length === 0, sim.now + 1000);
  const forgedAddr: MptcpOption = {
    kind: 'add_addr',
    echo: false,
    addressId: 9,
    family: 4,
    address: '192.0.2.9',
    hmac: new Uint8Array(8).fill(0x42),
  };
  sim.inject(2, 'server', forged(sim, 2, [forgedAddr]));
  const event = sim.serverEvents.find((e) => e.type === 'add-addr');
  assert.ok(event?.type === 'add-addr' && event.hmacValid === false && event.addressId === 9);
  const echoed = serverOutput(sim, 2).some((f) => f.options.some((o) => o.kind === 'add_addr'));
  assert.equal(echoed, false, 'no echo of a forged ADD_ADDR');
  // A genuine announcement is echoed (the check above can fail).
  sim.client.announce(7, '192.0.2.7', undefined, sim.now);
  sim.pump();
  assert.ok(
    sim.runUntil(() => sim.serverEvents.some((e) => e.type === 'add-addr' && e.hmacValid), sim.now + 1000),
  );
  finish(sim);
});

const u64 = fc.bigInt({ min: 0n, max: MASK64 });
const anyOption: fc.Arbitrary<MptcpOption> = fc.oneof(
  fc.record({
    kind: fc.constant('dss' as const),
    dataAck: u64,
    ack64: fc.boolean(),
    mapping: fc.option(
      fc.record({
        dsn: u64,
        dsn64: fc.boolean(),
        ssn: fc.nat({ max: 0xffffffff }),
        length: fc.nat({ max: 0xffff }),
      }),
      { nil: undefined },
    ),
    dataFin: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('mp_prio' as const), backup: fc.boolean() }),
  fc.record({
    kind: fc.constant('remove_addr' as const),
    addressIds: fc.array(fc.nat(255), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('mp_fastclose' as const), receiverKey: u64 }),
  fc.record({ kind: fc.constant('mp_tcprst' as const), flags: fc.nat(15), reason: fc.nat(255) }),
  fc.record({ kind: fc.constant('mp_fail' as const), dsn: u64 }),
  fc.record({
    kind: fc.constant('add_addr' as const),
    echo: fc.boolean(),
    addressId: fc.nat(255),
    family: fc.constant(4 as const),
    address: fc.constant('198.51.100.1'),
    hmac: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  }),
);

test('random forged frames on one subflow: never an exception, the stream still arrives exactly', () => {
  fc.assert(
    fc.property(
      fc.array(anyOption, { maxLength: 3 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.boolean(),
      fc.nat(255),
      (options, payload, rightSubflowAck, flags) => {
        const sim = setup();
        // An echo carries no HMAC.
        const clean = options.map((o) =>
          o.kind === 'add_addr' && o.echo ? { ...o, hmac: undefined } : o,
        ) as MptcpOption[];
        let bytes: Uint8Array;
        try {
          bytes = forged(sim, 2, clean, payload, flags);
        } catch {
          return; // options the encoder refuses (too long): nothing to send
        }
        if (!rightSubflowAck) new DataView(bytes.buffer, bytes.byteOffset).setUint32(8, 0xdeadbeef);
        sim.inject(2, 'server', bytes);
        if (sim.server!.state === 'closed') {
          // Only a valid MP_FASTCLOSE may end it, and the server's key is not guessable.
          assert.fail('the connection was aborted by a forged frame');
        }
        finish(sim);
      },
    ),
    { numRuns: 300 },
  );
});
