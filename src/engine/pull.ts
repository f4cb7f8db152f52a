import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Transform } from 'node:stream';
import { createBlobWriter, hasBlob } from '../image/content-store.js';
import { findImage, layerDir, storeImage, type StoredLayer } from '../image/image-store.js';
import { unpackLayer } from '../image/layer-unpack.js';
import { MANIFEST_ACCEPT, parseManifest, parsePlatform, selectPlatform } from '../image/manifest.js';
import type { Descriptor, ImageConfig } from '../image/oci-image.js';
import { familiarString, repositoryName, type ImageReference } from '../image/reference.js';
import { RegistryClient } from '../image/registry/client.js';
import { discardQuietly } from './image-gc.js';
import { WhaleboxError } from '../util/errors.js';
import type { Context } from './context.js';
import { runLimited } from './run-limited.js';

/** What a pull reports as it goes, one event per change of a layer's state (as `docker pull`). */
export type PullEvent =
  | { kind: 'resolved' }
  | { kind: 'layer'; id: string; status: 'Already exists' | 'Pulling fs layer' | 'Waiting' | 'Download complete' | 'Pull complete' }
  | { kind: 'progress'; id: string; current: number; total: number };

export interface PullOptions {
  /** `os/arch[/variant]`; the host's when absent. */
  readonly platform?: string;
  readonly onEvent?: (event: PullEvent) => void;
}

export interface PullResult {
  readonly id: string;
  /** The manifest (or index) digest the reference resolved to. */
  readonly digest: string;
  /** False when the image was already stored complete. */
  readonly downloaded: boolean;
}

/** Layers downloaded at once, as Docker's default max-concurrent-downloads. */
const CONCURRENT_DOWNLOADS = 3;
const CONFIG_SIZE_MAX = 8 << 20;

/**
 * `docker pull`: resolves the reference to a manifest (choosing the platform in an index),
 * stores the config, then downloads the missing layers concurrently, each streamed at once into
 * the content store (its blob, verified against the manifest's digest) and unpacked (its tar,
 * verified against the config's diff ID). Nothing is recorded until every layer is in place.
 */
export async function pullImage(context: Context, ref: ImageReference, options: PullOptions = {}): Promise<PullResult> {
  const { paths } = context;
  const client = new RegistryClient(ref.domain, { insecureRegistries: context.insecureRegistries });
  const repository = ref.path;
  const top = await client.getManifest(repository, ref.digest ?? ref.tag ?? 'latest', MANIFEST_ACCEPT);
  let manifest = top;
  let parsed = parseManifest(top.bytes, top.mediaType);
  if (parsed.kind === 'index') {
    const entry = selectPlatform(parsed.manifests, parsePlatform(options.platform), familiarString(ref));
    manifest = await client.getManifest(repository, entry.digest, MANIFEST_ACCEPT);
    parsed = parseManifest(manifest.bytes, manifest.mediaType);
    if (parsed.kind === 'index') throw new WhaleboxError(`${familiarString(ref)}: nested image indexes are not supported`, 1);
  }
  const { config: configDescriptor, layers } = parsed;
  options.onEvent?.({ kind: 'resolved' });
  const configBytes = await fetchConfig(client, repository, configDescriptor);
  const config = parseConfig(configBytes, configDescriptor.digest);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (!Array.isArray(diffIds) || diffIds.length !== layers.length) {
    throw new WhaleboxError(`invalid image ${familiarString(ref)}: the config lists ${diffIds.length} layers, the manifest ${layers.length}`, 1);
  }
  if (options.platform !== undefined) {
    const wanted = parsePlatform(options.platform);
    if (config.os !== wanted.os || config.architecture !== wanted.architecture) {
      throw new WhaleboxError(`image ${familiarString(ref)} is ${config.os}/${config.architecture}, not the requested ${options.platform}`, 1);
    }
  }

  const chainIds = chainIdsOf(diffIds);
  const existing = findImage(context.db(), paths, configDescriptor.digest);
  // Every layer's line first, as docker pull: stored, being pulled, or waiting its turn.
  const present = layers.map((descriptor, i) => storedLayerSize(context, descriptor, chainIds[i]!));
  let queued = 0;
  layers.forEach((descriptor, i) => {
    const status = present[i] !== undefined ? 'Already exists' : queued++ < CONCURRENT_DOWNLOADS ? 'Pulling fs layer' : 'Waiting';
    options.onEvent?.({ kind: 'layer', id: shortDigest(descriptor.digest), status });
  });
  // What this pull stored, to take back if it fails: complete layers no image would name.
  const fetched: StoredLayer[] = [];
  try {
    const stored = await runLimited(
      layers.map((descriptor, i) => {
        const common = { chainId: chainIds[i]!, diffId: diffIds[i]!, ...(i > 0 ? { parent: chainIds[i - 1]! } : {}), mediaType: descriptor.mediaType, digest: descriptor.digest, blobSize: descriptor.size };
        const size = present[i];
        if (size !== undefined) return async () => ({ ...common, size });
        return async (signal: AbortSignal) => {
          const layer = await downloadLayer(context, client, repository, descriptor, common, signal, options.onEvent);
          fetched.push(layer);
          return layer;
        };
      }),
      CONCURRENT_DOWNLOADS,
    );
    const id = storeImage(context.db(), paths, config, stored, {
      references: ref.tag !== undefined ? [ref] : [],
      manifest: manifest.bytes,
      configBytes,
      repoDigests: [{ repository: repositoryName(ref), digest: top.digest }],
    });
    if (id !== configDescriptor.digest) throw new Error(`image ID ${id} differs from the config digest ${configDescriptor.digest}`);
    return { id, digest: top.digest, downloaded: fetched.length > 0 || existing === undefined };
  } catch (err) {
    discardQuietly(context, fetched);
    throw err;
  }
}


