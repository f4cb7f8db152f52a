import { join } from 'node:path';

/** Where whalebox keeps its state. Every test passes its own root and run root. */
export interface StorePaths {
  /** Persistent state: database, content store, layers, containers. */
  readonly root: string;
  /** Volatile state (tmpfs on most hosts): locks and per-boot data. */
  readonly runRoot: string;
  readonly database: string;
  /** OCI content store: blobs/sha256/<hex>. */
  readonly blobs: string;
  /** One unpacked directory per layer: layers/<chain-id hex>/diff. */
  readonly layers: string;
  /** One bundle per container: containers/<id>/{config.json,diff,work,rootfs,...}. */
  readonly containers: string;
  /** Compiled seccomp filters, kept by the runtime; per boot, as a new kernel may want others. */
  readonly seccompCache: string;
}

export const DEFAULT_ROOT = '/var/lib/whalebox';
export const DEFAULT_RUN_ROOT = '/run/whalebox';

export function storePaths(root: string, runRoot: string): StorePaths {
  return {
    root,
    runRoot,
    database: join(root, 'whalebox.db'),
    blobs: join(root, 'blobs', 'sha256'),
    layers: join(root, 'layers'),
    containers: join(root, 'containers'),
    seccompCache: join(runRoot, 'seccomp'),
  };
}

/** The content-store path of a digest such as `sha256:abc…`. */
export function blobPath(paths: StorePaths, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  if (algorithm !== 'sha256' || !/^[0-9a-f]{64}$/.test(hex ?? '')) {
    throw new Error(`invalid digest: ${digest}`);
  }
  return join(paths.blobs, hex!);
}
