import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RegistryClient } from '../src/image/registry/client.js';
import { busyboxTar, Store, storeForFile } from './helpers.js';
import { gzipLayer, makeTar, pushIndex, pushLayers, sha256, type LayerBlob } from './image-builder.js';
import { registryForFile } from './registry-server.js';

const store = storeForFile();
const registry = registryForFile('plain');
const fresh: Store[] = [];
after(() => {
  for (const other of fresh) other.remove();
});

/** A store of its own, removed after the file's tests. */
function newStore(): Store {
  const other = new Store();
  fresh.push(other);
  return other;
}

function ok(result: { status: number | null; stderr: string; stdout: string }): string {
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

const imageId = (s: Store, name: string): string => ok(s.wb(['image', 'inspect', '-f', '{{.Id}}', name])).trim();
/** Layer directories in a store (without the l/ short names). */
const layerDirs = (s: Store): string[] => readdirSync(join(s.root, 'layers')).filter((name) => name !== 'l');

let busyboxLayer: LayerBlob | undefined;
function busybox(): LayerBlob {
  busyboxLayer ??= gzipLayer(readFileSync(busyboxTar()));
  return busyboxLayer;
}

test('push busybox, pull it into another store: same image ID, and it runs', () => {
  const ref = `${registry.host}/library/busybox:latest`;
  ok(store.wb(['tag', 'busybox', ref]));
  const pushed = ok(store.wb(['push', ref]));
  assert.match(pushed, new RegExp(`^The push refers to repository \\[${registry.host}/library/busybox\\]\n`));
  assert.match(pushed, /[0-9a-f]{12}: Pushed\n/);
  const digest = /latest: digest: (sha256:[0-9a-f]{64}) size: \d+\n$/.exec(pushed)?.[1];
  assert.ok(digest, pushed);
  assert.match(ok(store.wb(['images', '--digests', registry.host + '/library/busybox'])), new RegExp(digest));

  const again = ok(store.wb(['push', ref]));
  assert.match(again, /: Layer already exists\n/);

  const other = newStore();
  const pulled = ok(other.wb(['pull', ref]));
  assert.match(pulled, /^latest: Pulling from library\/busybox\n/);
  assert.match(pulled, /[0-9a-f]{12}: Pull complete\n/);
  assert.ok(pulled.includes(`Digest: ${digest}\nStatus: Downloaded newer image for ${ref}\n${ref}\n`), pulled);
  assert.equal(imageId(other, ref), imageId(store, 'busybox'));
  assert.equal(ok(other.wb(['run', '--rm', ref, 'echo', 'hi'])), 'hi\n');
  assert.match(ok(other.wb(['pull', ref])), /Status: Image is up to date for /);
  assert.equal(ok(other.wb(['pull', '-q', ref])), `${ref}\n`);
  assert.match(ok(other.wb(['image', 'inspect', '-f', '{{json .RepoDigests}}', ref])), new RegExp(`"${registry.host}/library/busybox@${digest}"`));

  // The pulled image's manifest is pushed byte for byte: the same digest under a new tag.
  ok(other.wb(['tag', ref, `${registry.host}/library/busybox:copy`]));
  assert.match(ok(other.wb(['push', `${registry.host}/library/busybox:copy`])), new RegExp(`copy: digest: ${digest} `));
});

test('commit: the seed flow, deleted files, history, and a second image sharing the base layer', () => {
  ok(store.wb(['run', '--name', 'committer', 'busybox', 'sh', '-c', 'rm /bin/vi; echo x > /new']));
  const id = ok(store.wb(['commit', '-m', 'add new', '-a', 'tester', '-c', 'CMD ["cat", "/new"]', 'committer', 'app:1'])).trim();
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(ok(store.wb(['run', '--rm', 'app:1'])), 'x\n');
  assert.equal(ok(store.wb(['run', '--rm', 'app:1', 'sh', '-c', 'test -e /bin/vi && echo has vi || echo no vi'])), 'no vi\n');
  assert.equal(ok(store.wb(['run', '--rm', 'busybox', 'sh', '-c', 'test -e /bin/vi && echo has vi'])), 'has vi\n');
  const history = ok(store.wb(['history', '--no-trunc', 'app:1'])).split('\n');
  assert.match(history[1]!, new RegExp(`^${id}\\s.*sh -c rm /bin/vi; echo x > /new\\s+\\d+B\\s+add new`));
  assert.equal(ok(store.wb(['image', 'inspect', '-f', '{{.Author}}', 'app:1'])), 'tester\n');
  assert.equal((JSON.parse(ok(store.wb(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'app:1']))) as string[]).length, 2);
  // The engine's mount points (/etc/hosts, …) are not part of the new layer; /new is.
  const top = ok(store.wb(['image', 'inspect', '-f', '{{.GraphDriver.Data.UpperDir}}', 'app:1'])).trim();
  assert.deepEqual(readdirSync(top).sort(), ['bin', 'new']);

  // A container that changed nothing adds no layer: the runtime's mount points are in its init layer.
  ok(store.wb(['run', '--name', 'idle', 'busybox', 'true']));
  ok(store.wb(['commit', 'idle', 'idle:1']));
  assert.equal((JSON.parse(ok(store.wb(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'idle:1']))) as string[]).length, 1);
  ok(store.wb(['rm', 'idle']));

  // The seed's flow, with a running container paused while committing.
  ok(store.wb(['run', '-d', '--name', 'running', 'busybox', 'sh', '-c', 'echo seed > /tmp/file; sleep 60']));
  for (let i = 0; i < 50 && store.wb(['exec', 'running', 'cat', '/tmp/file']).stdout !== 'seed\n'; i++) ok(store.wb(['run', '--rm', 'busybox', 'sleep', '0.1']));
  ok(store.wb(['commit', 'running', 'seed:latest']));
  assert.equal(ok(store.wb(['run', '--rm', 'seed', 'cat', '/tmp/file'])), 'seed\n');
  ok(store.wb(['rm', '-f', 'running', 'committer']));

  // Pushed and pulled elsewhere, the base layer is stored once and mounted across repositories.
  const app = `${registry.host}/team/app:1`;
  ok(store.wb(['tag', 'app:1', app]));
  assert.match(ok(store.wb(['push', app])), /Mounted from library\/busybox\n/);
  const other = newStore();
  ok(other.wb(['pull', `${registry.host}/library/busybox:latest`]));
  assert.match(ok(other.wb(['pull', app])), /: Already exists\n/);
  assert.equal(layerDirs(other).length, 2);
  assert.equal(ok(other.wb(['run', '--rm', app])), 'x\n');
});

