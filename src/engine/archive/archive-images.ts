import { hostPlatform, MEDIA_TYPES, parseManifest, selectPlatform } from '../../image/manifest.js';
import type { Descriptor } from '../../image/oci-image.js';
import { parseReference, type ImageReference } from '../../image/reference.js';
import { archiveBlobPath, digestOfPath, invalid, parseJson, type ArchiveDir, type ArchiveFile } from './archive-dir.js';

/**
 * What an image archive holds, read from either layout `load` accepts: a docker-archive
 * (`manifest.json`, legacy `<id>/layer.tar` or Docker 25+'s `blobs/sha256/…`) or a plain OCI
 * image layout (`index.json`, following nested indexes to the host's platform).
 */

export interface ArchiveImage {
  readonly config: ArchiveFile;
  readonly layers: readonly ArchiveFile[];
  readonly references: readonly ImageReference[];
}

/** Docker's manifest.json wins when both are there, as in Docker 25's archives. */
export function archiveImages(archive: ArchiveDir): ArchiveImage[] {
  if (archive.has('manifest.json')) return dockerImages(archive);
  if (archive.has('index.json')) return ociImages(archive);
  throw invalid('it has neither manifest.json (docker-archive) nor index.json (OCI image layout)');
}

export const NAME_ANNOTATION = 'io.containerd.image.name';
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
const MAX_INDEX_DEPTH = 4;

const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

function dockerImages(archive: ArchiveDir): ArchiveImage[] {
  const manifest = parseJson(archive.read({ path: 'manifest.json', what: 'manifest.json' }), 'manifest.json');
  if (!Array.isArray(manifest)) throw invalid('manifest.json is not a list of images');
  return manifest.map((item: { Config?: unknown; Layers?: unknown; RepoTags?: unknown } | null, i) => {
    const what = `image ${i + 1} of manifest.json`;
    if (typeof item?.Config !== 'string' || !isStrings(item.Layers) || (item.RepoTags != null && !isStrings(item.RepoTags))) {
      throw invalid(`${what} needs Config, Layers and RepoTags`);
    }
    const file = (path: string, role: string): ArchiveFile => ({ path, what: `${role} of ${what}`, digest: digestOfPath(path) });
    return {
      config: file(item.Config, 'the config'),
      layers: item.Layers.map((path, n) => file(path, `layer ${n + 1}`)),
      references: (item.RepoTags ?? []).map(imageName),
    };
  });
}

function ociImages(archive: ArchiveDir): ArchiveImage[] {
  const index = parseManifest(archive.read({ path: 'index.json', what: 'index.json' }), MEDIA_TYPES.ociIndex);
  if (index.kind !== 'index') throw invalid('index.json is not an image index');
  // Several names of one manifest make one image.
  const images = new Map<string, { digest: string; config: Descriptor; layers: Descriptor[]; references: ImageReference[] }>();
  for (const entry of index.manifests) {
    const found = platformManifest(archive, entry, 0);
    const image = images.get(found.digest) ?? { ...found, references: [] };
    images.set(found.digest, image);
    const name = descriptorName(entry);
    if (name) image.references.push(name);
  }
  return [...images.values()].map(({ digest, config, layers, references }) => {
    const file = (descriptor: Descriptor, role: string): ArchiveFile => ({
      path: archiveBlobPath(descriptor.digest),
      what: `${role} of manifest ${digest}`,
      digest: descriptor.digest,
    });
    return { config: file(config, 'the config'), layers: layers.map((layer, n) => file(layer, `layer ${n + 1}`)), references };
  });
}

/** The image manifest a descriptor leads to: itself, or the host platform's in the index it names. */
function platformManifest(archive: ArchiveDir, descriptor: Descriptor, depth: number): { digest: string; config: Descriptor; layers: Descriptor[] } {
  const what = `manifest ${descriptor.digest}`;
  const parsed = parseManifest(archive.read({ path: archiveBlobPath(descriptor.digest), what, digest: descriptor.digest }), descriptor.mediaType);
  if (parsed.kind === 'image') return { digest: descriptor.digest, config: parsed.config, layers: parsed.layers };
  if (depth >= MAX_INDEX_DEPTH) throw invalid(`image indexes are nested more than ${MAX_INDEX_DEPTH} deep`);
  return platformManifest(archive, selectPlatform(parsed.manifests, hostPlatform(), what), depth + 1);
}

/** containerd's full name, or a ref.name that is a reference rather than a bare tag. */
function descriptorName(descriptor: Descriptor): ImageReference | undefined {
  const annotations = descriptor.annotations ?? {};
  const full = annotations[NAME_ANNOTATION];
  if (full !== undefined) return imageName(full);
  const refName = annotations[REF_NAME_ANNOTATION];
  return refName !== undefined && /[:/]/.test(refName) ? imageName(refName) : undefined;
}

function imageName(text: string): ImageReference {
  let reference: ImageReference;
  try {
    reference = parseReference(text);
  } catch {
    throw invalid(`"${text}" is not a valid image name`);
  }
  if (reference.digest !== undefined) throw invalid(`"${text}" names a digest, not a tag`);
  return reference;
}
