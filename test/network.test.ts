import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Store, storeForFile } from './helpers.js';

/**
 * Bridge networks as a Docker user meets them: published ports (TCP and UDP, on 127.0.0.1 and
 * the host's other address), names on user-defined networks, isolation, internal networks,
 * the other modes, 60 containers at once, crash recovery, and the errors. Traffic stays on
 * this machine: the host, and the bridges and namespaces these tests make.
 */

const store = storeForFile();
const www = join(store.dir, 'www');
const udpEcho = join(store.dir, 'udp-echo');

before(() => {
  mkdirSync(www);
  writeFileSync(join(www, 'index.html'), 'served by whalebox\n');
  // busybox has no UDP server: a static one, made from this source, is mounted in.
  const source = join(store.dir, 'udp-echo.c');
  writeFileSync(
    source,
    `#include <netinet/in.h>
#include <sys/socket.h>
int main(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53) };
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) return 1;
  for (;;) {
    char buf[512]; struct sockaddr_in from; socklen_t len = sizeof from;
    long n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
    if (n > 0) sendto(s, "pong", 4, 0, (struct sockaddr *)&from, len);
  }
}
`,
  );
  const built = spawnSync('cc', ['-static', '-O2', '-o', udpEcho, source], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
});

function ok(args: string[]): string {
  const result = store.wb(args);
  assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** A TCP port free on the host now. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '0.0.0.0');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  return port;
}

function fetch(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host, port, path: '/index.html', timeout: 3000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(body));
    })
      .on('timeout', function (this: { destroy(err: Error): void }) {
        this.destroy(new Error('timeout'));
      })
      .on('error', reject);
  });
}

