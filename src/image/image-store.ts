import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../store/database.js';
import type { StorePaths } from '../store/paths.js';
import { WhaleboxError } from '../util/errors.js';
import { hasBlob, putBlob, readBlob } from './content-store.js';
import { parseManifest } from './manifest.js';
import {
  MEDIA_TYPE_CONFIG,
  MEDIA_TYPE_MANIFEST,
  type ImageConfig,
  type ImageManifest,
} from './oci-image.js';
import { parseReference, referenceString, repositoryName, type ImageReference } from './reference.js';

/**
 * Images: the config and manifest blobs in the content store, unpacked layers on disk, and
 * the rows that tie them together (images, layers, tags) in the database.
 */

/** An image as `run` and `create` need it. */
export interface ImageRecord {
  /** `sha256:<hex>` of the config blob. */
  readonly id: string;
  readonly config: ImageConfig;
  /** Absolute paths of the unpacked layers, base layer first (overlay wants them reversed). */
  readonly layerDirs: string[];
  /** RFC 3339. */
  readonly created: string;
  /** Bytes of all layers, unpacked. */
  readonly size: number;
  /** Normalized references (`docker.io/library/busybox:latest`), sorted. */
  readonly references: string[];
  /** `docker.io/library/busybox@sha256:…`: the manifests registries know this image by, sorted. */
  readonly repoDigests: string[];
  /** The manifest blob in the content store: the registry's own bytes for a pulled image. */
  readonly manifestDigest: string;
  /** Chain IDs of the layers, base layer first. */
  readonly chainIds: string[];
}

/** A layer already unpacked (see unpackLayer) and whose blob is in the content store. */
export interface StoredLayer {
  readonly chainId: string;
  readonly diffId: string;
  /** Chain ID of the layer below; undefined for the base layer. */
  readonly parent?: string;
  /** Bytes unpacked. */
  readonly size: number;
  /** The layer blob as the manifest lists it. */
  readonly mediaType: string;
  readonly digest: string;
  readonly blobSize: number;
}

interface ImageRow {
  id: string;
  manifest_digest: string;
  created: string;
  size: number;
  layers: string;
}

export interface StoreImageOptions {
  /** References to point at the image. */
  readonly references?: readonly ImageReference[];
  /**
   * The config exactly as a registry or archive gave it: its digest is the image ID, which
   * re-serializing `config` would change. Without it the config is written as JSON.
   */
  readonly configBytes?: Buffer;
  /**
   * The manifest exactly as a registry or archive gave it, kept byte for byte so that its digest
   * (the repo digest) stays valid for a later push. Without it an OCI manifest is written.
   */
  readonly manifest?: Buffer;
  /** Manifest digests by repository (`docker.io/library/busybox`), from a pull or push. */
  readonly repoDigests?: ReadonlyArray<{ readonly repository: string; readonly digest: string }>;
}

/**
 * Records an image whose layers are stored, writing its config and manifest blobs, and points
 * the references at it. A reference that named another image moves here; that image stays, as
 * `<none>` if nothing else names it (Docker's dangling image). Returns the image ID.
 */
