// Integration tests of `save`, `load` and `export` through the built CLI bundle (`npm run build` first).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { extract, pack, type Header } from 'tar-stream';
import { busyboxTar, storeForFile, Store } from './helpers.js';

const source = storeForFile();
let work: string;
let saved: string;
let busyboxId: string;

before(() => {
  work = join(source.dir, 'work');
  mkdirSync(work);
  saved = join(work, 'busybox.tar');
  busyboxId = source.wb(['images', '-q', '--no-trunc', 'busybox']).stdout.trim();
  const result = source.wb(['save', '-o', saved, 'busybox']);
  assert.equal(result.status, 0, result.stderr);
});

/** A fresh store per test, removed afterwards (its containers first). */
function withStore(fn: (store: Store) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const store = new Store();
    try {
      await fn(store);
    } finally {
      const ids = store.wb(['ps', '-aq', '--no-trunc']).stdout.trim().split('\n').filter(Boolean);
      if (ids.length) store.wb(['rm', '-f', ...ids]);
      store.remove();
    }
  };
}

/** Runs the CLI with binary stdin (Store.wb takes text). */
function wbInput(store: Store, args: string[], input: Buffer) {
  return spawnSync(process.execPath, store.args(args), { input, encoding: 'utf8' });
}

/** The files of a tar (directories left out: writing the files makes them again). */
async function readTar(data: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const parser = extract();
  parser.end(data);
  for await (const entry of parser) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    if (entry.header.type === 'file') files.set(entry.header.name, Buffer.concat(chunks));
  }
  return files;
}