function hostAddress(): string {
  const routes = spawnSync('ip', ['-4', '-o', 'addr', 'show', 'scope', 'global'], { encoding: 'utf8' }).stdout;
  const address = routes
    .split('\n')
    .filter((line) => !/ (wb0?-|veth)/.test(line))
    .map((line) => /inet (\d+\.\d+\.\d+\.\d+)\//.exec(line)?.[1])
    .find(Boolean);
  assert.ok(address, routes);
  return address;
}

/** What the host holds for this store's containers: host veths on its bridges, namespaces, firewall rules. */
function leftovers(ids: readonly string[]): string[] {
  const namespaces = existsSync('/run/netns') ? readdirSync('/run/netns').filter((name) => ids.some((id) => name === `whalebox-${id}`)) : [];
  const rules = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout.split('\n').filter((line) => ids.some((id) => line.includes(id)));
  return [...namespaces, ...rules];
}

test('published ports: TCP on 127.0.0.1 and the host address, UDP, ps and port', async () => {
  const port = await freePort();
  ok(['run', '-d', '--name', 'web', '-p', `${port}:80`, '-v', `${www}:/www:ro`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
  let body = '';
  for (let i = 0; i < 50 && body === ''; i++) body = await fetch('127.0.0.1', port).catch(() => '');
  assert.equal(body, 'served by whalebox\n');
  assert.equal(await fetch(hostAddress(), port), 'served by whalebox\n');
  // Hairpin: another container reaches it through the host's address.
  assert.equal(ok(['run', '--rm', 'busybox', 'wget', '-qO-', `http://${hostAddress()}:${port}/index.html`]), 'served by whalebox\n');
  assert.match(ok(['ps']), new RegExp(`0\\.0\\.0\\.0:${port}->80/tcp\\s+web\\n`));
  assert.equal(ok(['port', 'web']), `80/tcp -> 0.0.0.0:${port}\n`);
  assert.equal(ok(['port', 'web', '80']), `0.0.0.0:${port}\n`);
  assert.equal(ok(['inspect', '-f', '{{json .NetworkSettings.Ports}}', 'web']).trim(), JSON.stringify({ '80/tcp': [{ HostIp: '', HostPort: String(port) }] }));

  // -p CONTAINERPORT takes a random host port; UDP answers through its mapping.
  ok(['run', '-d', '--name', 'udp', '-p', '53/udp', '-v', `${udpEcho}:/udp-echo:ro`, 'busybox', '/udp-echo']);
  const udpPort = Number(/0\.0\.0\.0:(\d+)/.exec(ok(['port', 'udp', '53/udp']))?.[1]);
  assert.ok(udpPort >= 49153, `random port ${udpPort}`);
  const socket = createSocket('udp4');
  try {
    let answer = '';
    socket.on('message', (message) => (answer = message.toString()));
    for (let i = 0; i < 30 && answer === ''; i++) {
      socket.send('ping', udpPort, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(answer, 'pong');
  } finally {
    socket.close();
  }

  // A port taken on the host is an error at run, not a silent failure.
  const taken = store.wb(['run', '-d', '-p', `${port}:80`, 'busybox', 'sleep', '10']);
  assert.equal(taken.status, 125);
  assert.match(taken.stderr, new RegExp(`Bind for 0\\.0\\.0\\.0:${port} failed: port is already allocated`));
  const ids = ok(['ps', '-q', '--no-trunc']).trim().split('\n');
  ok(['rm', '-f', 'web', 'udp']);
  assert.deepEqual(leftovers(ids), []);
});

test('user-defined networks: names and aliases resolve, other networks are cut off, internal has no way out', () => {
  ok(['network', 'create', '--subnet', '10.215.1.0/24', 'appnet']);
  ok(['network', 'create', '--subnet', '10.215.2.0/24', 'othernet']);
  ok(['network', 'create', '--subnet', '10.215.3.0/24', '--internal', 'closed']);
  ok(['run', '-d', '--name', 'site', '--network', 'appnet', '--network-alias', 'www', '-v', `${www}:/www:ro`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
  const wget = (network: string, url: string) =>
    store.wb(['run', '--rm', '--network', network, 'busybox', 'sh', '-c', `for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- ${url} && exit 0; sleep 0.2; done; exit 1`]);
  assert.equal(wget('appnet', 'http://site/index.html').stdout, 'served by whalebox\n');
  assert.equal(wget('appnet', 'http://www/index.html').stdout, 'served by whalebox\n');
  const siteIp = ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'site']).trim();
  assert.match(siteIp, /^10\.215\.1\.\d+$/);
  // A container started later knows the names too; one on another network knows neither name nor way.
  const other = store.wb(['run', '--rm', '--network', 'othernet', 'busybox', 'sh', '-c', `wget -T 1 -qO- http://${siteIp}/index.html; grep -c site /etc/hosts`]);
  assert.notEqual(other.stdout, 'served by whalebox\n');
  assert.match(other.stdout, /^0\n$/);
  const internal = ok(['run', '--rm', '--network', 'closed', 'busybox', 'ip', 'route']);
  assert.doesNotMatch(internal, /default/);
  assert.match(internal, /10\.215\.3\.0\/24/);
  assert.match(ok(['run', '--rm', '--network', 'appnet', '--ip', '10.215.1.77', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0']), / 10\.215\.1\.77\/24 /);

  // connect and disconnect while running: a second interface, names both ways, then gone.
  ok(['run', '-d', '--name', 'roamer', '--network', 'othernet', 'busybox', 'sleep', '120']);
  ok(['network', 'connect', '--alias', 'wanderer', 'appnet', 'roamer']);
  assert.equal(ok(['exec', 'roamer', 'wget', '-qO-', 'http://site/index.html']), 'served by whalebox\n');
  assert.match(ok(['exec', 'site', 'cat', '/etc/hosts']), /\troamer .*wanderer|\t[0-9a-f]{12} roamer wanderer/);
  assert.match(ok(['exec', 'roamer', 'ip', '-o', 'link']), /eth1@/);
  const twice = store.wb(['network', 'connect', 'appnet', 'roamer']);
  assert.equal(twice.status, 1);
  ok(['network', 'disconnect', 'appnet', 'roamer']);
  assert.doesNotMatch(ok(['exec', 'roamer', 'ip', '-o', 'link']), /eth1@/);
  assert.doesNotMatch(ok(['exec', 'site', 'cat', '/etc/hosts']), /roamer/);
  assert.equal(store.wb(['network', 'disconnect', 'appnet', 'roamer']).status, 1);
  ok(['rm', '-f', 'site', 'roamer']);
});

test('--network none, host and container:NAME', () => {
  assert.equal(ok(['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link']).trim().split('\n').length, 1);
  const hostLinks = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout.trim().split('\n').length;
  assert.equal(ok(['run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', 'link']).trim().split('\n').length, hostLinks);
  ok(['run', '-d', '--name', 'holder', 'busybox', 'sleep', '60']);
  const ip = ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'holder']).trim();
  assert.match(ok(['run', '--rm', '--network', 'container:holder', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0']), new RegExp(` ${ip.replace(/\./g, '\\.')}/`));
  ok(['rm', '-f', 'holder']);
  const stopped = store.wb(['run', '--rm', '--network', 'container:nosuch', 'busybox', 'true']);
  assert.equal(stopped.status, 125);
});

test('60 containers started at once on one network get distinct addresses; rm -f leaves nothing', async () => {
  ok(['network', 'create', '--subnet', '10.215.8.0/24', 'crowd']);
  const runs = Array.from({ length: 60 }, () => {
    const child = spawn(process.execPath, store.args(['run', '-d', '--network', 'crowd', 'busybox', 'sleep', '300']), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    return once(child, 'close').then(([status]) => ({ status: status as number, out: out.trim(), err }));
  });
  const results = await Promise.all(runs);
  for (const result of results) assert.equal(result.status, 0, result.err);
  const ids = results.map((result) => result.out);
  const addresses = ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', ...ids]).trim().split('\n');
  assert.equal(new Set(addresses).size, 60);
  for (const address of addresses) assert.match(address, /^10\.215\.8\.\d+$/);
  ok(['rm', '-f', ...ids]);
  assert.deepEqual(leftovers(ids), []);
  assert.equal(ok(['network', 'inspect', '-f', '{{json .Containers}}', 'crowd']).trim(), '{}');
  assert.deepEqual(spawnSync('ip', ['-o', 'link', 'show', 'master', ok(['network', 'inspect', '-f', '{{json .Options}}', 'crowd']).match(/"(wb-[0-9a-f]+)"/)![1]!], { encoding: 'utf8' }).stdout, '');
  ok(['network', 'rm', 'crowd']);
});

test('kill -9 of shims and of the CLI mid-run, then system prune: nothing is leaked', async () => {
  const ids = [0, 1, 2].map(() => ok(['run', '-d', '-p', '80', 'busybox', 'sleep', '300']).trim());
  for (const id of ids) {
    const shim = Number(ok(['inspect', '-f', '{{.State.Pid}}', id]).trim());
    const parent = Number(spawnSync('ps', ['-o', 'ppid=', '-p', String(shim)], { encoding: 'utf8' }).stdout.trim());
    process.kill(parent, 'SIGKILL');
  }
  for (const delay of [50, 150, 300, 600]) {
    const child = spawn(process.execPath, store.args(['run', '--name', `killed-${delay}`, '-p', '80', 'busybox', 'sleep', '300']), { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, delay));
    child.kill('SIGKILL');
    await once(child, 'close');
  }
  const killed = [...ids, ...[50, 150, 300, 600].flatMap((delay) => store.wb(['inspect', '-f', '{{.Id}}', `killed-${delay}`]).stdout.trim() || [])];
  // system prune also takes networks no container uses (appnet, othernet, closed by now).
  assert.match(ok(['system', 'prune', '-f']), /Deleted Networks:\n(.*\n)*appnet\n/);
  assert.doesNotMatch(ok(['network', 'ls']), /appnet/);
  // Whatever prune kept (a container still starting when its CLI died) goes with rm -f.
  for (const id of killed) store.wb(['rm', '-f', id]);
  assert.deepEqual(leftovers(killed), []);
  // No lease, and no veth on the default bridge.
  assert.equal(ok(['network', 'inspect', '-f', '{{json .Containers}}', 'bridge']).trim(), '{}');
  const bridge = /"(wb0-[0-9a-f]+)"/.exec(ok(['network', 'inspect', '-f', '{{json .Options}}', 'bridge']))![1]!;
  assert.equal(spawnSync('ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8' }).stdout, '');
});

test('races and edges: one host port for two starts, peers starting together, disconnect with ports, no network left', async () => {
  ok(['network', 'create', '--subnet', '10.215.30.0/24', 'racers']);
  const start = (args: string[]) => {
    const child = spawn(process.execPath, store.args(args), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    return once(child, 'close').then(([status]) => ({ status: status as number, out: out.trim(), err }));
  };
  // Two starts asking for one host port at once: exactly one gets it.
  const port = await freePort();
  const both = await Promise.all([0, 1].map(() => start(['run', '-d', '--network', 'racers', '-p', `${port}:80`, 'busybox', 'sleep', '60'])));
  assert.deepEqual(both.map((r) => r.status).sort(), [0, 125], both.map((r) => r.err).join(''));
  assert.match(both.find((r) => r.status === 125)!.err, /port is already allocated/);
  const holder = both.find((r) => r.status === 0)!.out;
  // Disconnecting the network its ports lead to takes the rules too: the address may go to another.
  ok(['network', 'disconnect', 'racers', holder]);
  assert.deepEqual(spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout.split('\n').filter((line) => line.includes(holder)), []);
  // With no network left it still starts again, with only lo.
  ok(['stop', '-t', '0', holder]);
  ok(['start', holder]);
  assert.equal(ok(['exec', holder, 'ip', '-o', 'link']).trim().split('\n').length, 1);
  ok(['rm', '-f', holder]);
  // Four peers starting together all know each other.
  const names = ['p1', 'p2', 'p3', 'p4'];
  const peers = await Promise.all(names.map((name) => start(['run', '-d', '--name', name, '--network', 'racers', 'busybox', 'sleep', '60'])));
  for (const peer of peers) assert.equal(peer.status, 0, peer.err);
  for (const name of names) {
    const hosts = ok(['exec', name, 'cat', '/etc/hosts']);
    for (const other of names) assert.match(hosts, new RegExp(`\\s${other}(\\s|$)`, 'm'), `${name} knows ${other}`);
  }
  ok(['rm', '-f', ...names]);
  ok(['network', 'rm', 'racers']);
  // A name cannot carry lines into other containers' hosts files.
  const injected = store.wb(['run', '--rm', '--network', 'bridge', '-h', 'h\n6.6.6.6\tevil', 'busybox', 'true']);
  assert.equal(injected.status, 125);
  assert.match(injected.stderr, /invalid hostname format/);
});

test('the default bridge takes its subnet from WHALEBOX_BRIDGE_SUBNET, like dockerd --bip', () => {
  const own = new Store();
  try {
    own.importBusybox();
    const env = { WHALEBOX_BRIDGE_SUBNET: '10.215.20.0/24' };
    const address = own.wb(['run', '--rm', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0'], { env });
    assert.match(address.stdout, / 10\.215\.20\.2\/24 /, address.stderr);
  } finally {
    own.remove();
  }
});

test('clear errors: unknown network, overlapping subnet, bad -p', () => {
  const unknown = store.wb(['run', '--rm', '--network', 'nosuchnet', 'busybox', 'true']);
  assert.equal(unknown.status, 125);
  assert.match(unknown.stderr, /network nosuchnet not found/);
  ok(['network', 'create', '--subnet', '10.215.9.0/24', 'first']);
  const overlap = store.wb(['network', 'create', '--subnet', '10.215.9.128/25', 'second']);
  assert.equal(overlap.status, 1);
  assert.match(overlap.stderr, /overlaps/);
  const bad = store.wb(['run', '--rm', '-p', 'abc:80', 'busybox', 'true']);
  assert.equal(bad.status, 125);
  assert.match(bad.stderr, /invalid hostPort: abc/i);
  ok(['network', 'rm', 'first']);
});
