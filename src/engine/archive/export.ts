import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { findImage } from '../../image/image-store.js';
import { packMerged } from '../../image/layer-pack.js';
import { WhaleboxError } from '../../util/errors.js';
import { bundleDir, resolveContainer } from '../containers.js';
import type { Context } from '../context.js';

/**
 * `docker export`: a container's root filesystem (its writable layer over its image's layers,
 * deletions applied) as a tar stream. Like Docker's, it holds no volumes or bind mounts.
 */
export function exportContainer(context: Context, reference: string): Readable {
  const row = resolveContainer(context, reference);
  const image = findImage(context.db(), context.paths, row.imageId);
  if (!image) throw new WhaleboxError(`cannot export container ${reference}: its image ${row.imageId} is gone`, 1);
  return packMerged([join(bundleDir(context, row.id), 'diff'), ...[...image.layerDirs].reverse()]);
}
