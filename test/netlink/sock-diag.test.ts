import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fc from 'fast-check';
import { after, describe, test } from 'node:test';
import { emitAttributes, nestedAttr, stringAttr, u32Attr, u8Attr } from '../../src/netlink/attributes.js';
import {
  emitInetDiagRequest,
  INET_DIAG_CONG,
  INET_DIAG_INFO,
  INET_DIAG_ULP_INFO,
  IPPROTO_MPTCP,
  IPPROTO_TCP,
  parseInetDiagMsg,
  parseMptcpInfo,
  parseTcpInfo,
} from '../../src/netlink/inet-diag.js';
import { addAddress, cleanupAll, Netns, vethPair, withNetns } from '../../src/lab/netns.js';
import { MptcpPmClient } from '../../src/netlink/mptcp-pm-client.js';
import type { KernelPmEvent } from '../../src/netlink/mptcp-pm-events.js';
import { SockDiag } from '../../src/netlink/sock-diag.js';
import { cat, hex } from './hex.js';
import { kernelPmSkipReason, PY_CLIENT, PY_SERVER } from './kernel-env.js';

const skip = kernelPmSkipReason();

describe('netlink/inet-diag codec', () => {
  test('extension numbers match include/uapi/linux/inet_diag.h', () => {
    assert.deepEqual([INET_DIAG_INFO, INET_DIAG_CONG, INET_DIAG_ULP_INFO], [2, 4, 19]);
  });

  test('request: inet_diag_req_v2 with INFO|CONG extensions; MPTCP adds INET_DIAG_REQ_PROTOCOL', () => {
    const tcp = emitInetDiagRequest(4, IPPROTO_TCP, 0x2);
    assert.equal(tcp.length, 56);
    assert.deepEqual(tcp.subarray(0, 8), hex('02 06 0a 00 02 00 00 00'));
    assert.deepEqual(tcp.subarray(48, 56), hex('ff ff ff ff ff ff ff ff'));
    const mp = emitInetDiagRequest(6, IPPROTO_MPTCP);
    assert.equal(mp.length, 64);
    assert.deepEqual(mp.subarray(0, 4), hex('0a 06 0a 00'));
    assert.deepEqual(mp.subarray(56), hex('08 00 03 00 06 01 00 00'));
  });

  test('reply: inet_diag_msg + tcp_info + congestion + MPTCP subflow ULP info', () => {
    const msg = cat(
      hex('02 01 00 00'), // AF_INET, ESTABLISHED
      hex('9c 40 1f 90'), // sport 40000, dport 8080 (be16)
      hex('0a 00 01 01 00 00 00 00 00 00 00 00 00 00 00 00'), // src 10.0.1.1
      hex('0a 00 00 02 00 00 00 00 00 00 00 00 00 00 00 00'), // dst 10.0.0.2
      hex('03 00 00 00'), // if 3
      hex('2a 00 00 00 00 00 00 00'), // cookie 42
      hex('00 00 00 00 05 00 00 00 07 00 00 00 e8 03 00 00 39 30 00 00'), // expires, rq 5, wq 7, uid 1000, inode 12345
    );
    const tcpInfo = new Uint8Array(232);
    const d = new DataView(tcpInfo.buffer);
    tcpInfo[0] = 1;
    tcpInfo[6] = 0x7a; // snd_wscale 10, rcv_wscale 7
    d.setUint32(8, 204000, true); // rto
    d.setUint32(68, 1500, true); // rtt
    d.setUint32(72, 250, true); // rttvar
    d.setUint32(80, 14, true); // snd_cwnd
    d.setBigUint64(104, 123456789n, true); // pacing_rate
    d.setBigUint64(120, 1_000_000n, true); // bytes_acked
    d.setBigUint64(128, 2_000_000n, true); // bytes_received
    d.setBigUint64(160, 987654n, true); // delivery_rate
    d.setUint32(228, 65536, true); // snd_wnd
    const attrs = emitAttributes([
      { type: 2 /* INET_DIAG_INFO */, payload: tcpInfo },
      stringAttr(4 /* INET_DIAG_CONG */, 'cubic'),
      nestedAttr(19 /* INET_DIAG_ULP_INFO */, [
        stringAttr(1, 'mptcp'),
        nestedAttr(3, [u32Attr(1, 0xaabbccdd), u32Attr(2, 0x11223344), u8Attr(9, 0), u8Attr(10, 2)]),
      ]),
    ]);
    const s = parseInetDiagMsg(cat(msg, attrs), IPPROTO_TCP);
    assert.ok(s);
    assert.equal(s.saddr, '10.0.1.1');
    assert.equal(s.daddr, '10.0.0.2');
    assert.equal(s.sport, 40000);
    assert.equal(s.dport, 8080);
    assert.equal(s.stateName, 'ESTABLISHED');
    assert.equal(s.ifindex, 3);
    assert.equal(s.cookie, 42n);
    assert.deepEqual([s.rqueue, s.wqueue, s.uid, s.inode], [5, 7, 1000, 12345]);
    assert.equal(s.congestion, 'cubic');
    assert.equal(s.ulp, 'mptcp');
    assert.deepEqual(s.mptcpSubflow, {
      tokenRemote: 0xaabbccdd,
      tokenLocal: 0x11223344,
      idRemote: 0,
      idLocal: 2,
    });
    const t = s.tcpInfo;
    assert.ok(t);
    assert.deepEqual(
      [t.sndWscale, t.rcvWscale, t.rtoUs, t.rttUs, t.rttvarUs, t.sndCwnd],
      [10, 7, 204000, 1500, 250, 14],
    );
    assert.deepEqual(
      [t.pacingRate, t.bytesAcked, t.bytesReceived, t.deliveryRate, t.sndWnd],
      [123456789, 1e6, 2e6, 987654, 65536],
    );
  });

  test('structs shorter than their newest layout keep only the fields sent; too short is undefined', () => {
    const base = parseTcpInfo(new Uint8Array(104));
    assert.ok(base);
    assert.equal(base.pacingRate, undefined);
    assert.equal(parseTcpInfo(new Uint8Array(100)), undefined);
    const m = new Uint8Array(43);
    m[0] = 2;
    new DataView(m.buffer).setUint32(12, 0xcafe, true);
    assert.deepEqual(
      [parseMptcpInfo(m)?.subflows, parseMptcpInfo(m)?.token, parseMptcpInfo(m)?.bytesSent],
      [2, 0xcafe, undefined],
    );
    assert.equal(parseMptcpInfo(new Uint8Array(42)), undefined);
    assert.equal(parseInetDiagMsg(new Uint8Array(71), IPPROTO_TCP), undefined);
  });

  test('fuzz: the reply decoder never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 60, maxLength: 400 }), fc.boolean(), (buf, mptcp) => {
        parseInetDiagMsg(buf, mptcp ? IPPROTO_MPTCP : IPPROTO_TCP);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('netlink/sock-diag against the kernel', () => {
  after(() => cleanupAll());

  test('an MPTCP connection with two subflows: mptcp_info and per-subflow tcp_info', { skip }, async () => {
    const a = Netns.create('mptcp-diag');
    const b = Netns.create('mptcp-diag');
    vethPair(a, 'a1', b, 'b1');
    vethPair(a, 'a2', b, 'b2');
    addAddress(a, 'a1', '10.72.1.1/24');
    addAddress(b, 'b1', '10.72.1.2/24');
    addAddress(a, 'a2', '10.72.2.1/24');
    addAddress(b, 'b2', '10.72.2.2/24');
    b.exec('ip', ['mptcp', 'endpoint', 'add', '10.72.2.2', 'signal']);
    b.exec('ip', ['mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
    a.exec('ip', ['mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
    const { pm, diag } = withNetns(a, () => ({ pm: MptcpPmClient.open(), diag: SockDiag.open() }));
    const client = await pm;
    const children: ChildProcess[] = [];
    try {
      const sub = client.subscribeEvents();
      const joined = sub.waitFor(
        (ev): ev is Extract<KernelPmEvent, { type: 'sub_established' }> => ev.type === 'sub_established',
        10_000,
      );
      const server = b.spawn('python3', ['-c', PY_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(server);
      const [portLine] = (await once(server.stdout!, 'data')) as [Buffer];
      const port = Number(portLine.toString().trim());
      const pyClient = a.spawn('python3', ['-c', PY_CLIENT, '10.72.1.2', String(port)], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      children.push(pyClient);
      await once(pyClient.stdout!, 'data');
      const sf = await joined;

      const msks = (await diag.dumpMptcp({ families: [4] })).filter((s) => s.dport === port);
      assert.equal(
        msks.length,
        1,
        JSON.stringify(msks, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
      );
      const msk = msks[0]!;
      assert.equal(msk.stateName, 'ESTABLISHED');
      assert.equal(msk.mptcpInfo?.token, sf.token);
      assert.ok((msk.mptcpInfo?.bytesSent ?? 0) >= 1000, `bytesSent ${msk.mptcpInfo?.bytesSent}`);

      const subflows = (await diag.dumpTcp({ families: [4], states: 1 << 1 })).filter(
        (s) => s.dport === port,
      );
      assert.deepEqual(subflows.map((s) => s.saddr).sort(), ['10.72.1.1', '10.72.2.1']);
      for (const s of subflows) {
        assert.equal(s.ulp, 'mptcp');
        assert.equal(s.mptcpSubflow?.tokenLocal, sf.token);
        assert.ok(s.tcpInfo && s.tcpInfo.rttUs > 0, 'rtt measured');
        assert.ok(s.tcpInfo.sndCwnd > 0);
      }
      pyClient.stdin?.end();
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await client.close();
      await diag.close();
      a.delete();
      b.delete();
    }
  });
});
