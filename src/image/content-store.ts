import { createHash, type Hash } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { blobPath, type StorePaths } from '../store/paths.js';
import { WhaleboxError } from '../util/errors.js';
import { scratchName } from '../store/scratch.js';

/**
 * The OCI content store: immutable blobs named by the sha256 of their bytes, under
 * blobs/sha256/<hex>. A blob appears under its name only complete and verified: it is written
 * to a temporary file, synced, and renamed, so a crash or a bad download leaves no wrong blob.
 */

/** A blob being written. Call `commit` or `abort` exactly once. */
export interface BlobWriter {
  write(chunk: Uint8Array): void;
  /** Stores the blob under its digest, after checking it against `expected` when given. */
  commit(expected?: string): { digest: string; size: number };
  /** Removes the temporary file; never throws (it runs on error paths). */
  abort(): void;
}

export function createBlobWriter(paths: StorePaths): BlobWriter {
  // Temporary files live beside blobs/sha256 (same filesystem, so rename is atomic) but not
  // in it, so a listing of the store never sees a partial blob.
  const staging = dirname(paths.blobs);
  mkdirSync(paths.blobs, { recursive: true });
  const temp = join(staging, scratchName('.tmp-'));
  const fd = openSync(temp, 'wx');
  fchmodSync(fd, 0o644); // whatever the umask: blobs are the same for every reader
  const hash: Hash = createHash('sha256');
  let size = 0;
  let open = true;
  const close = (): void => {
    if (open) {
      open = false;
      closeSync(fd);
    }
  };
  const abort = (): void => {
    try {
      close();
    } catch {
      // The descriptor is gone either way; removing the file is what matters.
    }
    try {
      rmSync(temp, { force: true });
    } catch {
      // Leftover .tmp-* files are recognisable by name and removed by a later prune.
    }
  };
  return {
    write(chunk) {
      hash.update(chunk);
      for (let offset = 0; offset < chunk.length; ) offset += writeSync(fd, chunk, offset);
      size += chunk.length;
    },
    commit(expected) {
      const digest = `sha256:${hash.digest('hex')}`;
      try {
        if (expected !== undefined && expected !== digest) {
          throw new WhaleboxError(`content digest mismatch: expected ${expected}, got ${digest}`);
        }
        const target = blobPath(paths, digest);
        if (existsSync(target)) {
          abort();
        } else {
          fsyncSync(fd);
          close();
          renameSync(temp, target);
        }
        return { digest, size };
      } catch (err) {
        abort();
        throw err;
      }
    },
    abort,
  };
}

/** Stores bytes, returning their digest (`sha256:<hex>`). */
export function putBlob(paths: StorePaths, data: Uint8Array, expected?: string): string {
  const writer = createBlobWriter(paths);
  try {
    writer.write(data);
  } catch (err) {
    writer.abort();
    throw err;
  }
  return writer.commit(expected).digest;
}

/** Stores a stream (a download, say), verifying it against `expected` when given. */
export async function putBlobStream(
  paths: StorePaths,
  stream: Readable,
  expected?: string,
): Promise<{ digest: string; size: number }> {
  const writer = createBlobWriter(paths);
  try {
    for await (const chunk of stream) writer.write(chunk as Uint8Array);
  } catch (err) {
    writer.abort();
    throw err;
  }
  return writer.commit(expected);
}

export function hasBlob(paths: StorePaths, digest: string): boolean {
  return existsSync(blobPath(paths, digest));
}

export function readBlob(paths: StorePaths, digest: string): Buffer {
  return readFileSync(blobPath(paths, digest));
}