export function storeImage(
  db: Db,
  paths: StorePaths,
  config: ImageConfig,
  layers: readonly StoredLayer[],
  options: StoreImageOptions = {},
): string {
  const configBytes = options.configBytes ?? Buffer.from(JSON.stringify(config));
  const size = layers.reduce((total, layer) => total + layer.size, 0);
  let id = '';

  db.transaction(() => {
    // Image removal moves unreferenced content out under this same write lock: what a pull or
    // load found in place a moment ago may be gone now, and must not be recorded as present.
    // The config and manifest are (re)written here for the same reason.
    for (const layer of layers) {
      if (!existsSync(layerDir(paths, layer.chainId)) || !hasBlob(paths, layer.digest)) {
        throw new WhaleboxError(`layer ${layer.chainId} was removed while this image was being stored; try again`, 1);
      }
    }
    id = putBlob(paths, configBytes);
    const manifestDigest = putBlob(paths, options.manifest ?? ociManifest(id, configBytes.length, layers));
    insertLayerRows(db, layers);
    // The ID is the hash of the config, so an existing row already describes this image; a
    // pull of it replaces the manifest with the registry's, which a push must reproduce.
    db.prepare(
      `INSERT INTO images (id, manifest_digest, created, size, layers) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET manifest_digest = excluded.manifest_digest WHERE ?`,
    ).run(id, manifestDigest, config.created ?? new Date(0).toISOString(), size, JSON.stringify(layers.map((layer) => layer.chainId)), options.manifest ? 1 : 0);
    const tag = db.prepare(
      'INSERT INTO tags (reference, image_id) VALUES (?, ?) ON CONFLICT (reference) DO UPDATE SET image_id = excluded.image_id',
    );
    for (const reference of options.references ?? []) tag.run(referenceString(reference), id);
    const repoDigest = db.prepare(
      'INSERT INTO repo_digests (repository, digest, image_id) VALUES (?, ?, ?) ON CONFLICT (repository, digest) DO UPDATE SET image_id = excluded.image_id',
    );
    for (const { repository, digest } of options.repoDigests ?? []) repoDigest.run(repository, digest, id);
  }).immediate();
  return id;
}

/** Rows for layers just stored (existing rows stay); inside the caller's transaction. */
export function insertLayerRows(db: Db, layers: readonly StoredLayer[]): void {
  const insert = db.prepare('INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size) VALUES (?, ?, ?, ?)');
  for (const layer of layers) insert.run(layer.chainId, layer.diffId, layer.parent ?? null, layer.size);
}

function ociManifest(configDigest: string, configSize: number, layers: readonly StoredLayer[]): Buffer {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_MANIFEST,
    config: { mediaType: MEDIA_TYPE_CONFIG, digest: configDigest, size: configSize },
    layers: layers.map((layer) => ({ mediaType: layer.mediaType, digest: layer.digest, size: layer.blobSize })),
  };
  return Buffer.from(JSON.stringify(manifest));
}

/**
 * Finds an image as Docker resolves a name: a full ID (`sha256:<hex>` or the bare hex), then a
 * reference (`busybox` means docker.io/library/busybox:latest), then a unique ID prefix (`sha256:`
 * optional). Returns undefined when nothing matches; throws a WhaleboxError for text that is
 * neither an ID nor a valid reference, and for a prefix that matches several images.
 */
export function findImage(db: Db, paths: StorePaths, nameOrId: string): ImageRecord | undefined {
  const id = resolveImageId(db, nameOrId);
  if (id === undefined) return undefined;
  const row = db.prepare('SELECT id, manifest_digest, created, size, layers FROM images WHERE id = ?').get(id) as ImageRow;
  const references = db
    .prepare('SELECT reference FROM tags WHERE image_id = ? ORDER BY reference')
    .pluck()
    .all(id) as string[];
  const repoDigests = db
    .prepare("SELECT repository || '@' || digest FROM repo_digests WHERE image_id = ? ORDER BY 1")
    .pluck()
    .all(id) as string[];
  const chainIds = JSON.parse(row.layers) as string[];
  return {
    id,
    config: JSON.parse(readBlob(paths, id).toString('utf8')) as ImageConfig,
    layerDirs: chainIds.map((chainId) => layerDir(paths, chainId)),
    created: row.created,
    size: row.size,
    references,
    repoDigests,
    manifestDigest: row.manifest_digest,
    chainIds,
  };
}

/** Whether a name or ID resolves to a stored image, without reading its config (findImage does). */
export function hasImage(db: Db, nameOrId: string): boolean {
  return resolveImageId(db, nameOrId) !== undefined;
}

