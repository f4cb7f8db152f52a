import { randomBytes } from 'node:crypto';
import { renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readBlob } from '../image/content-store.js';
import { layerLink } from '../image/layer-links.js';
import type { ImageManifest } from '../image/oci-image.js';
import type { Db } from '../store/database.js';
import { blobPath, type StorePaths } from '../store/paths.js';
import { errnoCode } from '../util/errors.js';
import type { Context } from './context.js';

/** What one image holds in the store: its layers (chain IDs) and its blobs. */
export interface ImageContent {
  readonly layers: readonly string[];
  /** The config, the manifest, and the blobs the manifest lists. */
  readonly blobs: readonly string[];
}

/**
 * What deleting `doomed` frees: its layers and blobs that no remaining image references. Only
 * what the doomed images name is ever a candidate, so content a concurrent pull has stored but
 * not yet recorded is never touched (no sweep of the whole store).
 */
export function unreferenced(
  doomed: readonly ImageContent[],
  remaining: readonly ImageContent[],
): { layers: string[]; blobs: string[] } {
  const keptLayers = new Set(remaining.flatMap((image) => image.layers));
  const keptBlobs = new Set(remaining.flatMap((image) => image.blobs));
  return {
    layers: [...new Set(doomed.flatMap((image) => image.layers))].filter((layer) => !keptLayers.has(layer)),
    blobs: [...new Set(doomed.flatMap((image) => image.blobs))].filter((blob) => !keptBlobs.has(blob)),
  };
}

interface ContentRow {
  id: string;
  manifest_digest: string;
  layers: string;
}

function imageContent(paths: StorePaths, row: ContentRow): ImageContent {
  const blobs = [row.id, row.manifest_digest];
  try {
    const manifest = JSON.parse(readBlob(paths, row.manifest_digest).toString('utf8')) as ImageManifest;
    blobs.push(manifest.config.digest, ...manifest.layers.map((layer) => layer.digest));
  } catch {
    // An unreadable manifest names nothing more; the image's own two blobs are still known.
  }
  return { layers: JSON.parse(row.layers) as string[], blobs };
}

/** The layers the build cache holds (a build's steps, which are no images): kept like an image's. */
export function cachedContent(db: Db): ImageContent[] {
  return (db.prepare('SELECT layers FROM build_cache').pluck().all() as string[]).map(cacheEntryContent);
}

/** What one build cache entry holds, from its `layers` column. */
export function cacheEntryContent(layersJson: string): ImageContent {
  const layers = JSON.parse(layersJson) as Array<{ chainId: string; digest: string }>;
  return { layers: layers.map((layer) => layer.chainId), blobs: layers.map((layer) => layer.digest) };
}

/** The outcome of deleteImageRows; `finish` must run after the transaction commits. */
export interface Collected {
  /** Chain IDs of the layers removed. */
  readonly layers: string[];
  /** Bytes of those layers, unpacked. */
  readonly reclaimed: number;
  /** Removes the renamed layer directories and the freed blobs; never throws. */
  finish(): void;
}

/**
 * Deletes images (their tags, repo digests and rows) and then the layers and blobs only they
 * referenced. Runs inside the caller's immediate transaction (see collect).
 */
export function deleteImageRows(db: Db, paths: StorePaths, ids: readonly string[]): Collected {
  const select = db.prepare('SELECT id, manifest_digest, layers FROM images WHERE id = ?');
  const doomed = ids.map((id) => select.get(id) as ContentRow | undefined).filter((row) => row !== undefined);
  for (const statement of ['DELETE FROM tags WHERE image_id = ?', 'DELETE FROM repo_digests WHERE image_id = ?', 'DELETE FROM images WHERE id = ?']) {
    const prepared = db.prepare(statement);
    for (const row of doomed) prepared.run(row.id);
  }
  return collect(db, paths, doomed.map((row) => imageContent(paths, row)));
}

/**
 * After a pull or load failed: removes the layers and blobs it stored that no image references
 * (another image may have been recorded with them meanwhile; those stay).
 */
export function discardUnreferenced(db: Db, paths: StorePaths, stored: ImageContent): void {
  db.transaction(() => collect(db, paths, [stored])).immediate().finish();
}

/** After a failure: the layers and blobs given go unless an image names them; never throws (the failure is what matters). */
export function discardQuietly(context: Context, layers: ReadonlyArray<{ readonly chainId: string; readonly digest: string }>): void {
  if (layers.length === 0) return;
  try {
    discardUnreferenced(context.db(), context.paths, { layers: layers.map((layer) => layer.chainId), blobs: layers.map((layer) => layer.digest) });
  } catch {
    // Left as they are: complete, verified content that a later pull reuses.
  }
}

/**
 * The layers and blobs of `doomed` that no image row references any more: their layer rows
 * are deleted, and their directories and blob files renamed to trash-<random> names, inside
 * the caller's immediate transaction. A reader then never sees a layer row without its
 * directory or a half-deleted one, and storeImage (which checks under the same lock) never
 * records an image whose content is going. Removing the trash is `finish`, after the commit.
 */
export function collect(db: Db, paths: StorePaths, doomed: readonly ImageContent[]): Collected {
  const remaining = db.prepare('SELECT id, manifest_digest, layers FROM images').all() as ContentRow[];
  const freed = unreferenced(doomed, [...remaining.map((row) => imageContent(paths, row)), ...cachedContent(db)]);

  const size = db.prepare('SELECT size FROM layers WHERE chain_id = ?').pluck();
  const reclaimed = freed.layers.reduce((total, layer) => total + ((size.get(layer) as number | undefined) ?? 0), 0);
  const deleteLayer = db.prepare('DELETE FROM layers WHERE chain_id = ?');
  for (const layer of freed.layers) deleteLayer.run(layer);
  // Blob files go to trash beside blobs/sha256, where no listing of blobs sees them.
  const trash = moveToTrash([
    ...freed.layers.map((layer): Move => [join(paths.layers, layer.slice('sha256:'.length)), paths.layers]),
    ...freed.blobs.map((blob): Move => [blobPath(paths, blob), dirname(paths.blobs)]),
  ]);
  for (const layer of freed.layers) rmSync(join(paths.layers, layerLink(layer)), { force: true });

  return {
    layers: freed.layers,
    reclaimed,
    finish() {
      for (const path of trash) {
        try {
          rmSync(path, { recursive: true, force: true, maxRetries: 5 });
        } catch {
          // What is left is unreferenced: trash-* entries go at the next system prune.
        }
      }
    },
  };
}

/** A path, and the directory where it becomes trash-<random>. */
type Move = [from: string, trashDir: string];

/**
 * Renames each path to a trash-<random> name. A path already gone is skipped; any other failure
 * puts back what was moved and throws, so the transaction rolls back with the disk unchanged.
 */
function moveToTrash(moves: readonly Move[]): string[] {
  const moved: Array<[from: string, to: string]> = [];
  try {
    for (const [from, trashDir] of moves) {
      const to = join(trashDir, `trash-${randomBytes(8).toString('hex')}`);
      try {
        renameSync(from, to);
        moved.push([from, to]);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
    }
  } catch (err) {
    for (const [from, to] of moved.reverse()) renameSync(to, from);
    throw err;
  }
  return moved.map(([, to]) => to);
}
