import { existsSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createBlobWriter, hasBlob, type BlobWriter } from '../../image/content-store.js';
import { layerDir, storeImage, type StoredLayer } from '../../image/image-store.js';
import { unpackLayer } from '../../image/layer-unpack.js';
import { MEDIA_TYPE_LAYER_TAR, type ImageConfig } from '../../image/oci-image.js';
import type { ImageReference } from '../../image/reference.js';
import { blobPath } from '../../store/paths.js';
import { WhaleboxError } from '../../util/errors.js';
import type { Context } from '../context.js';
import { discardQuietly } from '../image-gc.js';
import { chainIdsOf } from '../pull.js';
import { ArchiveDir, invalid, parseJson } from './archive-dir.js';
import { archiveImages, type ArchiveImage } from './archive-images.js';

export interface LoadedImage {
  readonly id: string;
  readonly references: readonly ImageReference[];
}

/**
 * `docker load`: the images of a docker-archive or an OCI image layout read from `input`,
 * each stored as soon as all its layers are, then reported to `onLoaded`. Every file the
 * archive's manifests name is looked for before anything is stored, every blob named by its
 * digest is checked against it, and every layer against the config's diff ID: an image that
 * fails leaves neither its layers nor its blobs behind.
 */
export async function loadImages(context: Context, input: Readable, onLoaded: (image: LoadedImage) => void): Promise<void> {
  const archive = await ArchiveDir.extract(input, context.paths.root);
  try {
    const images = archiveImages(archive);
    for (const image of images) for (const file of [image.config, ...image.layers]) archive.require(file);
    for (const image of images) onLoaded(await loadImage(context, archive, image));
  } finally {
    archive.remove();
  }
}

async function loadImage(context: Context, archive: ArchiveDir, image: ArchiveImage): Promise<LoadedImage> {
  const { paths } = context;
  const db = context.db();
  const configBytes = archive.read(image.config);
  const config = imageConfig(parseJson(configBytes, image.config.what), image.config.what);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== image.layers.length) {
    throw invalid(`${image.config.what} lists ${diffIds.length} layers, the manifest ${image.layers.length}`);
  }
  const chainIds = chainIdsOf(diffIds);
  const blobs: Array<{ writer: BlobWriter; diffId: string }> = [];
  const unpacked: Array<{ chainId: string; digest: string }> = [];
  try {
    const layers: StoredLayer[] = [];
    for (const [i, file] of image.layers.entries()) {
      const diffId = diffIds[i]!;
      const chainId = chainIds[i]!;
      const parent = chainIds[i - 1];
      const common = { chainId, diffId, ...(parent ? { parent } : {}), mediaType: MEDIA_TYPE_LAYER_TAR, digest: diffId };
      const row = db.prepare('SELECT size FROM layers WHERE chain_id = ?').get(chainId) as { size: number } | undefined;
      if (row && existsSync(layerDir(paths, chainId)) && hasBlob(paths, diffId)) {
        layers.push({ ...common, size: row.size, blobSize: statSync(blobPath(paths, diffId)).size });
        continue;
      }
      await archive.check(file);
      // The layer is stored as its uncompressed tar, whose digest is the diff ID.
      const writer = createBlobWriter(paths);
      blobs.push({ writer, diffId });
      let blobSize = 0;
      const tee = (chunk: Buffer): void => {
        blobSize += chunk.length;
        writer.write(chunk);
      };
      const layer = await unpackLayer(archive.stream(file), paths.layers, { ...(parent ? { parent } : {}), tee, expectedDiffId: diffId }).catch((err: Error) => {
        throw new WhaleboxError(`${file.what}: ${err.message}`, 1);
      });
      unpacked.push({ chainId: layer.chainId, digest: diffId });
      layers.push({ ...common, size: layer.size, blobSize });
    }
    for (const { writer, diffId } of blobs) writer.commit(diffId);
    // The config's own bytes, whatever their JSON spacing and escapes: their digest is the image ID.
    return { id: storeImage(db, paths, config, layers, { configBytes, references: image.references }), references: image.references };
  } catch (err) {
    for (const { writer } of blobs) writer.abort();
    // Layers (and their blobs, if committed) that no image names go; shared ones stay.
    discardQuietly(context, unpacked);
    throw err;
  }
}

function imageConfig(value: unknown, what: string): ImageConfig {
  const config = value as Partial<ImageConfig> | null;
  const diffIds = config?.rootfs?.diff_ids;
  if (typeof config?.architecture !== 'string' || typeof config.os !== 'string' || !Array.isArray(diffIds)) {
    throw invalid(`${what} is not an image config (architecture, os and rootfs.diff_ids)`);
  }
  const bad = diffIds.find((diffId) => typeof diffId !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(diffId));
  if (bad !== undefined) throw invalid(`${what} has an invalid diff ID ${JSON.stringify(bad)}`);
  return config as ImageConfig;
}