async function writeTar(entries: Array<Partial<Header> & { name: string; data?: Buffer }>): Promise<Buffer> {
  const archive = pack();
  for (const { data, ...header } of entries) archive.entry(header, data ?? Buffer.alloc(0));
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const files = (map: Map<string, Buffer>) => [...map].map(([name, data]) => ({ name, data }));
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** The layer directories and image rows a store holds: what a failed load must not add. */
function stored(store: Store): { layers: string[]; images: string; scratch: string[] } {
  const layers = existsSync(join(store.root, 'layers')) ? readdirSync(join(store.root, 'layers')).filter((name) => /^[a-f0-9]{64}$/.test(name)) : [];
  const scratch = existsSync(store.root) ? readdirSync(store.root).filter((name) => name.startsWith('tmp-')) : [];
  return { layers, images: store.wb(['images', '-q']).stdout, scratch };
}

describe('save and load', () => {
  test('save writes a Docker 25 archive: an OCI layout with manifest.json and repositories', async () => {
    const archive = await readTar(readFileSync(saved));
    const [image] = JSON.parse(archive.get('manifest.json')!.toString());
    assert.deepEqual(image.RepoTags, ['busybox:latest']);
    assert.equal(image.Config, `blobs/sha256/${busyboxId.slice(7)}`);
    const config = JSON.parse(archive.get(image.Config)!.toString());
    // Layers are plain tars named by their diff IDs.
    assert.deepEqual(image.Layers, config.rootfs.diff_ids.map((id: string) => `blobs/sha256/${id.slice(7)}`));
    for (const layer of image.Layers) assert.equal(sha256(archive.get(layer)!), layer.slice('blobs/sha256/'.length));
    assert.deepEqual(JSON.parse(archive.get('oci-layout')!.toString()), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(archive.get('index.json')!.toString());
    assert.equal(index.manifests.length, 1);
    assert.deepEqual(index.manifests[0].annotations, {
      'io.containerd.image.name': 'docker.io/library/busybox:latest',
      'org.opencontainers.image.ref.name': 'latest',
    });
    const manifestBlob = archive.get(`blobs/sha256/${index.manifests[0].digest.slice(7)}`)!;
    assert.equal(sha256(manifestBlob), index.manifests[0].digest.slice(7));
    assert.equal(JSON.parse(manifestBlob.toString()).config.digest, busyboxId);
    assert.deepEqual(Object.keys(JSON.parse(archive.get('repositories')!.toString())), ['busybox']);
  });

  test(
    'load into another store gives the same image, which runs',
    withStore((store) => {
      const loaded = wbInput(store, ['image', 'load'], readFileSync(saved));
      assert.equal(loaded.status, 0, loaded.stderr);
      assert.equal(loaded.stdout, 'Loaded image: busybox:latest\n');
      assert.equal(store.wb(['images', '-q', '--no-trunc', 'busybox']).stdout.trim(), busyboxId);
      const run = store.wb(['run', '--rm', 'busybox', 'echo', 'hi']);
      assert.equal(run.stdout, 'hi\n', run.stderr);
      // Again: the layer is already there; nothing new, same output.
      assert.equal(store.wb(['load', '-q', '-i', saved]).stdout, 'Loaded image: busybox:latest\n');
      assert.deepEqual(stored(store).scratch, [], 'no scratch directory is left');
    }),
  );

  test('two images in one archive load with their tags; an image named by ID has none', async () => {
    const changed = source.wb(['import', '--change', 'ENV A=1', busyboxTar(), 'tools:1']);
    assert.equal(changed.status, 0, changed.stderr);
    const both = join(work, 'both.tar');
    const result = source.wb(['image', 'save', '-o', both, 'busybox:latest', 'tools']);
    assert.equal(result.status, 0, result.stderr);
    const manifest = JSON.parse((await readTar(readFileSync(both))).get('manifest.json')!.toString());
    assert.deepEqual(manifest.map((image: { RepoTags: string[] }) => image.RepoTags), [['busybox:latest'], ['tools:1']]);
    await withStore((store) => {
      const loaded = store.wb(['load', '-i', both]);
      assert.equal(loaded.status, 0, loaded.stderr);
      assert.equal(loaded.stdout, 'Loaded image: busybox:latest\nLoaded image: tools:1\n');
      assert.equal(store.wb(['images', '-q', '--no-trunc', 'busybox:latest']).stdout.trim(), busyboxId);
      assert.equal(store.wb(['images', '-q', '--no-trunc', 'tools:1']).stdout.trim(), changed.stdout.trim());
      assert.equal(stored(store).layers.length, 1, 'the shared layer is stored once');
    })();

    const byId = join(work, 'by-id.tar');
    assert.equal(source.wb(['save', '-o', byId, busyboxId.slice(7, 19)]).status, 0);
    const untagged = JSON.parse((await readTar(readFileSync(byId))).get('manifest.json')!.toString());
    assert.equal(untagged[0].RepoTags, null);
    await withStore((store) => {
      assert.equal(store.wb(['load', '-i', byId]).stdout, `Loaded image ID: ${busyboxId}\n`);
    })();
  });

  test(
    'load reads legacy docker-archives and OCI layouts with nested indexes and gzip layers',
    withStore(async (store) => {
      const archive = await readTar(readFileSync(saved));
      const [image] = JSON.parse(archive.get('manifest.json')!.toString());
      const config = archive.get(image.Config)!;
      const layer = archive.get(image.Layers[0])!;

      // Legacy: <id>/layer.tar, <config hex>.json, the layer linked from a second directory. The
      // config is spaced and escaped unlike ours (as Go writes `&&`): its own digest is the ID.
      const foreign = Buffer.from(JSON.stringify(JSON.parse(config.toString()), null, 2).replace(/"os"/, '"\\u006fs"'));
      const foreignId = sha256(foreign);
      const legacy = await writeTar([
        { name: 'v1/layer.tar', data: layer },
        { name: 'v2/layer.tar', type: 'symlink', linkname: '../v1/layer.tar' },
        { name: `${foreignId}.json`, data: foreign },
        { name: 'manifest.json', data: json([{ Config: `${foreignId}.json`, RepoTags: ['legacy:1'], Layers: ['v2/layer.tar'] }]) },
      ]);
      const fromLegacy = wbInput(store, ['load'], legacy);
      assert.equal(fromLegacy.stdout, 'Loaded image: legacy:1\n', fromLegacy.stderr);
      assert.equal(store.wb(['images', '-q', '--no-trunc', 'legacy:1']).stdout.trim(), `sha256:${foreignId}`);

      // OCI: index.json → an index → this platform's manifest, whose layer is gzipped.
      const gzipped = gzipSync(layer);
      const blob = (data: Buffer) => ({ name: `blobs/sha256/${sha256(data)}`, data });
      const manifest = json({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: busyboxId, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha256(gzipped)}`, size: gzipped.length }],
      });
      const architecture = { x64: 'amd64', arm64: 'arm64' }[process.arch as 'x64'] ?? process.arch;
      const nested = json({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 1, platform: { os: 'linux', architecture: 's390x' } },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${sha256(manifest)}`, size: manifest.length, platform: { os: 'linux', architecture } },
        ],
      });
      const index = json({
        schemaVersion: 2,
        manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${sha256(nested)}`, size: nested.length, annotations: { 'io.containerd.image.name': 'example.com/nested:2' } }],
      });
      const oci = await writeTar([
        { name: 'oci-layout', data: json({ imageLayoutVersion: '1.0.0' }) },
        blob(config),
        blob(gzipped),
        blob(manifest),
        blob(nested),
        { name: 'index.json', data: index },
      ]);
      const fromOci = wbInput(store, ['load'], gzipSync(oci));
      assert.equal(fromOci.stdout, 'Loaded image: example.com/nested:2\n', fromOci.stderr);
      assert.equal(store.wb(['images', '-q', '--no-trunc', 'example.com/nested:2']).stdout.trim(), busyboxId);
      assert.equal(store.wb(['run', '--rm', 'legacy:1', 'echo', 'hi']).stdout, 'hi\n');
    }),
  );

  describe('refuses hostile archives, storing nothing', () => {
    /** Loads `archive` into a fresh store and checks that it fails with `message` and leaves nothing. */
    const refused = (make: (archive: Map<string, Buffer>, manifest: { Config: string; Layers: string[] }) => Promise<Buffer>, message: RegExp) =>
      withStore(async (store) => {
        const archive = await readTar(readFileSync(saved));
        const data = await make(archive, JSON.parse(archive.get('manifest.json')!.toString())[0]);
        const result = wbInput(store, ['load'], data);
        assert.equal(result.status, 1, result.stderr);
        assert.match(result.stderr, message);
        assert.deepEqual(stored(store), { layers: [], images: '', scratch: [] });
      });

    test('an entry that leaves the archive', refused((archive) => writeTar([{ name: '../x', data: Buffer.from('x') }, ...files(archive)]), /invalid archive: "\.\.\/x" is outside/));

    test(
      'a manifest naming a layer that is not in the archive',
      refused((archive, image) => {
        archive.set('manifest.json', json([{ ...image, Layers: [...image.Layers, 'missing/layer.tar'] }]));
        return writeTar(files(archive));
      }, /invalid archive: layer 2 of image 1 of manifest.json, "missing\/layer.tar", is not in the archive/),
    );

    test(
      'a blob that does not match its digest',
      refused((archive, image) => {
        archive.set(image.Config, Buffer.concat([archive.get(image.Config)!, Buffer.from(' ')]));
        return writeTar(files(archive));
      }, /invalid archive: the config of image 1 of manifest.json does not match its digest/),
    );

    test(
      'a layer whose diff ID is not the one in the config (after one that is)',
      refused(async (archive, image) => {
        // Two layers: busybox, then a tar that the config claims is busybox again.
        const other = await writeTar([{ name: 'other', data: Buffer.from('other') }]);
        const config = JSON.parse(archive.get(image.Config)!.toString());
        config.rootfs.diff_ids.push(config.rootfs.diff_ids[0]);
        const configData = json(config);
        return writeTar([
          { name: 'base/layer.tar', data: archive.get(image.Layers[0]!)! },
          { name: 'top/layer.tar', data: other },
          { name: 'config.json', data: configData },
          { name: 'manifest.json', data: json([{ Config: 'config.json', RepoTags: ['bad:1'], Layers: ['base/layer.tar', 'top/layer.tar'] }]) },
        ]);
      }, /layer 2 of image 1 of manifest.json: .*diff ID/),
    );
  });
});

describe('export', () => {
  test(
    "writes the container's files, deletions applied, as a tar GNU tar extracts",
    withStore((store) => {
      store.importBusybox();
      const run = store.wb(['run', '--name', 'exported', 'busybox', 'sh', '-c', 'echo x > /new; rm /bin/vi']);
      assert.equal(run.status, 0, run.stderr);
      const tar = join(store.dir, 'export.tar');
      const exported = store.wb(['container', 'export', '-o', tar, 'exported']);
      assert.equal(exported.status, 0, exported.stderr);
      const listed = spawnSync('tar', ['-tf', tar], { encoding: 'utf8' }).stdout.split('\n');
      assert.ok(listed.includes('new'));
      assert.ok(listed.includes('bin/busybox'));
      assert.ok(!listed.includes('bin/vi'), 'bin/vi was deleted');
      assert.ok(!listed.some((name) => name.includes('.wh.')), 'no whiteouts');
      const out = join(store.dir, 'out');
      mkdirSync(out);
      const extracted = spawnSync('tar', ['-xf', tar, '-C', out], { encoding: 'utf8' });
      assert.equal(extracted.status, 0, extracted.stderr);
      assert.equal(readFileSync(join(out, 'new'), 'utf8'), 'x\n');

      const nowhere = store.wb(['export', '-o', '/nonexistent/export.tar', 'exported']);
      assert.deepEqual([nowhere.status, nowhere.stderr], [1, 'whalebox: invalid output path: directory "/nonexistent" does not exist\n']);
      const missing = store.wb(['export', '-o', tar, 'nope']);
      assert.deepEqual([missing.status, missing.stderr], [1, 'whalebox: No such container: nope\n']);
    }),
  );

  test('save and export refuse to write a tar to a terminal', { skip: spawnSync('script', ['--version']).status === 0 ? false : 'script(1) is missing' }, () => {
    for (const command of ['save busybox', 'export nope']) {
      const line = source.args(command.split(' ')).map((arg) => `'${arg}'`).join(' ');
      const result = spawnSync('script', ['-qec', `'${process.execPath}' ${line}`, '/dev/null'], { encoding: 'utf8' });
      assert.equal(result.status, 1, command);
      assert.match(result.stdout, /cowardly refusing to save to a terminal\. Use the -o flag or redirect/);
    }
  });
});

const skopeo = spawnSync('skopeo', ['--version']).status === 0 ? false : 'skopeo is not installed';

test(
  'skopeo reads what save writes, and load reads what skopeo writes',
  { skip: skopeo },
  withStore((store) => {
    const layout = join(store.dir, 'oci');
    const copied = spawnSync('skopeo', ['copy', `docker-archive:${saved}`, `oci:${layout}:busybox:latest`], { encoding: 'utf8' });
    assert.equal(copied.status, 0, copied.stderr);
    const archive = join(store.dir, 'skopeo.tar');
    const back = spawnSync('skopeo', ['copy', `oci:${layout}:busybox:latest`, `docker-archive:${archive}:skopeo/busybox:1`], { encoding: 'utf8' });
    assert.equal(back.status, 0, back.stderr);
    const loaded = store.wb(['load', '-i', archive]);
    assert.equal(loaded.stdout, 'Loaded image: skopeo/busybox:1\n', loaded.stderr);
    assert.equal(store.wb(['run', '--rm', 'skopeo/busybox:1', 'echo', 'hi']).stdout, 'hi\n');
  }),
);

const podman = spawnSync('podman', ['--version']).status === 0 && spawnSync('runc', ['--version']).status === 0 ? false : 'podman or runc is not installed';

test(
  'podman loads and runs what save writes, and load reads what podman saves',
  { skip: podman },
  withStore((store) => {
    // Podman's own storage in the test's directory; crun refuses this host's hybrid cgroups, runc does not.
    const args = ['--root', join(store.dir, 'podman'), '--runroot', join(store.dir, 'podman-run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', '--runtime', 'runc'];
    const podmanRun = (...rest: string[]) => spawnSync('podman', [...args, ...rest], { encoding: 'utf8', timeout: 120_000 });
    try {
      const loaded = podmanRun('load', '-i', saved);
      assert.equal(loaded.status, 0, loaded.stderr);
      const ran = podmanRun('run', '--rm', '--network', 'none', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768', 'docker.io/library/busybox:latest', 'echo', 'in podman');
      assert.equal(ran.stdout, 'in podman\n', ran.stderr);
      assert.equal(store.wb(['load', '-i', saved]).status, 0);
      assert.equal(podmanRun('images', '-q', '--no-trunc').stdout.trim(), store.wb(['image', 'inspect', '-f', '{{.Id}}', 'busybox']).stdout.trim());
      const archive = join(store.dir, 'podman.tar');
      const exported = podmanRun('save', '--format', 'docker-archive', '-o', archive, 'docker.io/library/busybox:latest');
      assert.equal(exported.status, 0, exported.stderr);
      const other = new Store();
      try {
        assert.equal(other.wb(['load', '-i', archive]).stdout, 'Loaded image: busybox:latest\n');
        assert.equal(other.wb(['run', '--rm', 'busybox', 'echo', 'hi']).stdout, 'hi\n');
      } finally {
        other.remove();
      }
    } finally {
      podmanRun('rmi', '-a', '-f');
    }
  }),
);