test('whiteouts and opaque directories from a registry: the container sees the right tree', async () => {
  const client = new RegistryClient(registry.host);
  const extras = gzipLayer(
    await makeTar([
      { name: 'data', type: 'directory', mode: 0o755 },
      { name: 'data/a', content: 'a' },
      { name: 'data/b', content: 'b' },
    ]),
  );
  const changes = gzipLayer(
    await makeTar([
      { name: 'bin/.wh.vi', content: '' },
      { name: 'data', type: 'directory', mode: 0o755 },
      { name: 'data/.wh..wh..opq', content: '' },
      { name: 'data/c', content: 'c' },
    ]),
  );
  await pushLayers(client, 'layered', 'v1', [busybox(), extras, changes]);
  const ref = `${registry.host}/layered:v1`;
  ok(store.wb(['pull', ref]));
  assert.equal(ok(store.wb(['run', '--rm', ref, 'sh', '-c', 'ls /data; test -e /bin/vi && echo vi; true'])), 'c\n');
});

test('an image of 120 layers runs', async () => {
  const client = new RegistryClient(registry.host);
  const layers = [busybox()];
  for (let i = 1; i < 120; i++) layers.push(gzipLayer(await makeTar([{ name: `layers/f${i}`, content: `${i}\n` }])));
  await pushLayers(client, 'tall', 'v1', layers);
  const ref = `${registry.host}/tall:v1`;
  ok(store.wb(['pull', '-q', ref]));
  assert.equal(ok(store.wb(['run', '--rm', ref, 'sh', '-c', 'ls /layers | wc -l; cat /layers/f119'])), '119\n119\n');
});

