import { cachedContent } from './image-gc.js';
import { join } from 'node:path';
import { listImages, type ImageSummary } from '../image/image-store.js';
import type { ContainerRow } from '../store/containers.js';
import { bundleDir, containerTable, refreshContainer } from './containers.js';
import { treeSize } from './container-view.js';
import type { Context } from './context.js';

export interface ImageUsage extends ImageSummary {
  /** Bytes of its layers that other images use too. */
  readonly sharedSize: number;
  /** How many containers (any state) use it. */
  readonly containers: number;
}

export interface ContainerUsage {
  readonly row: ContainerRow;
  /** Bytes of its writable layer. */
  readonly sizeRw: number;
  /** Running or paused: its layer cannot be reclaimed. */
  readonly active: boolean;
}

export interface DiskUsage {
  readonly images: ImageUsage[];
  /** Bytes of all layers, each counted once however many images share it. */
  readonly layersSize: number;
  /** Bytes of the layers that no image in use by a container needs. */
  readonly imagesReclaimable: number;
  readonly containers: ContainerUsage[];
  /** Build cache entries, and the bytes of the layers only they hold (what `builder prune` frees). */
  readonly buildCache: { readonly entries: number; readonly size: number };
}

/** `docker system df`: what images and containers hold on disk, and what prune could free. */
export async function diskUsage(context: Context): Promise<DiskUsage> {
  const db = context.db();
  const containers: ContainerUsage[] = [];
  for (const stored of containerTable(context).list()) {
    const row = await refreshContainer(context, stored);
    const active = row.status === 'running' || row.status === 'paused';
    containers.push({ row, sizeRw: treeSize(join(bundleDir(context, row.id), 'diff')), active });
  }
  const layerSizes = new Map(
    (db.prepare('SELECT chain_id, size FROM layers').all() as Array<{ chain_id: string; size: number }>).map((row) => [row.chain_id, row.size]),
  );
  const summaries = listImages(db);
  const users = new Map<string, number>();
  for (const { row } of containers) users.set(row.imageId, (users.get(row.imageId) ?? 0) + 1);
  const layerImages = new Map<string, number>();
  for (const image of summaries) for (const layer of image.chainIds) layerImages.set(layer, (layerImages.get(layer) ?? 0) + 1);

  const sizeOf = (layers: Iterable<string>): number => [...new Set(layers)].reduce((total, layer) => total + (layerSizes.get(layer) ?? 0), 0);
  const images = summaries.map((image) => ({
    ...image,
    sharedSize: sizeOf(image.chainIds.filter((layer) => layerImages.get(layer)! > 1)),
    containers: users.get(image.id) ?? 0,
  }));
  const layersSize = sizeOf(layerImages.keys());
  const inUse = sizeOf(images.filter((image) => image.containers > 0).flatMap((image) => image.chainIds));
  const cached = cachedContent(db);
  const buildCache = { entries: cached.length, size: sizeOf(cached.flatMap((entry) => entry.layers).filter((layer) => !layerImages.has(layer))) };
  return { images, layersSize, imagesReclaimable: layersSize - inUse, containers, buildCache };
}
