import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tokenOfKey } from '../../src/crypto/keys.js';
import { joinDelaysFromCapture, quantileSorted, summarizeDelays } from '../../src/lab/pm-latency-capture.js';
import { LinkType } from '../../src/pcap/link.js';
import { ipv4Tcp, type PcapRecord, pcapFile, sll1, tcpHeader } from '../pcap/builders.js';

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const CLIENT = [10, 0, 0, 1];
const CLIENT2 = [10, 0, 1, 1];
const SERVER = [10, 0, 0, 2];
const SERVER_PORT = 5000;

const be = (v: bigint, n: number) =>
  Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * (n - 1 - i))) & 0xffn));
/** RFC 8684 §3.1: MP_CAPABLE v1 in a SYN (flags A|H = 0x81), and with the sender's key in a SYN/ACK. */
const mpCapableSyn = () => [30, 4, 0x01, 0x81];
const mpCapableSynAck = (key: bigint) => [30, 12, 0x01, 0x01, ...be(key, 8)];
/** §3.2: MP_JOIN SYN: address id, the receiver's token, a nonce. */
const mpJoinSyn = (token: number) => [30, 12, 0x10, 2, ...be(BigInt(token), 4), 1, 2, 3, 4];

function packet(
  tsUs: number,
  src: number[],
  dst: number[],
  sport: number,
  dport: number,
  flags: number,
  opts: number[] = [],
): PcapRecord {
  const tcp = tcpHeader(sport, dport, 1, flags, opts);
  return {
    sec: Math.floor(tsUs / 1e6),
    frac: (tsUs % 1e6) * 1000,
    data: sll1(0x0800, ipv4Tcp(src, dst, tcp)),
  };
}

/** One connection: SYN at t0, SYN/ACK, the server's first data at t0+trigger, join SYN at t0+join. */
function connection(t0: number, port: number, key: bigint, triggerUs: number, joinUs?: number): PcapRecord[] {
  const out = [
    packet(t0, CLIENT, SERVER, port, SERVER_PORT, SYN, mpCapableSyn()),
    packet(t0 + 10, SERVER, CLIENT, SERVER_PORT, port, SYN | ACK, mpCapableSynAck(key)),
    packet(t0 + triggerUs, SERVER, CLIENT, SERVER_PORT, port, ACK | PSH),
  ];
  if (joinUs !== undefined)
    out.push(packet(t0 + joinUs, CLIENT2, SERVER, port + 1000, SERVER_PORT, SYN, mpJoinSyn(tokenOfKey(key))));
  return out;
}

describe('lab/pm-latency-capture', () => {
  test('matches each join SYN to its connection by token and measures both delays', () => {
    const records = [
      ...connection(1_000_000, 40000, 0x0102030405060708n, 60, 150),
      ...connection(1_010_000, 40001, 0x1112131415161718n, 80, 400),
      ...connection(1_020_000, 40002, 0x2122232425262728n, 70), // no join
    ];
    const r = joinDelaysFromCapture(
      pcapFile({ le: true, nanos: true, linkType: LinkType.LINUX_SLL, records }),
    );
    assert.deepEqual(r.delaysUs, [150, 400]);
    assert.deepEqual(r.reactionUs, [90, 320]);
    assert.equal(r.unmatched, 1);
  });

  test('a join whose token names no connection in the capture is not counted', () => {
    const records = [
      ...connection(1_000_000, 40000, 0x0102030405060708n, 60),
      packet(1_000_500, CLIENT2, SERVER, 41000, SERVER_PORT, SYN, mpJoinSyn(0xdeadbeef)),
    ];
    const r = joinDelaysFromCapture(
      pcapFile({ le: true, nanos: true, linkType: LinkType.LINUX_SLL, records }),
    );
    assert.deepEqual(r.delaysUs, []);
    assert.equal(r.unmatched, 1);
  });

  test('summaries: nearest-rank median and p99, mean; NaN when empty', () => {
    const xs = Array.from({ length: 200 }, (_, i) => 200 - i);
    const s = summarizeDelays(xs);
    assert.equal(s.n, 200);
    assert.equal(s.median, 100);
    assert.equal(s.p99, 198);
    assert.equal(s.mean, 100.5);
    assert.ok(Number.isNaN(summarizeDelays([]).median));
    assert.equal(quantileSorted([1, 2, 3], 0), 1);
    assert.equal(quantileSorted([1, 2, 3], 1), 3);
  });
});