function resolveImageId(db: Db, nameOrId: string): string | undefined {
  const exists = (id: string): boolean => db.prepare('SELECT 1 FROM images WHERE id = ?').get(id) !== undefined;
  const full = /^(?:sha256:)?([a-f0-9]{64})$/.exec(nameOrId);
  if (full) {
    const id = `sha256:${full[1]}`;
    return exists(id) ? id : undefined;
  }
  const ref = parseReference(nameOrId);
  // `name@sha256:…` names a manifest that a pull or push recorded for that repository.
  const named = ref.digest === undefined
    ? db.prepare('SELECT image_id FROM tags WHERE reference = ?').pluck().get(referenceString(ref))
    : db.prepare('SELECT image_id FROM repo_digests WHERE repository = ? AND digest = ?').pluck().get(repositoryName(ref), ref.digest);
  if (named !== undefined) return named as string;
  const prefix = /^(?:sha256:)?([a-f0-9]{1,63})$/.exec(nameOrId);
  if (!prefix) return undefined;
  // Hex digits need no LIKE escaping.
  const matches = db
    .prepare('SELECT id FROM images WHERE id LIKE ? LIMIT 2')
    .pluck()
    .all(`sha256:${prefix[1]}%`) as string[];
  if (matches.length > 1) throw new WhaleboxError(`image ID prefix ${nameOrId} matches more than one image`);
  return matches[0];
}

/** An image's layers as storeImage takes them: their rows, and their blobs from its manifest. */
export function imageLayers(db: Db, paths: StorePaths, image: ImageRecord): StoredLayer[] {
  const manifest = parseManifest(readBlob(paths, image.manifestDigest), '');
  if (manifest.kind !== 'image') throw new Error(`the manifest of ${image.id} is an index`);
  const select = db.prepare('SELECT diff_id, parent, size FROM layers WHERE chain_id = ?');
  return image.chainIds.map((chainId, i) => {
    const row = select.get(chainId) as { diff_id: string; parent: string | null; size: number } | undefined;
    const descriptor = manifest.layers[i];
    if (row === undefined || descriptor === undefined) throw new Error(`layer ${chainId} of ${image.id} has no record`);
    return {
      chainId,
      diffId: row.diff_id,
      ...(row.parent ? { parent: row.parent } : {}),
      size: row.size,
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      blobSize: descriptor.size,
    };
  });
}

export function layerDir(paths: StorePaths, chainId: string): string {
  return join(paths.layers, chainId.slice('sha256:'.length), 'diff');
}

export interface ImageSummary {
  readonly id: string;
  /** RFC 3339. */
  readonly created: string;
  readonly size: number;
  /** Normalized references, sorted; empty for a dangling image. */
  readonly references: string[];
  /** `docker.io/library/busybox@sha256:…`, sorted. */
  readonly repoDigests: string[];
  /** Chain IDs of the layers, base layer first. */
  readonly chainIds: string[];
}

/** Every image, newest first (the order of `docker images`). */
export function listImages(db: Db): ImageSummary[] {
  const rows = db
    .prepare(
      `SELECT images.id, images.created, images.size, images.layers, tags.reference
         FROM images LEFT JOIN tags ON tags.image_id = images.id
        ORDER BY tags.reference`,
    )
    .all() as Array<{ id: string; created: string; size: number; layers: string; reference: string | null }>;
  const images = new Map<string, ImageSummary>();
  for (const row of rows) {
    let image = images.get(row.id);
    if (image === undefined) {
      image = { id: row.id, created: row.created, size: row.size, references: [], repoDigests: [], chainIds: JSON.parse(row.layers) as string[] };
      images.set(row.id, image);
    }
    if (row.reference !== null) image.references.push(row.reference);
  }
  const digests = db.prepare("SELECT image_id, repository || '@' || digest AS digest FROM repo_digests ORDER BY 2").all() as Array<{ image_id: string; digest: string }>;
  for (const row of digests) images.get(row.image_id)?.repoDigests.push(row.digest);
  // Sorted here rather than in SQL: RFC 3339 strings with offsets or fractions do not sort as text.
  return [...images.values()].sort(
    (a, b) => Date.parse(b.created) - Date.parse(a.created) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}
