import { WhaleboxError } from '../util/errors.js';
import { goArchitecture, type Descriptor } from './oci-image.js';

/**
 * Manifests as registries serve them: OCI and Docker schema 2 image manifests, and the indexes
 * (manifest lists) that name one manifest per platform.
 */

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

/** What a pull accepts, most specific first. */
export const MANIFEST_ACCEPT: readonly string[] = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerList,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
];

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

interface IndexEntry extends Descriptor {
  platform?: Platform;
}

export type ParsedManifest =
  | { kind: 'index'; manifests: IndexEntry[] }
  | { kind: 'image'; config: Descriptor; layers: Descriptor[] };

/** Parses manifest bytes, using the declared media type (header or body) to tell the kind. */
export function parseManifest(bytes: Buffer, mediaType: string): ParsedManifest {
  let doc: { mediaType?: string; schemaVersion?: number; manifests?: IndexEntry[]; config?: Descriptor; layers?: Descriptor[] };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    throw new WhaleboxError('invalid manifest: not JSON', 1);
  }
  const type = doc.mediaType ?? mediaType.split(';')[0]!.trim();
  if (doc.schemaVersion === 1 || /distribution\.manifest\.v1\+/.test(type)) {
    throw new WhaleboxError('unsupported manifest: Docker image format v1 (schema 1) is deprecated; push the image again with a current tool', 1);
  }
  if (Array.isArray(doc.manifests)) return { kind: 'index', manifests: doc.manifests.filter(isDescriptor) };
  if (doc.config && isDescriptor(doc.config) && Array.isArray(doc.layers) && doc.layers.every(isDescriptor)) {
    return { kind: 'image', config: doc.config, layers: doc.layers };
  }
  throw new WhaleboxError(`invalid manifest of media type ${type || 'unknown'}`, 1);
}

function isDescriptor(value: unknown): value is Descriptor {
  const d = value as Descriptor;
  return typeof d === 'object' && d !== null && typeof d.digest === 'string' && /^sha256:[a-f0-9]{64}$/.test(d.digest) &&
    Number.isSafeInteger(d.size) && d.size >= 0;
}

/** `linux/arm64/v8` as `--platform` takes it; the host's platform when absent. */
export function parsePlatform(text: string | undefined): Platform {
  if (text === undefined || text === '') return hostPlatform();
  const [os = '', architecture, variant] = text.toLowerCase().split('/');
  if (!/^[a-z0-9_]+$/.test(os) || (architecture !== undefined && !/^[a-z0-9_]+$/.test(architecture)) || text.split('/').length > 3) {
    throw new WhaleboxError(`invalid platform "${text}": expected os[/arch[/variant]], e.g. linux/arm64`, 1);
  }
  const normalized = normalizeArchitecture(architecture ?? goArchitecture(), variant);
  return { os, ...normalized };
}

export function hostPlatform(): Platform {
  return { os: 'linux', architecture: goArchitecture(), ...(goArchitecture() === 'arm' ? { variant: 'v7' } : {}) };
}

/** containerd's normalization: aarch64 is arm64, x86_64 is amd64, arm64's default variant v8. */
function normalizeArchitecture(architecture: string, variant?: string): { architecture: string; variant?: string } {
  const arch = ({ aarch64: 'arm64', x86_64: 'amd64', 'x86-64': 'amd64', armhf: 'arm', armel: 'arm' } as Record<string, string>)[architecture] ?? architecture;
  if (arch === 'arm64' && (variant === undefined || variant === 'v8')) return { architecture: arch };
  return variant === undefined ? { architecture: arch } : { architecture: arch, variant };
}

/** The index entry for `platform`, as containerd matches: os and architecture, then the variant when one is wanted. */
export function selectPlatform(manifests: readonly IndexEntry[], platform: Platform, name: string): IndexEntry {
  const candidates = manifests.filter((entry) => {
    if (!entry.platform) return false;
    const have = { os: entry.platform.os, ...normalizeArchitecture(entry.platform.architecture, entry.platform.variant) };
    return have.os === platform.os && have.architecture === platform.architecture &&
      (platform.variant === undefined || have.variant === platform.variant);
  });
  // Without a wanted variant, the entry with none (or the first) is the default.
  const chosen = candidates.find((entry) => normalizeArchitecture(entry.platform!.architecture, entry.platform!.variant).variant === undefined) ?? candidates[0];
  if (!chosen) {
    const wanted = [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
    throw new WhaleboxError(`no matching manifest for ${wanted} in the manifest list entries of ${name}`, 1);
  }
  return chosen;
}
