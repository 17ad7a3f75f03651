import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { standbyBackup } from '../../src/pm/examples/standby-backup.js';
import {
  ControllerSpecError,
  controllerByName,
  controllerNames,
  registerController,
} from '../../src/pm/registry.js';
import { Harness, only } from './harness.js';

describe('pm/registry controllerByName', () => {
  test('builds each built-in controller from its spec', () => {
    assert.equal(controllerByName('fullmesh').name, 'fullmesh');
    assert.equal(controllerByName('ndiffports:4').name, 'ndiffports:4');
    assert.equal(controllerByName('ndiffports:n=2').name, 'ndiffports:2');
    assert.equal(controllerByName('backup-on-rto:threshold=1000,backup=10.0.2.1').name, 'backup-on-rto');
    assert.equal(
      controllerByName('deadline-streaming:other=10.0.2.2+10.0.3.2,deadline=800').name,
      'deadline-streaming',
    );
    assert.equal(controllerByName('refresh-slowest:period=2500,subflows=5').name, 'refresh-slowest');
    assert.deepEqual(
      controllerNames().map((c) => c.name),
      ['fullmesh', 'ndiffports', 'backup-on-rto', 'deadline-streaming', 'refresh-slowest'],
    );
  });

  test('options reach the controller', () => {
    const h = new Harness(controllerByName('ndiffports:3'));
    assert.equal(only(h.establish('10.0.1.1:1000', '10.0.1.2:80'), 'create-subflow').length, 2);
    const f = new Harness(controllerByName('fullmesh:reset=50'), ['10.0.1.1']);
    f.establish('10.0.1.1:1000', '10.0.1.2:80');
    assert.equal(only(f.subflowDown('10.0.1.1:1000', '10.0.1.2:80', 'reset'), 'set-timer')[0]!.atMs, 50);
  });

  test('clear errors', () => {
    const bad: Array<[string, RegExp]> = [
      ['nosuch', /unknown controller 'nosuch' \(known: fullmesh, ndiffports/],
      ['ndiffports', /ndiffports: needs a subflow count/],
      ['ndiffports:0', /needs a subflow count 1\.\.64/],
      ['backup-on-rto', /needs backup=REMOTE_ADDR/],
      ['backup-on-rto:backup=nope', /backup must be an IP address, got 'nope'/],
      ['backup-on-rto:backup=10.0.0.1,threshold=-5', /threshold must be a number/],
      ['fullmesh:colour=blue', /unknown option 'colour' \(accepted: reset, timeout/],
      ['refresh-slowest:period=1,period=2', /repeated key/],
      ['deadline-streaming:other=10.0.0.1+x', /other must list IP addresses/],
    ];
    for (const [spec, re] of bad)
      assert.throws(
        () => controllerByName(spec),
        (e: unknown) => e instanceof ControllerSpecError && re.test(e.message),
        spec,
      );
  });

  test('user controllers can be registered (the README example)', () => {
    registerController('standby-backup', {
      summary: 'one backup subflow from a given local address',
      keys: ['local'],
      create: (a) => standbyBackup({ localAddress: a.address('local') ?? '10.0.2.1' }),
    });
    const h = new Harness(controllerByName('standby-backup:local=10.0.9.1'));
    const cmds = h.establish('10.0.1.1:1000', '10.0.1.2:80');
    assert.deepEqual(only(cmds, 'create-subflow')[0]?.localAddress, '10.0.9.1');
    assert.equal(only(cmds, 'create-subflow')[0]?.backup, true);
  });
});
