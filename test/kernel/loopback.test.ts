import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';
import {
  connect,
  connectAsync,
  connectState,
  createServer,
  enableMptcp,
  isMultipath,
  listenState,
  mptcpAgent,
  mptcpInfo,
  subflows,
} from '../../src/kernel/index.js';
import { closeServer, kernelMptcpSkip, listening, readAll } from './helpers.js';

const skip = kernelMptcpSkip();

/** Echo server that reports, per connection, what it saw. */
function echoServer(seen: Array<{ multipath: boolean; subflowCount: number }>) {
  return createServer((c) => {
    seen.push({ multipath: isMultipath(c), subflowCount: subflows(c).length });
    c.pipe(c);
  });
}

describe('kernel MPTCP sockets on loopback', { skip }, () => {
  for (const host of ['127.0.0.1', '::1', 'localhost']) {
    test(`server + client over ${host}: data both ways, both sides MPTCP`, async () => {
      const seen: Array<{ multipath: boolean; subflowCount: number }> = [];
      const server = echoServer(seen);
      server.listen(0);
      const port = await listening(server);
      assert.deepEqual(listenState(server), { mptcp: true });
      try {
        const s = await connectAsync({ port, host });
        assert.equal(connectState(s)?.mptcp, true);
        assert.equal(isMultipath(s), true);
        const remote = s.remoteAddress;
        const payload = Buffer.alloc(256 * 1024, 7);
        const got = readAll(s);
        s.end(payload);
        assert.deepEqual(await got, payload);
        assert.equal(seen.length, 1);
        assert.deepEqual(seen[0], { multipath: true, subflowCount: 1 });
        if (host === 'localhost')
          assert.ok(remote === '127.0.0.1' || remote === '::1', remote); // never v4-mapped
        else assert.equal(remote, host);
      } finally {
        await closeServer(server);
      }
    });
  }

  test('mptcpInfo and subflows decode sane values', async () => {
    let serverSide: net.Socket | undefined;
    const server = createServer((c) => {
      serverSide = c;
      c.on('data', () => {});
    });
    server.listen(0, '127.0.0.1');
    const port = await listening(server);
    try {
      const s = await connectAsync({ port, host: '127.0.0.1' });
      const data = Buffer.alloc(1024 * 1024, 1);
      await new Promise<void>((r) => s.write(data, () => r()));
      await new Promise((r) => setTimeout(r, 100));
      const info = mptcpInfo(s);
      assert.ok(info);
      assert.equal(info.fallback, false);
      assert.ok(info.size >= 40);
      assert.notEqual(info.token, 0);
      assert.ok(info.subflowsMax >= 0 && info.subflowsMax <= 8);
      if (info.bytesSent !== undefined)
        assert.ok(info.bytesSent >= data.length, `bytesSent ${info.bytesSent}`);
      const sf = subflows(s);
      assert.equal(sf.length, 1);
      const [f] = sf;
      assert.equal(f!.localAddress, '127.0.0.1');
      assert.equal(f!.remoteAddress, '127.0.0.1');
      assert.equal(f!.remotePort, port);
      assert.equal(f!.localPort, s.localPort);
      assert.equal(f!.state, 1); // TCP_ESTABLISHED
      assert.ok(f!.rttUs! > 0 && f!.rttUs! < 1_000_000, `rtt ${f!.rttUs}`);
      assert.ok(f!.rtoUs! >= 200_000, `rto ${f!.rtoUs}`);
      assert.ok(f!.cwnd! >= 1);
      assert.ok(f!.bytesAcked! >= data.length, `acked ${f!.bytesAcked}`);
      // The two-call path (MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO) agrees on addresses and ports.
      const legacy = subflows(s, { method: 'addrs+tcpinfo' });
      assert.equal(legacy.length, 1);
      assert.deepEqual(
        [legacy[0]!.localAddress, legacy[0]!.localPort, legacy[0]!.remoteAddress, legacy[0]!.remotePort],
        [f!.localAddress, f!.localPort, f!.remoteAddress, f!.remotePort],
      );
      assert.ok(legacy[0]!.rttUs! > 0 && legacy[0]!.cwnd! >= 1);
      assert.ok(serverSide);
      const sfs = subflows(serverSide);
      assert.equal(sfs.length, 1);
      assert.equal(sfs[0]!.localPort, port);
      assert.ok(sfs[0]!.bytesReceived! >= data.length);
      s.destroy();
    } finally {
      serverSide?.destroy();
      await closeServer(server);
    }
  });

  test('http.createServer on an MPTCP listener, http.Agent with MPTCP createConnection', async () => {
    const server = enableMptcp(
      http.createServer((req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ mptcp: isMultipath(req.socket), url: req.url }));
      }),
    );
    server.listen(0, '127.0.0.1');
    const port = await listening(server);
    const agent = mptcpAgent({ keepAlive: false });
    try {
      const body = await new Promise<{ body: string; multipath: boolean }>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/status', agent }, (res) => {
          const multipath = isMultipath(res.socket);
          let b = '';
          res.setEncoding('utf8');
          res.on('data', (d) => {
            b += d;
          });
          res.on('end', () => resolve({ body: b, multipath }));
        });
        req.on('error', reject);
      });
      assert.deepEqual(JSON.parse(body.body), { mptcp: true, url: '/status' });
      assert.equal(body.multipath, true);
    } finally {
      agent.destroy();
      await closeServer(server);
    }
  });

  test('fallback: our MPTCP client → plain net server', async () => {
    const server = net.createServer((c) => c.pipe(c));
    server.listen(0, '127.0.0.1');
    const port = await listening(server);
    try {
      const s = await connectAsync({ port, host: '127.0.0.1' });
      assert.equal(connectState(s)?.mptcp, true); // an MPTCP socket…
      assert.equal(isMultipath(s), false); // …whose connection fell back
      assert.equal(mptcpInfo(s), undefined);
      assert.deepEqual(subflows(s), []);
      const got = readAll(s);
      s.end('ping');
      assert.equal((await got).toString(), 'ping');
    } finally {
      await closeServer(server);
    }
  });

  test('fallback: plain net client → our server', async () => {
    const seen: Array<{ multipath: boolean; subflowCount: number }> = [];
    const server = echoServer(seen);
    server.listen(0, '127.0.0.1');
    const port = await listening(server);
    try {
      const s = net.connect(port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      assert.equal(isMultipath(s), false);
      const got = readAll(s);
      s.end('pong');
      assert.equal((await got).toString(), 'pong');
      assert.deepEqual(seen, [{ multipath: false, subflowCount: 0 }]);
    } finally {
      await closeServer(server);
    }
  });

  test('mptcp: false makes plain TCP through the same code path', async () => {
    const seen: Array<{ multipath: boolean; subflowCount: number }> = [];
    const server = echoServer(seen);
    server.listen(0, '127.0.0.1');
    const port = await listening(server);
    try {
      const s = await connectAsync({ port, host: '127.0.0.1', mptcp: false });
      assert.deepEqual(connectState(s), { mptcp: false });
      assert.equal(isMultipath(s), false);
      s.destroy();
    } finally {
      await closeServer(server);
    }
  });

  test('connect errors: refused port is an ECONNREFUSED error event', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    const port = await listening(server);
    await closeServer(server);
    await assert.rejects(connectAsync({ port, host: '127.0.0.1' }), { code: 'ECONNREFUSED' });
  });

  test('listen errors: EADDRINUSE is emitted as an error event', async () => {
    const a = createServer();
    a.listen(0, '127.0.0.1');
    const port = await listening(a);
    try {
      const b = createServer();
      b.listen(port, '127.0.0.1');
      await assert.rejects(listening(b), { code: 'EADDRINUSE' });
    } finally {
      await closeServer(a);
    }
  });

  test('listen on a hostname (resolved first) and with a callback-only signature', async () => {
    const a = createServer((c) => c.end(String(isMultipath(c))));
    a.listen(0, 'localhost');
    const port = await listening(a);
    const b = createServer();
    const cbCalled = new Promise<void>((r) => b.listen(0, () => r()));
    await cbCalled;
    try {
      const family = (a.address() as net.AddressInfo).family;
      const s = await connectAsync({ port, host: family === 'IPv6' ? '::1' : '127.0.0.1' });
      assert.equal((await readAll(s)).toString(), 'true');
      assert.equal(listenState(b)?.mptcp, true);
      assert.equal((b.address() as net.AddressInfo).address, '::');
    } finally {
      await closeServer(a);
      await closeServer(b);
    }
  });

  test('localAddress / localPort bind the client before connecting', async () => {
    const server = createServer((c) => c.end(`${c.remoteAddress}`));
    server.listen(0, '127.0.0.1');
    const port = await listening(server);
    try {
      const s = await connectAsync({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      assert.equal(s.localAddress, '127.0.0.2');
      assert.equal(isMultipath(s), true);
      assert.equal(subflows(s)[0]?.localAddress, '127.0.0.2');
      assert.equal((await readAll(s)).toString(), '127.0.0.2');
      // A hostname with only localPort: bound after the lookup picks the family.
      const probe = createServer();
      probe.listen(0, '127.0.0.1');
      const freePort = await listening(probe);
      await closeServer(probe);
      const h = await connectAsync({ port, host: 'localhost', localPort: freePort, family: 4 });
      assert.equal(h.localPort, freePort);
      assert.equal((await readAll(h)).toString(), '127.0.0.1');
      // No family given: a placeholder descriptor, bound once the lookup has picked the family.
      const dual = createServer((c) => c.end('ok'));
      dual.listen(0);
      const dualPort = await listening(dual);
      try {
        // A fresh port: the previous one may sit in TIME_WAIT on our side.
        const probe2 = createServer();
        probe2.listen(0, '::');
        const freePort2 = await listening(probe2);
        await closeServer(probe2);
        const h2 = await connectAsync({ port: dualPort, host: 'localhost', localPort: freePort2 });
        assert.equal(h2.localPort, freePort2);
        assert.equal((await readAll(h2)).toString(), 'ok');
      } finally {
        await closeServer(dual);
      }
    } finally {
      await closeServer(server);
    }
  });

  test('a bad port throws synchronously, before any descriptor is made', () => {
    assert.throws(() => connect({ port: 70000, host: '127.0.0.1' }), RangeError);
    assert.throws(() => connect({ port: 'abc', host: '127.0.0.1' }), RangeError);
  });

  test('connect() returns a net.Socket synchronously', () => {
    const s = connect({ port: 1, host: '127.0.0.1' });
    assert.ok(s instanceof net.Socket);
    s.on('error', () => {});
    s.destroy();
  });
});
