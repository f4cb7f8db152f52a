import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { REPO } from './helpers.js';
import { addNetworkRules, addPortRules, listOwners, removeContainerRules, removeNetworkRules } from '../src/network/firewall.js';

/**
 * The firewall's rules go to whatever network namespace the process is in. So this file runs
 * itself again under `unshare --net` (a private namespace with empty tables, gone when it
 * exits), and only there do its tests touch iptables: the host's rules are never read or changed.
 */
const OUTER_NETNS = process.env.WHALEBOX_FIREWALL_TEST_OUTER_NETNS;

if (OUTER_NETNS === undefined) {
  test('firewall tests in a private network namespace', () => {
    const run = spawnSync('unshare', ['--net', '--', `${REPO}/node_modules/.bin/tsx`, '--test', fileURLToPath(import.meta.url)], {
      encoding: 'utf8',
      // Without NODE_TEST_CONTEXT, the inner run reports as a test run of its own.
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, WHALEBOX_FIREWALL_TEST_OUTER_NETNS: readlinkSync('/proc/self/ns/net') },
      timeout: 120_000,
    });
    process.stdout.write(run.stdout.replace(/^/gm, '    '));
    assert.equal(run.status, 0, `the tests in the namespace failed:\n${run.stdout}\n${run.stderr}`);
  });
} else {
  const sh = (command: string, input?: string): string => {
    const result = spawnSync('sh', ['-c', command], { encoding: 'utf8', input });
    if (result.status !== 0) throw new Error(`${command}: ${result.stderr}`);
    return result.stdout;
  };
  /** iptables-save without its timestamp comments. */
  const saved = (): string => sh('iptables-save').replace(/^#.*\n/gm, '');
  const lines = (pattern: RegExp): string[] => saved().split('\n').filter((line) => pattern.test(line));

  const netA = { id: 'neta', bridge: 'wbt0', subnet: '10.99.0.0/24', internal: false };
  const netB = { id: 'netb', bridge: 'wbt1', subnet: '10.99.1.0/24', internal: true };
  const container = 'c0ffee';
  const mappings = [
    { hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' as const },
    { hostIp: '', hostPort: 5353, containerPort: 53, protocol: 'udp' as const },
  ];
  let server: ChildProcess | undefined;

  before(() => {
    assert.notEqual(readlinkSync('/proc/self/ns/net'), OUTER_NETNS, 'runs in a private network namespace');
    // The bridge, and a "container": a node server in a namespace of its own behind a veth.
    sh('ip -batch -', ['link set lo up', 'link add wbt0 type bridge', 'addr add 10.99.0.1/24 dev wbt0', 'link set wbt0 up', 'link add wbt1 type bridge', 'link add wbt-h type veth peer name wbt-c', 'link set wbt-h master wbt0 up', ''].join('\n'));
  });

  after(() => server?.kill());

  test('network rules: chains hooked once, rules carry their owner, adding again changes nothing', async () => {
    await addNetworkRules(netA);
    await addNetworkRules(netB);
    const before = saved();
    await addNetworkRules(netA);
    assert.equal(saved(), before, 'adding again changes nothing');
    assert.deepEqual(lines(/^-A (FORWARD|PREROUTING|OUTPUT|POSTROUTING) /), [
      '-A FORWARD -m comment --comment whalebox -j WHALEBOX-FORWARD',
      '-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment whalebox -j WHALEBOX-PREROUTING',
      '-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment whalebox -j WHALEBOX-OUTPUT',
      '-A POSTROUTING -m comment --comment whalebox -j WHALEBOX-POSTROUTING',
    ]);
    assert.ok(lines(/^-A WHALEBOX-POSTROUTING -s 10.99.0.0\/24 ! -o wbt0 -m comment --comment "whalebox:neta" -j MASQUERADE$/).length === 1);
    assert.ok(lines(/^-A WHALEBOX-FORWARD -i wbt1 ! -o wbt1 -m comment --comment "whalebox:netb" -j DROP$/).length === 1);
    assert.equal(lines(/whalebox:netb.*MASQUERADE/).length, 0, 'an internal network is not masqueraded');
    assert.equal(lines(/^-A WHALEBOX-ISOLATION /).length, 2);
  });

  test('port rules: DNAT to the container, found by owner, removed alone', async () => {
    await addPortRules(container, netA, '10.99.0.2', mappings);
    assert.equal(lines(/whalebox:c0ffee/).length, 9);
    assert.equal(lines(/^-A WHALEBOX-PREROUTING -p tcp -m tcp --dport 8080 .*-j DNAT --to-destination 10.99.0.2:80$/).length, 1);
    assert.equal(sh('cat /proc/sys/net/ipv4/conf/wbt0/route_localnet').trim(), '1');
    assert.deepEqual((await listOwners()).sort(), ['c0ffee', 'neta', 'netb']);
  });

  test('a published port reaches the container through DNAT, on 127.0.0.1 and the host\'s address', async () => {
    server = spawn('unshare', ['--net', '--', process.execPath, '-e', "require('net').createServer((s) => s.end('hello')).listen(80, () => console.log('ready'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => server!.stdout!.once('data', resolve));
    const inside = `nsenter --net=/proc/${server.pid}/ns/net`;
    sh(`ip link set wbt-c netns /proc/${server.pid}/ns/net`);
    sh(`${inside} ip -batch -`, ['link set lo up', 'addr add 10.99.0.2/24 dev wbt-c', 'link set wbt-c up', 'route add default via 10.99.0.1', ''].join('\n'));
    const fetch = (host: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(8080, host);
        let data = '';
        socket.on('data', (chunk) => (data += chunk.toString()));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
        socket.setTimeout(5000, () => reject(new Error(`no answer from ${host}:8080`)));
      });
    assert.equal(await fetch('127.0.0.1'), 'hello');
    assert.equal(await fetch('10.99.0.1'), 'hello');
  });

  test('removal takes the owner\'s rules; the last network takes the chains and hooks', async () => {
    await removeContainerRules(container);
    assert.equal(lines(/whalebox:c0ffee/).length, 0);
    await removeNetworkRules(netA);
    assert.equal(lines(/whalebox:neta/).length, 0);
    assert.equal(lines(/^-A FORWARD /).length, 1, 'the hooks stay while a network uses them');
    await removeContainerRules(container); // again: nothing to do, no error
    await removeNetworkRules(netB);
    assert.doesNotMatch(saved(), /whalebox|WHALEBOX/i);
    assert.deepEqual(await listOwners(), []);
  });
}
