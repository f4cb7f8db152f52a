import { createReadStream } from 'node:fs';
import { hasBlob, readBlob } from '../image/content-store.js';
import { findImage } from '../image/image-store.js';
import { parseManifest } from '../image/manifest.js';
import type { Descriptor } from '../image/oci-image.js';
import { familiarString, referenceString, repositoryName, type ImageReference } from '../image/reference.js';
import { RegistryClient } from '../image/registry/client.js';
import { blobPath } from '../store/paths.js';
import { WhaleboxError } from '../util/errors.js';
import type { Context } from './context.js';
import { shortDigest } from './pull.js';
import { runLimited } from './run-limited.js';

export type PushEvent = { id: string; status: 'Preparing' | 'Waiting' | 'Layer already exists' | 'Pushed' | `Mounted from ${string}` };

export interface PushResult {
  readonly tag: string;
  readonly digest: string;
  readonly size: number;
}

/** Layers uploaded at once, as Docker's default max-concurrent-uploads. */
const CONCURRENT_UPLOADS = 5;

/**
 * `docker push`: sends the blobs the registry lacks (mounting them from another repository of
 * the same registry when one of ours already holds them), then the manifest, byte for byte as
 * stored, so a pulled image keeps its digest. Records the digest as a repo digest of the image.
 */
export async function pushImage(context: Context, ref: ImageReference, onEvent?: (event: PushEvent) => void): Promise<PushResult> {
  const { paths } = context;
  const image = findImage(context.db(), paths, familiarString(ref));
  if (image === undefined || !image.references.includes(referenceString(ref))) {
    throw new WhaleboxError(`An image does not exist locally with the tag: ${familiarString({ ...ref, tag: undefined })}`, 1);
  }
  const manifestBytes = readBlob(paths, image.manifestDigest);
  const manifest = parseManifest(manifestBytes, '');
  if (manifest.kind !== 'image') throw new Error(`the manifest of ${image.id} is an index`);
  const mediaType = (JSON.parse(manifestBytes.toString('utf8')) as { mediaType?: string }).mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
  const client = new RegistryClient(ref.domain, { insecureRegistries: context.insecureRegistries });
  const sources = mountSources(context, ref, image.chainIds);

  for (const layer of manifest.layers) onEvent?.({ id: shortDigest(layer.digest), status: 'Preparing' });
  await runLimited(
    [...manifest.layers, manifest.config].map((blob) => async () => {
      const status = await pushBlob(context, client, ref.path, blob, sources);
      if (blob !== manifest.config) onEvent?.({ id: shortDigest(blob.digest), status });
    }),
    CONCURRENT_UPLOADS,
  );
  const digest = await client.putManifest(ref.path, ref.tag!, mediaType, manifestBytes);
  context
    .db()
    .prepare('INSERT INTO repo_digests (repository, digest, image_id) VALUES (?, ?, ?) ON CONFLICT (repository, digest) DO UPDATE SET image_id = excluded.image_id')
    .run(repositoryName(ref), digest, image.id);
  return { tag: ref.tag!, digest, size: manifestBytes.length };
}

async function pushBlob(
  context: Context,
  client: RegistryClient,
  repository: string,
  blob: Descriptor,
  sources: readonly string[],
): Promise<PushEvent['status']> {
  if (await client.blobExists(repository, blob.digest)) return 'Layer already exists';
  for (const from of sources) {
    if (await client.mountBlob(repository, blob.digest, from)) return `Mounted from ${from}`;
  }
  if (!hasBlob(context.paths, blob.digest)) {
    throw new WhaleboxError(`blob ${blob.digest} is not in the content store; pull or build the image again`, 1);
  }
  const path = blobPath(context.paths, blob.digest);
  await client.uploadBlob(repository, blob.digest, blob.size, () => createReadStream(path));
  return 'Pushed';
}

/** Candidates for a cross-repository mount: other repositories of the same registry holding images that share a layer with this one (at most three: each miss costs a request). */
function mountSources(context: Context, ref: ImageReference, chainIds: readonly string[]): string[] {
  const prefix = `${ref.domain}/`;
  const rows = context
    .db()
    .prepare('SELECT DISTINCT repository, layers FROM repo_digests JOIN images ON images.id = repo_digests.image_id WHERE substr(repository, 1, ?) = ?')
    .all(prefix.length, prefix) as Array<{ repository: string; layers: string }>;
  const ours = new Set(chainIds);
  const sources = rows
    .filter((row) => (JSON.parse(row.layers) as string[]).some((chainId) => ours.has(chainId)))
    .map((row) => row.repository.slice(prefix.length))
    .filter((path) => path !== ref.path);
  return [...new Set(sources)].slice(0, 3);
}
