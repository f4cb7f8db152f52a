import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createContext } from '../src/engine/context.js';
import { allocateEndpoint, releaseEndpoint } from '../src/network/ipam.js';
import { bridgeName, requireNetwork } from '../src/network/networks.js';
import { Store } from './helpers.js';

const store = new Store();
const bridges = new Set<string>([bridgeName('', 'bridge', store.root)]);
after(() => {
  try {
    for (const bridge of bridges) spawnSync('ip', ['link', 'del', bridge]);
    assert.deepEqual([...bridges].filter(linkExists), [], 'every bridge the test made is gone');
  } finally {
    store.remove();
  }
});

function linkExists(name: string): boolean {
  return spawnSync('ip', ['link', 'show', 'dev', name]).status === 0;
}

/** Creates a network; returns its ID, and remembers its bridge for the cleanup. */
function create(...args: string[]): string {
  const created = store.wb(['network', 'create', ...args]);
  assert.equal(created.stderr, '');
  assert.equal(created.status, 0);
  const id = created.stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  bridges.add(`wb-${id.slice(0, 12)}`);
  return id;
}

function addresses(device: string): string[] {
  const shown = JSON.parse(spawnSync('ip', ['-j', 'addr', 'show', 'dev', device], { encoding: 'utf8' }).stdout) as { addr_info: { family: string; local: string; prefixlen: number }[] }[];
  return shown.flatMap((link) => link.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`));
}

test('create makes the record and its bridge with the gateway on it; rm removes both', () => {
  const id = create('--subnet', '10.213.0.0/24', '--label', 'team=net', 'alpha');
  const bridge = `wb-${id.slice(0, 12)}`;
  assert.ok(linkExists(bridge));
  assert.deepEqual(addresses(bridge), ['10.213.0.1/24']);
  const removed = store.wb(['network', 'rm', 'alpha']);
  assert.deepEqual([removed.status, removed.stdout, removed.stderr], [0, 'alpha\n', '']);
  assert.ok(!linkExists(bridge));
});

test('ls: the default network and user networks, by name; -q, --no-trunc, filters and --format', () => {
  const beta = create('--subnet', '10.213.1.0/24', '--label', 'kind=test', 'beta10');
  const gamma = create('--subnet', '10.213.2.0/24', '--internal', 'beta9');
  const listed = store.wb(['network', 'ls']);
  assert.equal(listed.status, 0);
  const lines = listed.stdout.split('\n');
  assert.equal(lines[0], 'NETWORK ID     NAME      DRIVER    SCOPE');
  assert.deepEqual(
    lines.slice(1, -1).map((line) => line.split(/\s+/).slice(1)),
    [
      ['beta9', 'bridge', 'local'],
      ['beta10', 'bridge', 'local'],
      ['bridge', 'bridge', 'local'],
    ],
  );
  assert.equal(lines[1], `${gamma.slice(0, 12)}   beta9     bridge    local`);
  assert.equal(store.wb(['network', 'ls', '-q', '--no-trunc', '-f', 'label=kind=test']).stdout, `${beta}\n`);
  assert.equal(store.wb(['network', 'ls', '--filter', 'name=^beta', '--format', '{{.Name}} {{.Internal}} {{.Labels}}']).stdout, 'beta9 true \nbeta10 false kind=test\n');
  assert.equal(store.wb(['network', 'list', '-f', 'type=builtin', '--format', '{{.Name}}']).stdout, 'bridge\n');
  assert.equal(store.wb(['network', 'ls', '-q', '-f', `id=${beta.slice(0, 6)}`]).stdout, `${beta.slice(0, 12)}\n`);
  const bad = store.wb(['network', 'ls', '-f', 'colour=red']);
  assert.deepEqual([bad.status, bad.stderr], [1, "whalebox: invalid filter 'colour'\n"]);
  assert.equal(store.wb(['network', 'rm', 'beta9', 'beta10']).stdout, 'beta9\nbeta10\n');
});

test("inspect: Docker's shape, with the containers on the network; unknown names fail", () => {
  const id = create('--subnet', '10.213.3.0/24', '--ip-range', '10.213.3.128/25', '--gateway', '10.213.3.254', 'delta');
  const context = createContext({ root: store.root, runRoot: store.runRoot });
  const containerId = 'e'.repeat(64);
  try {
    const endpoint = allocateEndpoint(context, requireNetwork(context, 'delta'), containerId, {});
    const shown = store.wb(['network', 'inspect', 'delta', 'nope']);
    assert.equal(shown.status, 1);
    assert.equal(shown.stderr, 'whalebox: network nope not found\n');
    const [inspected] = JSON.parse(shown.stdout) as Record<string, unknown>[];
    assert.deepEqual(Object.keys(inspected!), ['Name', 'Id', 'Created', 'Scope', 'Driver', 'EnableIPv6', 'IPAM', 'Internal', 'Attachable', 'Ingress', 'ConfigFrom', 'ConfigOnly', 'Containers', 'Options', 'Labels']);
    assert.equal(inspected!.Id, id);
    assert.deepEqual(inspected!.IPAM, { Driver: 'default', Options: {}, Config: [{ Subnet: '10.213.3.0/24', IPRange: '10.213.3.128/25', Gateway: '10.213.3.254' }] });
    const attached = (inspected!.Containers as Record<string, Record<string, string>>)[containerId]!;
    assert.match(attached.EndpointID!, /^[0-9a-f]{64}$/);
    assert.deepEqual({ ...attached, EndpointID: '' }, { Name: '', EndpointID: '', MacAddress: '02:42:0a:d5:03:80', IPv4Address: '10.213.3.128/24', IPv6Address: '' });
    assert.equal(endpoint.ip, '10.213.3.128');
    assert.deepEqual(inspected!.Options, { 'com.docker.network.bridge.name': `wb-${id.slice(0, 12)}` });
    assert.equal(store.wb(['network', 'inspect', '-f', '{{.Name}} {{.Driver}}', id.slice(0, 10), 'bridge']).stdout, 'delta bridge\nbridge bridge\n');

    const busy = store.wb(['network', 'rm', 'delta']);
    assert.deepEqual([busy.status, busy.stderr], [1, `whalebox: error while removing network: network delta id ${id} has active endpoints\n`]);
    assert.equal(store.wb(['network', 'prune', '-f']).stdout, '', 'prune keeps a network in use');
    releaseEndpoint(context, id, containerId);
  } finally {
    context.close();
  }
  assert.equal(store.wb(['network', 'rm', 'delta']).status, 0);
});

test("Docker's refusals: overlapping pools, the default network, unknown networks", () => {
  create('--subnet', '10.213.4.0/24', 'epsilon');
  const overlap = store.wb(['network', 'create', '--subnet', '10.213.0.0/16', 'zeta']);
  assert.deepEqual([overlap.status, overlap.stdout, overlap.stderr], [1, '', 'whalebox: Pool overlaps with other one on this address space\n']);
  const taken = store.wb(['network', 'create', 'epsilon']);
  assert.deepEqual([taken.status, taken.stderr], [1, 'whalebox: network with name epsilon already exists\n']);
  const bad = store.wb(['network', 'create', '--subnet', '10.213.5.0/33', 'eta']);
  assert.deepEqual([bad.status, bad.stderr], [1, 'whalebox: invalid CIDR address: 10.213.5.0/33\n']);
  const removed = store.wb(['network', 'rm', 'bridge', 'nope', 'epsilon']);
  assert.equal(removed.status, 1);
  assert.equal(removed.stdout, 'epsilon\n');
  assert.equal(removed.stderr, 'whalebox: bridge is a pre-defined network and cannot be removed\nwhalebox: network nope not found\n');
  assert.equal(store.wb(['network', 'rm', '-f', 'nope']).status, 0);
});

test('prune removes unused custom networks (by filter) and prints their names', () => {
  const kept = create('--subnet', '10.213.6.0/24', '--label', 'keep', 'theta');
  create('--subnet', '10.213.7.0/24', 'iota');
  create('kappa');
  const pruned = store.wb(['network', 'prune', '-f', '--filter', 'label!=keep']);
  assert.deepEqual([pruned.status, pruned.stdout], [0, 'Deleted Networks:\niota\nkappa\n\n']);
  const declined = store.wb(['network', 'prune'], { input: 'n\n' });
  assert.equal(declined.stdout, '');
  assert.match(declined.stderr, /^WARNING! This will remove all custom networks not used by at least one container\.\nAre you sure you want to continue\? \[y\/N\] $/);
  assert.equal(store.wb(['network', 'prune'], { input: 'y\n' }).stdout, 'Deleted Networks:\ntheta\n\n');
  assert.ok(!linkExists(`wb-${kept.slice(0, 12)}`));
  assert.equal(store.wb(['network', 'ls', '--format', '{{.Name}}']).stdout, 'bridge\n');
});
