import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import {
  addAddress,
  cleanupAll,
  IFNAME_MAX_CHARS,
  Netns,
  netnsAvailable,
  run,
  sysctl,
  uniqueIfName,
  vethPair,
  withNetns,
} from '../../src/lab/netns.js';

const avail = netnsAvailable();
const skip = avail.ok ? false : avail.reason;

/** Connects from the host namespace; resolves with 'connected' or the error code. */
function tryConnect(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

function pyConnect(host: string): string[] {
  return [
    '-c',
    `import socket,sys\ns=socket.create_connection(("${host}",int(sys.argv[1])),timeout=5)\nprint(s.recv(16).decode())`,
  ];
}

describe('lab/netns', () => {
  after(() => cleanupAll());

  test('netnsAvailable answers with ok or a reason, and caches it', () => {
    const a = netnsAvailable();
    assert.equal(a, netnsAvailable());
    if (!a.ok) assert.ok(a.reason.length > 0);
  });

  test('uniqueIfName fits IFNAMSIZ and is unique', () => {
    const a = uniqueIfName('veth');
    const b = uniqueIfName('veth');
    assert.ok(a.length <= IFNAME_MAX_CHARS);
    assert.notEqual(a, b);
  });

  test('create, exec, veth pair between two namespaces, delete', { skip }, async () => {
    const a = Netns.create('mptcp-t');
    const b = Netns.create('mptcp-t');
    assert.match(a.name, new RegExp(`^mptcp-t-${process.pid}-\\d+$`));
    assert.ok(existsSync(`/var/run/netns/${a.name}`));
    vethPair(a, 'va', b, 'vb');
    addAddress(a, 'va', '10.77.0.1/24');
    addAddress(b, 'vb', '10.77.0.2/24');
    // TCP across the veth: a listener in b, a python3 client in a.
    const server = net.createServer((c) => c.end('hello'));
    withNetns(b, () => server.listen(0));
    const port = (server.address() as net.AddressInfo).port;
    const r = await a.execAsync('python3', [...pyConnect('10.77.0.2'), String(port)]);
    server.close();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'hello');
    // The host does not see the namespace's interfaces.
    assert.equal(run('ip', ['link', 'show', 'va']).code === 0, false);
    sysctl(a, 'net.mptcp.enabled', 0);
    assert.equal(a.exec('sysctl', ['-n', 'net.mptcp.enabled']).stdout.trim(), '0');
    assert.equal(run('sysctl', ['-n', 'net.mptcp.enabled']).stdout.trim() !== '', true);
    a.delete();
    b.delete();
    assert.equal(existsSync(`/var/run/netns/${a.name}`), false);
  });

  test('withNetns: a listener made inside is reachable in the namespace, not from the host', {
    skip,
  }, async () => {
    const ns = Netns.create('mptcp-t');
    const server = net.createServer((c) => c.end('hello'));
    try {
      // listen(0) without a host creates the handle synchronously, so it is made inside the namespace.
      withNetns(ns.name, () => server.listen(0));
      const addr = server.address();
      assert.ok(addr && typeof addr === 'object');
      const port = addr.port;
      const inside = await ns.execAsync('python3', [...pyConnect('127.0.0.1'), String(port)]);
      assert.equal(inside.code, 0, inside.stderr);
      assert.equal(inside.stdout.trim(), 'hello');
      assert.equal(await tryConnect(port), 'ECONNREFUSED');
      // And the thread is back in the host namespace: a new listener is reachable from the host.
      const host = net.createServer((c) => c.end());
      host.listen(0);
      const hostAddr = host.address() as net.AddressInfo;
      assert.equal(await tryConnect(hostAddr.port), 'connected');
      host.close();
    } finally {
      server.close();
      ns.delete();
    }
  });

  test('withNetns switches back when fn throws', { skip }, async () => {
    const ns = Netns.create('mptcp-t');
    try {
      assert.throws(
        () =>
          withNetns(ns, () => {
            throw new Error('boom');
          }),
        /boom/,
      );
      const host = net.createServer((c) => c.end());
      host.listen(0);
      assert.equal(await tryConnect((host.address() as net.AddressInfo).port), 'connected');
      host.close();
    } finally {
      ns.delete();
    }
  });

  test('withNetns on a missing namespace throws', { skip }, () => {
    assert.throws(() => withNetns(`mptcp-missing-${process.pid}`, () => 1), /ENOENT/);
  });

  test('cleanupAll removes host-side veth ends and namespaces', { skip }, () => {
    const ns = Netns.create('mptcp-t');
    const hostIf = uniqueIfName('mh');
    vethPair(null, hostIf, ns, 'eth0');
    assert.equal(run('ip', ['link', 'show', hostIf]).code, 0);
    cleanupAll();
    assert.notEqual(run('ip', ['link', 'show', hostIf]).code, 0);
    assert.equal(existsSync(`/var/run/netns/${ns.name}`), false);
  });
});
