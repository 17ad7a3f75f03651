import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatEndpoint, parseEndpointCommand } from '../../src/cli/commands/endpoint.js';
import { parseLimitsCommand } from '../../src/cli/commands/limits.js';
import { UsageError } from '../../src/cli/usage-error.js';

const words = (s: string) => s.split(' ').filter(Boolean);

describe('cli endpoint / limits argument parsing (iproute2 syntax)', () => {
  test('endpoint add with every option', () => {
    assert.deepEqual(parseEndpointCommand(words('add 10.0.0.1 port 8080 dev eth1 id 3 signal backup')), {
      action: 'add',
      endpoint: { addr: '10.0.0.1', id: 3, port: 8080, flags: ['signal', 'backup'] },
      dev: 'eth1',
    });
    assert.deepEqual(parseEndpointCommand(words('add fd00::1 subflow fullmesh')), {
      action: 'add',
      endpoint: { addr: 'fd00::1', flags: ['subflow', 'fullmesh'] },
    });
  });

  test('endpoint del / delete, show / list, flush, change', () => {
    assert.deepEqual(parseEndpointCommand(words('del id 4')), { action: 'del', id: 4 });
    assert.deepEqual(parseEndpointCommand(words('delete id 0 10.0.0.1')), {
      action: 'del',
      id: 0,
      addr: '10.0.0.1',
    });
    assert.deepEqual(parseEndpointCommand(words('show')), { action: 'show' });
    assert.deepEqual(parseEndpointCommand(words('list id 2')), { action: 'show', id: 2 });
    assert.deepEqual(parseEndpointCommand(words('flush')), { action: 'flush' });
    assert.deepEqual(parseEndpointCommand(words('change id 2 nobackup fullmesh')), {
      action: 'change',
      id: 2,
      set: ['fullmesh'],
      clear: ['backup'],
    });
  });

  test('bad arguments are UsageErrors with a clear message', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /missing action/],
      ['frob', /unknown action 'frob'/],
      ['add', /needs an address/],
      ['add 10.0.0.300', /not an IPv4 or IPv6 address/],
      ['add 10.0.0.1 id 256', /id must be an integer 0\.\.255/],
      ['add 10.0.0.1 port x', /port must be an integer/],
      ['add 10.0.0.1 id', /'id' needs a value/],
      ['add 10.0.0.1 dev', /'dev' needs an interface name/],
      ['add 10.0.0.1 bogus', /unexpected argument 'bogus'/],
      ['add 10.0.0.1 10.0.0.2', /unexpected argument '10\.0\.0\.2'/],
      ['del', /needs id ID/],
      ['change id 1', /needs backup\|nobackup/],
      ['change id 1 signal', /cannot set 'signal'/],
      ['flush id 3', /takes no arguments/],
      ['flush now', /unexpected argument 'now'/],
    ];
    for (const [input, re] of bad) {
      assert.throws(
        () => parseEndpointCommand(words(input)),
        (err: unknown) => err instanceof UsageError && re.test(err.message),
        input,
      );
    }
  });

  test('limits show / set', () => {
    assert.deepEqual(parseLimitsCommand([]), { action: 'show' });
    assert.deepEqual(parseLimitsCommand(['show']), { action: 'show' });
    assert.deepEqual(parseLimitsCommand(words('set subflows 2 add_addr_accepted 3')), {
      action: 'set',
      limits: { subflows: 2, addAddrAccepted: 3 },
    });
    for (const input of ['set', 'set subflows', 'set subflows -1', 'set foo 1', 'get', 'show x']) {
      assert.throws(() => parseLimitsCommand(words(input)), UsageError, input);
    }
  });

  test('endpoint lines look like ip mptcp endpoint show', () => {
    assert.equal(
      formatEndpoint({ family: 4, addr: '10.0.0.1', id: 1, flags: 5, port: 80 }),
      '10.0.0.1 port 80 id 1 signal backup',
    );
    assert.equal(formatEndpoint({ family: 6, addr: 'fd00::1', id: 2, flags: 0 }), 'fd00::1 id 2');
    assert.equal(
      formatEndpoint({ family: 4, addr: '10.0.0.2', id: 3, flags: 2, ifindex: 1 }),
      '10.0.0.2 id 3 subflow dev lo',
    );
  });
});
