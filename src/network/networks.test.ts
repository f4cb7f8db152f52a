import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext } from '../engine/context.js';
import { formatCidr, overlaps, parseCidr } from './cidr.js';
import { allocateEndpoint } from './ipam.js';
import { bridgeName, chooseSubnet, createNetwork, defaultNetwork, findNetwork, listNetworks, removeNetwork, requireNetwork } from './networks.js';

const dir = mkdtempSync(join(tmpdir(), 'whalebox-networks-'));
const context = createContext({ root: join(dir, 'root'), runRoot: join(dir, 'run') });
after(() => {
  context.close();
  rmSync(dir, { recursive: true, force: true });
});

test('subnet choice skips host routes and other networks, and Docker and Podman defaults', () => {
  assert.equal(formatCidr(chooseSubnet([])), '10.89.0.0/16');
  assert.equal(formatCidr(chooseSubnet(['10.89.0.0/16', '10.90.4.0/24', '10.0.0.0/8'].map(parseCidr))), '172.18.0.0/16');
  assert.equal(formatCidr(chooseSubnet(['10.88.0.0/15', '10.90.0.0/16'].map(parseCidr))), '10.91.0.0/16');
  assert.throws(() => chooseSubnet([parseCidr('0.0.0.0/1'), parseCidr('128.0.0.0/1')]), /could not find an available, non-overlapping IPv4 address pool/);
});

test('bridge names: 15 characters at most, one default bridge per store root', () => {
  const id = 'a1b2c3d4e5f6'.padEnd(64, '0');
  assert.equal(bridgeName(id, 'mynet', '/tmp/x'), 'wb-a1b2c3d4e5f6');
  assert.equal(bridgeName(id, 'bridge', '/var/lib/whalebox'), 'whalebox0');
  const test1 = bridgeName(id, 'bridge', '/tmp/store1');
  assert.match(test1, /^wb0-[0-9a-f]{8}$/);
  assert.notEqual(test1, bridgeName(id, 'bridge', '/tmp/store2'));
});

test('records: create, find by name, ID and prefix, and Docker’s refusals', () => {
  const net = createNetwork(context, { name: 'n1', subnet: '10.214.0.0/24', ipRange: '10.214.0.128/25', labels: { a: 'b' } });
  assert.equal(net.gateway, '10.214.0.1');
  assert.equal(net.bridge, `wb-${net.id.slice(0, 12)}`);
  assert.deepEqual(findNetwork(context, 'n1'), net);
  assert.deepEqual(findNetwork(context, net.id), net);
  assert.deepEqual(findNetwork(context, net.id.slice(0, 5)), net);
  assert.equal(findNetwork(context, 'nope'), undefined);
  assert.throws(() => requireNetwork(context, 'nope'), { message: 'network nope not found' });
  const refused: [Parameters<typeof createNetwork>[1], string][] = [
    [{ name: 'n1' }, 'network with name n1 already exists'],
    [{ name: 'host' }, 'network with name host already exists'],
    [{ name: 'x', driver: 'overlay' }, 'plugin "overlay" not found'],
    [{ name: 'x', subnet: '10.214.0.0/16' }, 'Pool overlaps with other one on this address space'],
    [{ name: 'x', subnet: '10.215.0.0/16', gateway: '10.216.0.1' }, "invalid gateway 10.216.0.1: parent subnet 10.215.0.0/16 doesn't contain this address"],
    [{ name: 'x', subnet: '10.215.0.0/16', gateway: 'gw' }, 'invalid gateway gw: invalid address'],
    [{ name: 'x', subnet: '10.215.0.0/24', ipRange: '10.215.0.0/16' }, 'invalid ip-range 10.215.0.0/16: CIDR block is bigger than its parent subnet 10.215.0.0/24'],
    [{ name: 'x', subnet: '10.215.0.0/24', ipRange: '10.215.1.0/24' }, "invalid ip-range 10.215.1.0/24: parent subnet 10.215.0.0/24 doesn't contain ip-range"],
    [{ name: 'x', subnet: '10.215.0.1/24' }, 'invalid subnet 10.215.0.1/24: it should be 10.215.0.0/24'],
    [{ name: 'x', subnet: '10.215.0.0' }, 'invalid CIDR address: 10.215.0.0'],
    [{ name: 'x', gateway: '10.215.0.1' }, 'every ip-range or gateway must have a corresponding subnet'],
  ];
  for (const [options, message] of refused) assert.throws(() => createNetwork(context, options), { message }, message);
});

test('the default network is made once, is not removable, and a used network is kept', async () => {
  const first = defaultNetwork(context);
  assert.equal(first.name, 'bridge');
  assert.deepEqual(defaultNetwork(context), first);
  assert.ok(!overlaps(parseCidr(first.subnet), parseCidr('172.17.0.0/16')), "never Docker's default subnet");
  await assert.rejects(removeNetwork(context, 'bridge'), { message: 'bridge is a pre-defined network and cannot be removed' });
  const used = createNetwork(context, { name: 'used', subnet: '10.214.1.0/24' });
  allocateEndpoint(context, used, 'c'.repeat(64), {});
  await assert.rejects(removeNetwork(context, 'used'), { message: `error while removing network: network used id ${used.id} has active endpoints` });
  await removeNetwork(context, 'n1');
  assert.deepEqual(listNetworks(context).map((n) => n.name), ['bridge', 'used']);
});