test('a multi-platform index pulls the host platform, or the one --platform names', async () => {
  const client = new RegistryClient(registry.host);
  const amd64 = await pushLayers(client, 'multi', 'amd64', [busybox()], { architecture: 'amd64', cmd: ['echo', 'amd64'] });
  const arm64 = await pushLayers(client, 'multi', 'arm64', [busybox()], { architecture: 'arm64', cmd: ['echo', 'arm64'] });
  await pushIndex(client, 'multi', 'latest', [
    { image: arm64, architecture: 'arm64', variant: 'v8' },
    { image: amd64, architecture: 'amd64' },
  ]);
  const ref = `${registry.host}/multi:latest`;
  const host = newStore();
  ok(host.wb(['pull', ref]));
  assert.equal(imageId(host, ref), amd64.configDigest);
  const arm = newStore();
  ok(arm.wb(['pull', '--platform', 'linux/arm64', ref]));
  assert.equal(imageId(arm, ref), arm64.configDigest);
  assert.equal(ok(arm.wb(['image', 'inspect', '-f', '{{.Architecture}}', ref])), 'arm64\n');
  const none = arm.wb(['pull', '--platform', 'linux/riscv64', ref]);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no matching manifest for linux\/riscv64/);
});

test('hostile layers are refused and leave nothing, in the store or outside it', async () => {
  const client = new RegistryClient(registry.host);
  const mark = `whalebox-evil-${randomBytes(4).toString('hex')}`;
  const outside = `/tmp/${mark}`;
  const tar = await makeTar([{ name: 'ok', content: 'fine' }]);
  const truncated = gzipLayer(tar).blob;
  const cases: Array<[string, LayerBlob, RegExp]> = [
    ['a ../ entry', gzipLayer(await makeTar([{ name: `../../../../../../tmp/${mark}`, content: 'x' }])), /leaves the layer root/],
    ['an absolute path', gzipLayer(await makeTar([{ name: `${outside}-abs`, content: 'x' }])), /is an absolute path/],
    [
      'a file through a symlink to /etc',
      gzipLayer(await makeTar([{ name: 'etc2', type: 'symlink', linkname: '/etc' }, { name: `etc2/${mark}`, content: 'x' }])),
      /its parent "etc2" is a symbolic link/,
    ],
    ['a hard link to a host path', gzipLayer(await makeTar([{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }])), /is an absolute path/],
    ['a hard link up and out', gzipLayer(await makeTar([{ name: 'passwd', type: 'link', linkname: '../../../../etc/passwd' }])), /leaves the layer root/],
    ['a truncated gzip', { blob: truncated.subarray(0, truncated.length - 20), diffId: sha256(tar) }, /failed to unpack layer: unexpected end of file/],
    ['a diff ID that does not match', gzipLayer(tar, sha256('other')), /does not match the image config/],
  ];
  const target = newStore();
  for (const [what, layer, message] of cases) {
    const tag = what.replace(/[^a-z0-9]+/g, '-');
    await pushLayers(client, 'hostile', tag, [layer]);
    const result = target.wb(['pull', `${registry.host}/hostile:${tag}`]);
    assert.equal(result.status, 1, `${what}: ${result.stderr}`);
    assert.match(result.stderr, message, what);
    assert.equal(ok(target.wb(['images', '-q'])), '', what);
    assert.deepEqual(layerDirs(target), [], what);
  }
  // A good layer, then a bad one: the good one, complete and verified, is taken back too.
  await pushLayers(client, 'hostile', 'second-bad', [gzipLayer(await makeTar([{ name: 'good', content: 'good' }])), cases[6]![1]]);
  const second = target.wb(['pull', `${registry.host}/hostile:second-bad`]);
  assert.equal(second.status, 1, second.stderr);
  assert.deepEqual(layerDirs(target), []);
  // No short name either (the directory exists only if the good layer finished before the bad one failed).
  const links = join(target.root, 'layers', 'l');
  assert.deepEqual(existsSync(links) ? readdirSync(links) : [], []);
  assert.ok(!existsSync(outside) && !existsSync(`${outside}-abs`) && !existsSync(`/etc/${mark}`));
  assert.equal(readdirSync(join(target.root, 'blobs', 'sha256')).length, 0);
});

