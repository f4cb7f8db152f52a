import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { hasBlob, readBlob } from '../../image/content-store.js';
import type { ImageRecord } from '../../image/image-store.js';
import { decompress } from '../../image/layer-unpack.js';
import { parseManifest } from '../../image/manifest.js';
import { MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_TAR, MEDIA_TYPE_MANIFEST, type Descriptor, type ImageManifest } from '../../image/oci-image.js';
import { familiarName, familiarString, parseNormalized, parseReference, referenceString, type ImageReference } from '../../image/reference.js';
import { blobPath, type StorePaths } from '../../store/paths.js';
import { WhaleboxError } from '../../util/errors.js';
import type { Entry } from '../copy/entries.js';
import { tarReadable } from '../copy/tar.js';
import type { Context } from '../context.js';
import { requireImage } from '../image-lookup.js';
import { listImages } from '../images.js';
import { archiveBlobPath } from './archive-dir.js';
import { NAME_ANNOTATION, REF_NAME_ANNOTATION } from './archive-images.js';
import { scratchName } from '../../store/scratch.js';

/**
 * `docker save` in the layout Docker 25+ writes, which both `docker load` and OCI tools read:
 * an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) and Docker's
 * `manifest.json` and `repositories` beside it. Layers go in uncompressed, so their digests are
 * their diff IDs (stored gzip or zstd blobs are decompressed on the way); each image gets an
 * OCI manifest written for the archive, around its config blob kept byte for byte, so the
 * image ID survives a save and load.
 */

interface Selected {
  readonly image: ImageRecord;
  /** The references saved with it; none for an image named by ID. */
  readonly references: ImageReference[];
}

/** The archive of the named images as a tar stream; every name is resolved before it starts. */
export function saveImages(context: Context, names: readonly string[]): Readable {
  return tarReadable(archiveEntries(context.paths, selectImages(context, names)));
}

/**
 * Docker's choice: a bare repository name (`busybox`) means each of its tags, a tagged name
 * that tag, anything else (an ID or ID prefix) the image without a name.
 */
function selectImages(context: Context, names: readonly string[]): Selected[] {
  const selected = new Map<string, Selected>();
  const add = (image: ImageRecord, reference?: ImageReference): void => {
    const entry = selected.get(image.id) ?? { image, references: [] };
    selected.set(image.id, entry);
    if (reference && !entry.references.some((known) => referenceString(known) === referenceString(reference))) entry.references.push(reference);
  };
  for (const name of names) {
    const tagged = isRepositoryName(name) ? listImages(context, name) : [];
    for (const summary of tagged) {
      const image = requireImage(context, summary.id);
      for (const reference of summary.references) add(image, parseReference(reference));
    }
    if (tagged.length > 0) continue;
    const image = requireImage(context, name);
    const reference = image.references.find((known) => known === tryReference(name));
    add(image, reference === undefined ? undefined : parseReference(reference));
  }
  return [...selected.values()];
}

function isRepositoryName(name: string): boolean {
  try {
    const reference = parseNormalized(name);
    return reference.tag === undefined && reference.digest === undefined;
  } catch {
    return false;
  }
}

/** The normalized reference a name stands for, if it is one. */
function tryReference(name: string): string | undefined {
  try {
    return referenceString(parseReference(name));
  } catch {
    return undefined;
  }
}

