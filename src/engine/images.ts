import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { applyChanges } from '../image/changes.js';
import { createBlobWriter } from '../image/content-store.js';
import { listImages as listStoredImages, storeImage, type ImageSummary } from '../image/image-store.js';
import { unpackLayer } from '../image/layer-unpack.js';
import { goArchitecture, MEDIA_TYPE_LAYER_TAR, type ImageConfig } from '../image/oci-image.js';
import { parseNormalized, parseReference, repositoryName } from '../image/reference.js';
import { errnoCode, WhaleboxError } from '../util/errors.js';
import type { Context } from './context.js';

export interface ImportOptions {
  /** Dockerfile instructions applied to the image config (`import --change`). */
  readonly changes?: readonly string[];
  /** The history comment (`import --message`). */
  readonly message?: string;
}

/**
 * `docker import`: makes a single-layer image from a root filesystem tar (plain or gzip) read
 * from a file or, for '-', from stdin, and tags it as `reference` when given. Returns the image ID.
 *
 * Unlike Docker, which stamps the import time, the image's `created` is the newest mtime in the
 * tar: the config, and so the image ID, then depend only on the content and the options, and
 * importing the same tar twice gives the same image instead of a second copy.
 */
export async function importImage(
  context: Context,
  source: string,
  reference?: string,
  options: ImportOptions = {},
): Promise<string> {
  // Everything that can be checked before reading the input is, so that a typo costs nothing.
  const ref = reference === undefined ? undefined : parseReference(reference);
  if (ref?.digest !== undefined) throw new WhaleboxError('cannot import digest reference');
  const runConfig = applyChanges({}, options.changes ?? []);
  const { paths } = context;
  const db = context.db();

  const input = openSource(source);
  const blob = createBlobWriter(paths);
  const layer = await unpackLayer(input, paths.layers, { tee: (chunk) => blob.write(chunk) }).catch((err: unknown) => {
    blob.abort();
    throw err;
  });
  // The layer is stored as the uncompressed tar, so its blob digest is its diff ID.
  const { digest, size: blobSize } = blob.commit(layer.diffId);

  const created = rfc3339(layer.newestMtime);
  const config: ImageConfig = {
    created,
    architecture: goArchitecture(),
    os: 'linux',
    ...(Object.keys(runConfig).length > 0 ? { config: runConfig } : {}),
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    history: [{ created, comment: options.message || 'Imported from -' }],
  };
  return storeImage(
    db,
    paths,
    config,
    [{ ...layer, mediaType: MEDIA_TYPE_LAYER_TAR, digest, blobSize }],
    { references: ref === undefined ? [] : [ref] },
  );
}

/** The input of `import` and `load`: a file, or stdin for '-'. */
export function openSource(source: string): Readable {
  if (source === '-') return process.stdin;
  // Checked here for Docker's message; a stream's open error would surface mid-unpack.
  let directory: boolean;
  try {
    directory = statSync(source).isDirectory();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new WhaleboxError(`open ${source}: no such file or directory`);
    throw err;
  }
  if (directory) throw new WhaleboxError(`read ${source}: is a directory`);
  return createReadStream(source);
}

/** Go's RFC3339Nano, as Docker writes times: no fractional part when it is zero. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.?0+Z$/, 'Z');
}

/**
 * Images, newest first; with `repository` (`busybox`, `busybox:1.36`) only the references of
 * that repository, and that tag if given, as `docker images REPOSITORY[:TAG]` (no dangling images).
 */
export function listImages(context: Context, repository?: string): ImageSummary[] {
  const images = listStoredImages(context.db());
  if (repository === undefined) return images;
  const wanted = parseNormalized(repository);
  const matches = (reference: string): boolean => {
    const ref = parseReference(reference);
    return repositoryName(ref) === repositoryName(wanted) && (wanted.tag === undefined || ref.tag === wanted.tag);
  };
  return images
    .map((image) => ({ ...image, references: image.references.filter(matches) }))
    .filter((image) => image.references.length > 0);
}