/** The config blob, verified; stored only with the image, when every layer is in place. */
async function fetchConfig(client: RegistryClient, repository: string, descriptor: Descriptor): Promise<Buffer> {
  if (descriptor.size > CONFIG_SIZE_MAX) throw new WhaleboxError(`image config of ${descriptor.size} bytes is too large`, 1);
  const { stream } = await client.fetchBlob(repository, descriptor.digest);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > CONFIG_SIZE_MAX) throw new WhaleboxError('image config is too large', 1);
    chunks.push(chunk as Buffer);
  }
  const bytes = Buffer.concat(chunks);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (digest !== descriptor.digest) throw new WhaleboxError(`image config verification failed for digest ${descriptor.digest}: got ${digest}`, 1);
  return bytes;
}

function parseConfig(bytes: Buffer, digest: string): ImageConfig {
  try {
    const config = JSON.parse(bytes.toString('utf8')) as ImageConfig;
    if (typeof config === 'object' && config !== null) return config;
  } catch {
    // reported below
  }
  throw new WhaleboxError(`invalid image config ${digest}: not a JSON object`, 1);
}

/** Chain IDs as the image spec defines them: the base's diff ID, then sha256("<parent chain> <diff>"). */
export function chainIdsOf(diffIds: readonly string[]): string[] {
  const chain: string[] = [];
  for (const diffId of diffIds) {
    const parent = chain[chain.length - 1];
    chain.push(parent === undefined ? diffId : `sha256:${createHash('sha256').update(`${parent} ${diffId}`).digest('hex')}`);
  }
  return chain;
}

/** `a1b2c3d4e5f6`: how `docker pull` names a layer in its progress lines. */
export function shortDigest(digest: string): string {
  return digest.slice('sha256:'.length, 'sha256:'.length + 12);
}

/** The unpacked size of a layer already stored whole (row, directory and this manifest's blob), else undefined. */
function storedLayerSize(context: Context, descriptor: Descriptor, chainId: string): number | undefined {
  const row = context.db().prepare('SELECT size FROM layers WHERE chain_id = ?').get(chainId) as { size: number } | undefined;
  const whole = row !== undefined && existsSync(layerDir(context.paths, chainId)) && hasBlob(context.paths, descriptor.digest);
  return whole ? row.size : undefined;
}

async function downloadLayer(
  context: Context,
  client: RegistryClient,
  repository: string,
  descriptor: Descriptor,
  common: Omit<StoredLayer, 'size'>,
  signal: AbortSignal,
  onEvent: PullOptions['onEvent'],
): Promise<StoredLayer> {
  const { paths } = context;
  const { parent, diffId } = common;
  const id = shortDigest(descriptor.digest);
  const blob = createBlobWriter(paths);
  // Lazy: no request goes out until the unpacker reads, after the abort listener is in place.
  const stream = client.blobStream(repository, descriptor.digest);
  const hash = createHash('sha256');
  let received = 0;
  // The compressed bytes: counted, hashed and stored as they pass. A digest mismatch fails the
  // stream before the tar's end reaches the unpacker, so the layer is never put in place.
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        hash.update(chunk);
        blob.write(chunk);
        received += chunk.length;
        if (received > descriptor.size) throw new WhaleboxError(`layer ${descriptor.digest} is larger than the manifest says (${descriptor.size} bytes)`, 1);
        onEvent?.({ kind: 'progress', id, current: received, total: descriptor.size });
        callback(null, chunk);
      } catch (err) {
        callback(err as Error);
      }
    },
    flush(callback) {
      const digest = `sha256:${hash.digest('hex')}`;
      if (digest !== descriptor.digest) {
        callback(new WhaleboxError(`filesystem layer verification failed for digest ${descriptor.digest}: got ${digest}`, 1));
      } else {
        onEvent?.({ kind: 'layer', id, status: 'Download complete' });
        callback();
      }
    },
  });
  stream.on('error', (err) => tap.destroy(err));
  // Another layer failed: this one stops too, and its temporary files go.
  const stop = (): void => {
    tap.destroy(new WhaleboxError('pull aborted', 1));
  };
  signal.addEventListener('abort', stop, { once: true });
  try {
    const unpacked = await unpackLayer(stream.pipe(tap), paths.layers, { ...(parent ? { parent } : {}), expectedDiffId: diffId });
    blob.commit(descriptor.digest);
    onEvent?.({ kind: 'layer', id, status: 'Pull complete' });
    return { ...common, size: unpacked.size };
  } catch (err) {
    blob.abort();
    stream.destroy();
    throw err instanceof WhaleboxError ? new WhaleboxError(err.message, 1) : err;
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

/** The repository's tags (`pull --all-tags`), as the registry lists them. */
export async function listRemoteTags(context: Context, ref: ImageReference): Promise<string[]> {
  return new RegistryClient(ref.domain, { insecureRegistries: context.insecureRegistries }).listTags(ref.path);
}