async function* archiveEntries(paths: StorePaths, images: readonly Selected[]): AsyncGenerator<Entry> {
  mkdirSync(paths.root, { recursive: true });
  // Decompressed layers wait here for the tar, which needs their size before their bytes.
  const scratch = join(paths.root, scratchName('tmp-save-'));
  mkdirSync(scratch, { mode: 0o700 });
  try {
    yield directory('blobs');
    yield directory('blobs/sha256');
    const written = new Map<string, number>();
    const index: Descriptor[] = [];
    const manifests: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
    const repositories: Record<string, Record<string, string>> = {};
    const blob = (data: Buffer): { entry?: Entry; descriptor: Omit<Descriptor, 'mediaType'> } => {
      const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      const descriptor = { digest, size: data.length };
      if (written.has(digest)) return { descriptor };
      written.set(digest, data.length);
      return { entry: file(archiveBlobPath(digest), data.length, [data]), descriptor };
    };

    for (const { image, references } of images) {
      const layers: Descriptor[] = [];
      for (const [i, source] of storedLayers(paths, image).entries()) {
        const diffId = image.config.rootfs.diff_ids[i]!;
        if (!written.has(diffId)) {
          const plain = await plainLayer(scratch, paths, image, source, diffId);
          written.set(diffId, plain.size);
          yield file(archiveBlobPath(diffId), plain.size, createReadStream(plain.path));
        }
        layers.push({ mediaType: MEDIA_TYPE_LAYER_TAR, digest: diffId, size: written.get(diffId)! });
      }
      const config = blob(readBlob(paths, image.id));
      if (config.entry) yield config.entry;
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: MEDIA_TYPE_MANIFEST,
        config: { mediaType: MEDIA_TYPE_CONFIG, ...config.descriptor },
        layers,
      };
      const saved = blob(Buffer.from(JSON.stringify(manifest)));
      if (saved.entry) yield saved.entry;

      const descriptor = { mediaType: MEDIA_TYPE_MANIFEST, ...saved.descriptor };
      if (references.length === 0) index.push(descriptor);
      for (const reference of references) {
        index.push({ ...descriptor, annotations: { [NAME_ANNOTATION]: referenceString(reference), [REF_NAME_ANNOTATION]: reference.tag! } });
        const tags = (repositories[familiarName(reference)] ??= {});
        if (layers.length > 0) tags[reference.tag!] = layers[layers.length - 1]!.digest.slice('sha256:'.length);
      }
      manifests.push({
        Config: archiveBlobPath(image.id),
        RepoTags: references.length > 0 ? references.map(familiarString) : null,
        Layers: layers.map((layer) => archiveBlobPath(layer.digest)),
      });
    }
    yield json('index.json', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: index });
    yield json('manifest.json', manifests);
    if (Object.keys(repositories).length > 0) yield json('repositories', repositories);
    yield json('oci-layout', { imageLayoutVersion: '1.0.0' });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The stored blobs of the image's layers, base first, as its stored manifest lists them. */
function storedLayers(paths: StorePaths, image: ImageRecord): Descriptor[] {
  const manifest = parseManifest(readBlob(paths, image.manifestDigest), '');
  if (manifest.kind !== 'image' || manifest.layers.length !== image.config.rootfs.diff_ids.length) {
    throw new WhaleboxError(`the stored manifest of image ${image.id} does not match its config`, 1);
  }
  for (const layer of manifest.layers) {
    if (!hasBlob(paths, layer.digest)) throw new WhaleboxError(`layer blob ${layer.digest} of image ${image.id} is not in the content store`, 1);
  }
  return manifest.layers;
}

/**
 * The layer as an uncompressed tar: the stored blob when it is one, else the blob
 * decompressed (gzip or zstd, as layer-unpack's `decompress` recognises it) into `scratch` and
 * checked against the diff ID.
 */
async function plainLayer(scratch: string, paths: StorePaths, image: ImageRecord, stored: Descriptor, diffId: string): Promise<{ path: string; size: number }> {
  const path = blobPath(paths, stored.digest);
  if (stored.digest === diffId) return { path, size: statSync(path).size };
  const target = join(scratch, diffId.slice('sha256:'.length));
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  await pipeline([...(await decompress(createReadStream(path))), tap, createWriteStream(target)]);
  const digest = `sha256:${hash.digest('hex')}`;
  if (digest !== diffId) throw new WhaleboxError(`layer ${stored.digest} of image ${image.id} decompresses to ${digest}, not its diff ID ${diffId}`, 1);
  return { path: target, size: statSync(target).size };
}

const common = { uid: 0, gid: 0, mtime: 0 };

function directory(name: string): Entry {
  return { ...common, name, type: 'directory', mode: 0o755, size: 0 };
}

function file(name: string, size: number, body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Entry {
  return { ...common, name, type: 'file', mode: 0o644, size, body: toAsync(body) };
}

function json(name: string, value: unknown): Entry {
  const data = Buffer.from(JSON.stringify(value));
  return file(name, data.length, [data]);
}

async function* toAsync(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* chunks;
}
