import { createRequire } from 'node:module';
import { join } from 'node:path';
import { installRoot } from '../util/install-root.js';

/**
 * The file-system calls Node.js lacks, from native/fsops.node (a Node-API addon built with the
 * shim). Errors carry `code`, `errno`, `syscall` and `path` like Node's own.
 */
export interface FsOps {
  /** `mode` includes the file type (S_IFCHR, S_IFBLK, S_IFIFO); permissions are not masked by the umask. */
  mknod(path: string, mode: number, major: number, minor: number): void;
  /** Sets an attribute on the path itself, never on a symlink's target. */
  lsetxattr(path: string, name: string, value: Buffer): void;
  /** The attribute's value, or undefined when the path has no such attribute. */
  lgetxattr(path: string, name: string): Buffer | undefined;
  llistxattr(path: string): string[];
}

let loaded: FsOps | undefined;

export function fsOps(): FsOps {
  const root = installRoot();
  loaded ??= createRequire(join(root, 'package.json'))(join(root, 'native', 'fsops.node')) as FsOps;
  return loaded;
}