test('a registry that serves a blob other than its digest: the pull fails, nothing is stored', async () => {
  const tar = await makeTar([{ name: 'ok', content: 'fine' }]);
  const layer = gzipLayer(tar);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.diffId] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256('promised'), size: layer.blob.length }],
    }),
  );
  // A registry that lies: the layer digest names other bytes than it serves.
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    const send = (type: string, body: Buffer): void => {
      res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length, 'Docker-Content-Digest': sha256(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (url === '/v2/') send('application/json', Buffer.from('{}'));
    else if (url.includes('/manifests/')) send('application/vnd.oci.image.manifest.v1+json', manifest);
    else if (url.endsWith(sha256(config))) send('application/octet-stream', config);
    else if (url.includes('/blobs/')) send('application/octet-stream', layer.blob);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const target = newStore();
    // Not spawnSync: this process serves the registry meanwhile.
    const child = target.spawn(['pull', `127.0.0.1:${(server.address() as AddressInfo).port}/liar:v1`]);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [status] = (await once(child, 'exit')) as [number | null];
    const result = { status, stderr };
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /verification failed for digest sha256:/);
    assert.deepEqual(existsSync(join(target.root, 'layers')) ? layerDirs(target) : [], [], stderr);
    assert.equal(ok(target.wb(['images', '-q'])), '');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('clear errors: unknown image, unknown registry, bad reference', () => {
  const missing = store.wb(['pull', `${registry.host}/nothing:here`]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /manifest unknown|not found/);
  const bad = store.wb(['pull', 'bad::ref']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /invalid reference format/);
  const refused = store.wb(['pull', '127.0.0.1:1/nothing']);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /connect|refused/);
  const notLocal = store.wb(['push', `${registry.host}/not/local:v1`]);
  assert.equal(notLocal.status, 1);
  assert.match(notLocal.stderr, /An image does not exist locally with the tag: /);
});

test('run pulls a missing image (--pull), pull -a takes every tag, a digest names what was pulled', async () => {
  const client = new RegistryClient(registry.host);
  const one = await pushLayers(client, 'tags/app', 'one', [busybox()], { cmd: ['echo', 'one'] });
  await pushLayers(client, 'tags/app', 'two', [busybox()], { cmd: ['echo', 'two'] });
  const repo = `${registry.host}/tags/app`;

  const target = newStore();
  const never = target.wb(['run', '--rm', '--pull', 'never', `${repo}:one`]);
  assert.equal(never.status, 125);
  assert.match(never.stderr, /No such image/);
  const run = target.wb(['run', '--rm', `${repo}:one`]);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, 'one\n');
  assert.match(run.stderr, new RegExp(`^Unable to find image '${repo}:one' locally\none: Pulling from tags/app\n`));
  const missing = target.wb(['run', '--rm', `${registry.host}/tags/none:v1`]);
  assert.equal(missing.status, 125);

  const all = ok(target.wb(['pull', '-a', repo]));
  assert.match(all, /^one: Pulling from tags\/app\n/m);
  assert.match(all, /^two: Pulling from tags\/app\n/m);
  assert.ok(all.endsWith(`Status: Downloaded newer images for ${repo}\n${repo}\n`), all);
  assert.equal(ok(target.wb(['run', '--rm', `${repo}:two`])), 'two\n');

  const byDigest = newStore();
  ok(byDigest.wb(['pull', `${repo}@${one.manifestDigest}`]));
  assert.equal(ok(byDigest.wb(['run', '--rm', `${repo}@${one.manifestDigest}`])), 'one\n');
  assert.equal(imageId(byDigest, `${repo}@${one.manifestDigest}`), one.configDigest);
});

test('a store made before short layer names gets them when a container is created', () => {
  rmSync(join(store.root, 'layers', 'l'), { recursive: true, force: true });
  assert.equal(ok(store.wb(['run', '--rm', 'busybox', 'echo', 'old store'])), 'old store\n');
  assert.ok(readdirSync(join(store.root, 'layers', 'l')).length >= 1);
});
