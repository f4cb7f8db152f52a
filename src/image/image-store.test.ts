import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../store/database.js';
import { blobPath, storePaths, type StorePaths } from '../store/paths.js';
import { WhaleboxError } from '../util/errors.js';
import { hasBlob, readBlob } from './content-store.js';
import { findImage, layerDir, listImages, storeImage, type StoredLayer } from './image-store.js';
import { MEDIA_TYPE_LAYER_TAR, type ImageConfig, type ImageManifest } from './oci-image.js';
import { parseReference } from './reference.js';

const BASE: StoredLayer = {
  chainId: `sha256:${'1'.repeat(64)}`,
  diffId: `sha256:${'1'.repeat(64)}`,
  size: 1000,
  mediaType: MEDIA_TYPE_LAYER_TAR,
  digest: `sha256:${'1'.repeat(64)}`,
  blobSize: 1536,
};
const TOP: StoredLayer = { ...BASE, chainId: `sha256:${'3'.repeat(64)}`, diffId: `sha256:${'2'.repeat(64)}`, parent: BASE.chainId, size: 24, digest: `sha256:${'2'.repeat(64)}` };

function config(created: string, cmd?: string[]): ImageConfig {
  return {
    created,
    architecture: 'amd64',
    os: 'linux',
    ...(cmd ? { config: { Cmd: cmd } } : {}),
    rootfs: { type: 'layers', diff_ids: [BASE.diffId, TOP.diffId] },
  };
}

function withStore(fn: (db: Db, paths: StorePaths) => void): () => void {
  return () => {
    const root = mkdtempSync(join(tmpdir(), 'whalebox-images-'));
    const db = openDatabase(join(root, 'whalebox.db'));
    try {
      const paths = storePaths(root, join(root, 'run'));
      // storeImage records only layers that are unpacked and whose blobs are stored.
      mkdirSync(paths.blobs, { recursive: true });
      for (const layer of [BASE, TOP]) {
        mkdirSync(layerDir(paths, layer.chainId), { recursive: true });
        writeFileSync(blobPath(paths, layer.digest), '');
      }
      fn(db, paths);
    } finally {
      db.close();
      rmSync(root, { recursive: true, force: true });
    }
  };
}

test(
  'stores config and manifest blobs and finds the image by every name',
  withStore((db, paths) => {
    const id = storeImage(db, paths, config('2024-01-02T03:04:05Z', ['sh']), [BASE, TOP], { references: [parseReference('busybox')] });
    assert.match(id, /^sha256:[a-f0-9]{64}$/);
    assert.deepEqual(JSON.parse(readBlob(paths, id).toString()), config('2024-01-02T03:04:05Z', ['sh']));

    const manifestDigest = db.prepare('SELECT manifest_digest FROM images WHERE id = ?').pluck().get(id) as string;
    const manifest = JSON.parse(readBlob(paths, manifestDigest).toString()) as ImageManifest;
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(manifest.config, {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: id,
      size: readBlob(paths, id).length,
    });
    assert.deepEqual(manifest.layers.map((layer) => [layer.digest, layer.size]), [[BASE.digest, 1536], [TOP.digest, 1536]]);
    assert.ok(hasBlob(paths, manifestDigest));

    const hex = id.slice(7);
    for (const name of ['busybox', 'busybox:latest', 'docker.io/library/busybox:latest', id, hex, hex.slice(0, 12), `sha256:${hex.slice(0, 5)}`, hex[0]!]) {
      const image = findImage(db, paths, name);
      assert.ok(image, name);
      assert.equal(image.id, id);
      assert.deepEqual(image.layerDirs, [join(paths.layers, '1'.repeat(64), 'diff'), join(paths.layers, '3'.repeat(64), 'diff')]);
      assert.deepEqual(image.config.config?.Cmd, ['sh']);
      assert.equal(image.created, '2024-01-02T03:04:05Z');
      assert.equal(image.size, 1024);
      assert.deepEqual(image.references, ['docker.io/library/busybox:latest']);
    }
    assert.equal(findImage(db, paths, 'busybox:other'), undefined);
    assert.equal(findImage(db, paths, 'f'.repeat(64)), undefined);
    assert.equal(findImage(db, paths, `sha256:${'f'.repeat(64)}`), undefined);
    assert.throws(() => findImage(db, paths, 'Busybox'), /must be lowercase/);
    assert.deepEqual(
      db.prepare('SELECT chain_id, diff_id, parent, size FROM layers ORDER BY size DESC').all(),
      [
        { chain_id: BASE.chainId, diff_id: BASE.diffId, parent: null, size: 1000 },
        { chain_id: TOP.chainId, diff_id: TOP.diffId, parent: BASE.chainId, size: 24 },
      ],
    );
  }),
);

test(
  'storing the same image twice changes nothing; a moved tag leaves the old image dangling',
  withStore((db, paths) => {
    const first = storeImage(db, paths, config('2024-01-01T00:00:00Z'), [BASE], { references: [parseReference('app:1')] });
    assert.equal(storeImage(db, paths, config('2024-01-01T00:00:00Z'), [BASE], { references: [parseReference('app:1')] }), first);
    assert.equal(db.prepare('SELECT count(*) FROM images').pluck().get(), 1);
    assert.equal(db.prepare('SELECT count(*) FROM layers').pluck().get(), 1);

    const second = storeImage(db, paths, config('2024-06-01T00:00:00Z'), [BASE], { references: [parseReference('app:1'), parseReference('localhost:5000/app')] });
    assert.notEqual(second, first);
    assert.equal(findImage(db, paths, 'app:1')?.id, second);
    assert.deepEqual(findImage(db, paths, first)?.references, []);
    assert.deepEqual(listImages(db), [
      { id: second, created: '2024-06-01T00:00:00Z', size: 1000, references: ['docker.io/library/app:1', 'localhost:5000/app:latest'], repoDigests: [], chainIds: [BASE.chainId] },
      { id: first, created: '2024-01-01T00:00:00Z', size: 1000, references: [], repoDigests: [], chainIds: [BASE.chainId] },
    ]);
  }),
);

test(
  'listImages sorts by time, not by the text of the timestamp',
  withStore((db, paths) => {
    const early = storeImage(db, paths, config('2024-01-01T00:00:00.5Z'), [BASE]);
    const late = storeImage(db, paths, config('2024-01-01T00:00:01+00:00'), [BASE]);
    assert.deepEqual(listImages(db).map((image) => image.id), [late, early]);
  }),
);

test(
  'an ID prefix shared by several images is ambiguous',
  withStore((db, paths) => {
    const byFirstDigit = new Map<string, string>();
    for (let second = 0; ; second++) {
      const id = storeImage(db, paths, config(`2024-01-01T00:00:${String(second).padStart(2, '0')}Z`), [BASE]);
      const other = byFirstDigit.get(id[7]!);
      if (other !== undefined) {
        assert.throws(
          () => findImage(db, paths, id[7]!),
          (err: unknown) => err instanceof WhaleboxError && err.message === `image ID prefix ${id[7]} matches more than one image`,
        );
        assert.equal(findImage(db, paths, id.slice(7, 40))?.id, id);
        return;
      }
      byFirstDigit.set(id[7]!, id);
    }
  }),
);
