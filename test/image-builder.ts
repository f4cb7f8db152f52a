import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { RegistryClient } from '../src/image/registry/client.js';

/**
 * Images made by hand and pushed straight to a registry, for tests of what `pull` must do with
 * whatever a registry serves: whiteouts, 120 layers, platform indexes, hostile layers.
 */

export type TarEntry = Partial<Header> & { name: string; content?: string | Buffer };

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export async function makeTar(entries: readonly TarEntry[]): Promise<Buffer> {
  const archive = pack();
  for (const { content, ...header } of entries) archive.entry({ mtime: new Date(1_700_000_000_000), mode: 0o644, ...header }, content ?? '');
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface LayerBlob {
  /** As stored in the registry (gzip unless `raw`). */
  readonly blob: Buffer;
  /** The diff ID the config names; by default the digest of the uncompressed tar. */
  readonly diffId: string;
}

export function gzipLayer(tar: Buffer, diffId = sha256(tar)): LayerBlob {
  return { blob: gzipSync(tar), diffId };
}

export interface PushedImage {
  readonly configDigest: string;
  readonly manifestDigest: string;
  readonly manifest: Buffer;
}

/** Uploads the layers and a config, then puts an OCI manifest under `tag`. */
export async function pushLayers(
  client: RegistryClient,
  repository: string,
  tag: string,
  layers: readonly LayerBlob[],
  config: { architecture?: string; os?: string; cmd?: string[] } = {},
): Promise<PushedImage> {
  for (const layer of layers) await upload(client, repository, layer.blob);
  const configBytes = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture: config.architecture ?? 'amd64',
      os: config.os ?? 'linux',
      config: { Cmd: config.cmd ?? ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    }),
  );
  await upload(client, repository, configBytes);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(configBytes), size: configBytes.length },
      layers: layers.map((layer) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer.blob), size: layer.blob.length })),
    }),
  );
  const manifestDigest = await client.putManifest(repository, tag, 'application/vnd.oci.image.manifest.v1+json', manifest);
  return { configDigest: sha256(configBytes), manifestDigest, manifest };
}

/** Puts an OCI index naming the manifests, one per platform. */
export async function pushIndex(
  client: RegistryClient,
  repository: string,
  tag: string,
  entries: ReadonlyArray<{ image: PushedImage; architecture: string; variant?: string }>,
): Promise<string> {
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: entries.map(({ image, architecture, variant }) => ({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: image.manifestDigest,
        size: image.manifest.length,
        platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
      })),
    }),
  );
  return client.putManifest(repository, tag, 'application/vnd.oci.image.index.v1+json', index);
}

async function upload(client: RegistryClient, repository: string, data: Buffer): Promise<void> {
  const digest = sha256(data);
  if (!(await client.blobExists(repository, digest))) await client.uploadBlob(repository, digest, data.length, () => Readable.from([data]));
}
