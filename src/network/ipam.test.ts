import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext } from '../engine/context.js';
import { allocateEndpoint, endpointsOfContainer, endpointsOnNetwork, macAddress, releaseEndpoint } from './ipam.js';
import { parseAddress } from './cidr.js';
import { createNetwork } from './networks.js';

const dir = mkdtempSync(join(tmpdir(), 'whalebox-ipam-'));
const root = join(dir, 'root');
const context = createContext({ root, runRoot: join(dir, 'run') });
after(() => {
  context.close();
  rmSync(dir, { recursive: true, force: true });
});

const container = (n: number): string => n.toString(16).padStart(64, '0');

test('addresses in order from the subnet, skipping network, gateway and broadcast', () => {
  const net = createNetwork(context, { name: 'small', subnet: '10.216.0.0/29', gateway: '10.216.0.3' });
  const ips = [1, 2, 3, 4, 5].map((n) => allocateEndpoint(context, net, container(n), {}).ip);
  assert.deepEqual(ips, ['10.216.0.1', '10.216.0.2', '10.216.0.4', '10.216.0.5', '10.216.0.6']);
  assert.throws(() => allocateEndpoint(context, net, container(6), {}), {
    message: `no available IPv4 addresses on this network's address pools: small (${net.id})`,
  });
  assert.deepEqual(releaseEndpoint(context, net.id, container(2))?.ip, '10.216.0.2');
  assert.equal(releaseEndpoint(context, net.id, container(2)), undefined);
  assert.equal(allocateEndpoint(context, net, container(7), {}).ip, '10.216.0.2', 'a released address is given again');
  assert.throws(() => allocateEndpoint(context, net, container(1), {}), { message: `endpoint with name ${container(1)} already exists in network small` });
});

test('an ip-range limits what is drawn, not what is asked for', () => {
  const net = createNetwork(context, { name: 'ranged', subnet: '10.216.1.0/24', ipRange: '10.216.1.64/26' });
  const first = allocateEndpoint(context, net, container(1), { aliases: ['web'] });
  assert.deepEqual(first, {
    networkId: net.id,
    containerId: container(1),
    ip: '10.216.1.64',
    mac: '02:42:0a:d8:01:40',
    hostVeth: first.hostVeth,
    aliases: ['web'],
  });
  assert.match(first.hostVeth, /^veth[0-9a-f]{7}$/);
  assert.equal(allocateEndpoint(context, net, container(2), { ip: '10.216.1.9' }).ip, '10.216.1.9');
  assert.throws(() => allocateEndpoint(context, net, container(3), { ip: '10.216.1.9' }), { message: 'Address already in use' });
  assert.throws(() => allocateEndpoint(context, net, container(3), { ip: '10.216.1.1' }), { message: 'Address already in use' });
  assert.throws(() => allocateEndpoint(context, net, container(3), { ip: '10.216.2.1' }), { message: 'no configured subnet or ip-range contain the IP address 10.216.2.1' });
  assert.throws(() => allocateEndpoint(context, net, container(3), { ip: '10.216.1' }), { message: 'invalid IPv4 address: 10.216.1' });
  assert.deepEqual(endpointsOfContainer(context, container(1)).map((e) => e.ip), ['10.216.0.1', '10.216.1.64'], 'one endpoint on each network');
  assert.equal(endpointsOnNetwork(context, net.id).length, 2);
});

test("Docker's MAC: 02:42 and the address bytes", () => {
  assert.equal(macAddress(parseAddress('172.18.0.2')), '02:42:ac:12:00:02');
});

test('20 processes allocating at once get 20 distinct addresses', async () => {
  const net = createNetwork(context, { name: 'busy', subnet: '10.216.2.0/24' });
  const code = `
    import { createContext } from ${JSON.stringify(join(import.meta.dirname, '../engine/context.ts'))};
    import { allocateEndpoint } from ${JSON.stringify(join(import.meta.dirname, 'ipam.ts'))};
    import { requireNetwork } from ${JSON.stringify(join(import.meta.dirname, 'networks.ts'))};
    const context = createContext({ root: process.argv[1], runRoot: process.argv[1] });
    process.stdout.write(allocateEndpoint(context, requireNetwork(context, 'busy'), process.argv[2], {}).ip);`;
  const allocate = (n: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, root, container(100 + n)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.once('error', reject);
      child.once('close', (status) => (status === 0 ? resolve(out) : reject(new Error(`allocator ${n} exited with ${status}`))));
    });
  const ips = await Promise.all(Array.from({ length: 20 }, (_, n) => allocate(n)));
  assert.equal(new Set(ips).size, 20);
  assert.deepEqual(endpointsOnNetwork(context, net.id).map((e) => e.ip).sort(), [...ips].sort());
  assert.equal(new Set(endpointsOnNetwork(context, net.id).map((e) => e.hostVeth)).size, 20);
});
