import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hasBlob } from '../../image/content-store.js';
import { insertLayerRows, layerDir, type ImageRecord, type StoredLayer } from '../../image/image-store.js';
import type { ImageConfig } from '../../image/oci-image.js';
import type { Db } from '../../store/database.js';
import type { StorePaths } from '../../store/paths.js';
import type { Context } from '../context.js';
import { cacheEntryContent, collect } from '../image-gc.js';

/**
 * The build cache: what the root filesystem and config are after each build step, keyed by
 * what came before and what the step is (Docker's rule: parent + instruction + the checksum
 * of what COPY/ADD read). Steps are not images here: the cache holds their config and layers,
 * and garbage collection keeps those layers as it keeps an image's (image-gc.ts).
 */

/** A stage's image as it stands after some step. */
export interface BuildState {
  /** The base image's ID, then a hash of the previous key and each step. */
  readonly key: string;
  readonly config: ImageConfig;
  readonly layers: readonly StoredLayer[];
}

/** The key of the state a step leads to: `descriptor` holds everything the step's result depends on besides its parent. */
export function stepKey(parent: string, descriptor: unknown): string {
  return `sha256:${createHash('sha256').update(JSON.stringify([parent, descriptor])).digest('hex')}`;
}

/** A step's cached result, if its layers are all still stored; marks it used. */
export function cachedState(db: Db, paths: StorePaths, key: string): BuildState | undefined {
  const row = db.prepare('SELECT config, layers FROM build_cache WHERE key = ?').get(key) as { config: string; layers: string } | undefined;
  if (row === undefined) return undefined;
  const layers = JSON.parse(row.layers) as StoredLayer[];
  if (!layers.every((layer) => existsSync(layerDir(paths, layer.chainId)) && hasBlob(paths, layer.digest))) return undefined;
  db.prepare('UPDATE build_cache SET last_used = ? WHERE key = ?').run(new Date().toISOString(), key);
  return { key, config: JSON.parse(row.config) as ImageConfig, layers };
}

/** Records a step's result; its layers must be stored (checked under the write lock, as storeImage does). */
export function recordState(db: Db, paths: StorePaths, state: BuildState): void {
  db.transaction(() => {
    for (const layer of state.layers) {
      if (!existsSync(layerDir(paths, layer.chainId))) throw new Error(`layer ${layer.chainId} was removed while the build used it`);
    }
    // Rows as storeImage writes them, so that collection finds their sizes.
    insertLayerRows(db, state.layers);
    const now = new Date().toISOString();
    db.prepare(
      `INSERT INTO build_cache (key, config, layers, created, last_used) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET config = excluded.config, layers = excluded.layers, created = excluded.created, last_used = excluded.last_used`,
    ).run(state.key, JSON.stringify(state.config), JSON.stringify(state.layers), now, now);
  }).immediate();
}

/** A state as createContainer takes an image: containers of RUN and COPY steps start from it. */
export function stateImage(paths: StorePaths, state: BuildState): ImageRecord {
  const chainIds = state.layers.map((layer) => layer.chainId);
  return {
    id: `sha256:${createHash('sha256').update(JSON.stringify(state.config)).digest('hex')}`,
    config: state.config,
    layerDirs: chainIds.map((chainId) => layerDir(paths, chainId)),
    created: state.config.created ?? new Date(0).toISOString(),
    size: state.layers.reduce((total, layer) => total + layer.size, 0),
    references: [],
    repoDigests: [],
    manifestDigest: '',
    chainIds,
  };
}

/**
 * `builder prune`: forgets cached steps (all, or those last used before `until`, ms since the
 * epoch) and removes the layers that no image and no remaining entry holds. Returns the
 * entries that went (their keys' hex, as Docker's cache record IDs) and the bytes of the layers removed.
 */
export function pruneBuildCache(context: Context, until?: number): { entries: string[]; reclaimed: number } {
  const db = context.db();
  const { entries, collected } = db
    .transaction(() => {
      const rows = db.prepare('SELECT key, layers, last_used FROM build_cache').all() as Array<{ key: string; layers: string; last_used: string }>;
      const doomed = rows.filter((row) => until === undefined || Date.parse(row.last_used) < until);
      const remove = db.prepare('DELETE FROM build_cache WHERE key = ?');
      for (const row of doomed) remove.run(row.key);
      return { entries: doomed.map((row) => row.key.slice('sha256:'.length, 'sha256:'.length + 25)), collected: collect(db, context.paths, doomed.map((row) => cacheEntryContent(row.layers))) };
    })
    .immediate();
  collected.finish();
  return { entries, reclaimed: collected.reclaimed };
}
