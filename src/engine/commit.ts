import { join } from 'node:path';
import { applyChanges } from '../image/changes.js';
import { createBlobWriter } from '../image/content-store.js';
import { findImage, imageLayers, storeImage, type StoredLayer } from '../image/image-store.js';
import { packLayer } from '../image/layer-pack.js';
import { unpackLayer } from '../image/layer-unpack.js';
import { MEDIA_TYPE_LAYER_TAR, type ImageConfig, type ImageHistory, type ImageRunConfig } from '../image/oci-image.js';
import { parseReference } from '../image/reference.js';
import { openBundleCgroup, readBundle } from '../runtime/runtime.js';
import { WhaleboxError } from '../util/errors.js';
import { bundleDir, parseConfig, refreshContainer, resolveContainer } from './containers.js';
import type { Context } from './context.js';
import type { ContainerConfig } from './container-config.js';
import { rfc3339 } from './images.js';

export interface CommitOptions {
  readonly author?: string;
  readonly message?: string;
  /** Dockerfile instructions applied to the new image's config (`--change`). */
  readonly changes?: readonly string[];
  /** Freeze a running container while its layer is read (Docker's default). */
  readonly pause?: boolean;
}

/** sha256 of an empty tar (1024 zero bytes): a container that changed nothing adds no layer. */
export const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

/**
 * `docker commit`: the container's upper dir becomes a new layer on top of its image's layers
 * (deleted files as whiteouts), and its configuration the new image's, with `changes` applied.
 * Returns the new image ID.
 */
export async function commitContainer(
  context: Context,
  container: string,
  reference: string | undefined,
  options: CommitOptions = {},
): Promise<string> {
  const ref = reference === undefined ? undefined : parseReference(reference);
  if (ref?.digest !== undefined) throw new WhaleboxError('cannot commit to a digest reference', 1);
  const row = await refreshContainer(context, resolveContainer(context, container));
  const { paths } = context;
  const image = findImage(context.db(), paths, row.imageId);
  if (image === undefined) throw new WhaleboxError(`the image ${row.imageId} of container ${row.name} is gone`, 1);
  const config = parseConfig(row);
  const runConfig = applyChanges(containerRunConfig(config, image.config.config ?? {}), options.changes ?? []);

  const dir = bundleDir(context, row.id);
  const bundle = readBundle(row.id, dir);
  const freeze = row.status === 'running' && options.pause !== false && bundle !== undefined;
  const cgroup = freeze ? openBundleCgroup(bundle) : undefined;
  await cgroup?.freeze();
  let layer: StoredLayer;
  try {
    layer = await storeUpperLayer(context, join(dir, 'diff'), image.chainIds[image.chainIds.length - 1]);
  } finally {
    await cgroup?.thaw();
  }

  const created = rfc3339(new Date());
  const empty = layer.diffId === EMPTY_LAYER_DIFF_ID;
  const history: ImageHistory = {
    created,
    created_by: [...(config.entrypoint ? [config.entrypoint] : []), ...(config.cmd ?? image.config.config?.Cmd ?? [])].join(' '),
    ...(options.author ? { author: options.author } : {}),
    ...(options.message ? { comment: options.message } : {}),
    ...(empty ? { empty_layer: true } : {}),
  };
  const newConfig: ImageConfig = {
    created,
    ...(options.author ? { author: options.author } : {}),
    architecture: image.config.architecture,
    os: image.config.os,
    ...(image.config.variant ? { variant: image.config.variant } : {}),
    config: runConfig,
    rootfs: { type: 'layers', diff_ids: [...image.config.rootfs.diff_ids, ...(empty ? [] : [layer.diffId])] },
    history: [...(image.config.history ?? []), history],
  };
  const base = imageLayers(context.db(), paths, image);
  return storeImage(context.db(), paths, newConfig, empty ? base : [...base, layer], { references: ref ? [ref] : [] });
}

/** Packs the upper dir into a tar that is stored as a blob and unpacked as the new layer. */
export async function storeUpperLayer(context: Context, upper: string, parent: string | undefined): Promise<StoredLayer> {
  const blob = createBlobWriter(context.paths);
  const unpacked = await unpackLayer(packLayer(upper), context.paths.layers, {
    ...(parent ? { parent } : {}),
    tee: (chunk) => blob.write(chunk),
  }).catch((err: unknown) => {
    blob.abort();
    throw err;
  });
  // Stored uncompressed, as Docker's own layers: the blob digest is the diff ID.
  const { digest, size: blobSize } = blob.commit(unpacked.diffId);
  return {
    chainId: unpacked.chainId,
    diffId: unpacked.diffId,
    ...(parent ? { parent } : {}),
    size: unpacked.size,
    mediaType: MEDIA_TYPE_LAYER_TAR,
    digest,
    blobSize,
  };
}

/** The container's effective configuration, as Docker commits it: its own settings over the image's. */
function containerRunConfig(config: ContainerConfig, image: ImageRunConfig): ImageRunConfig {
  const env = new Map<string, string>();
  for (const entry of [...(image.Env ?? []), ...config.env]) env.set(entry.split('=', 1)[0]!, entry);
  const entrypoint = config.entrypoint === undefined ? image.Entrypoint : config.entrypoint === '' ? undefined : [config.entrypoint];
  const cmd = config.cmd?.length ? config.cmd : config.entrypoint === undefined ? image.Cmd : undefined;
  const labels = { ...image.Labels, ...config.labels };
  const result: ImageRunConfig = { ...image, Env: [...env.values()] };
  for (const [key, value] of [
    ['Entrypoint', entrypoint],
    ['Cmd', cmd],
    ['WorkingDir', config.workdir || image.WorkingDir],
    ['User', config.user || image.User],
    ['Labels', Object.keys(labels).length ? labels : undefined],
    ['StopSignal', config.stopSignal ?? image.StopSignal],
  ] as const) {
    if (value === undefined || value === '') delete result[key];
    else (result as Record<string, unknown>)[key] = value;
  }
  return result;
}
