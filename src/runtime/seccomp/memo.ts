import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../../util/errors.js';

/**
 * Values kept in the run root (a reboot, which may bring a new kernel, empties it) so that a
 * container start does not redo work that depends only on its inputs: the resolved default
 * filter, and the compiled program. A value is stored with the full text of its key and used
 * only if that text matches, so the file name can come from a fast non-cryptographic hash
 * (node:crypto's first use costs a start most of a millisecond): a collision is a miss, never
 * the wrong filter.
 */
export function memo(dir: string | undefined, kind: string, key: string, make: () => Buffer): Buffer {
  if (dir === undefined) return make();
  const base = join(dir, `${fnv1a(key)}.${kind}`);
  const kept = read(base, key);
  if (kept !== undefined) return kept;
  const value = make();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Key and value in one file, renamed into place: a concurrent start finds both or neither.
  const keyBytes = Buffer.from(key);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(keyBytes.length);
  const partial = `${base}.${process.pid}.tmp`;
  writeFileSync(partial, Buffer.concat([header, keyBytes, value]), { mode: 0o600 });
  renameSync(partial, base);
  return value;
}

function read(file: string, key: string): Buffer | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  const length = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
  if (length < 0 || 4 + length > bytes.length || bytes.toString('utf8', 4, 4 + length) !== key) return undefined;
  return bytes.subarray(4 + length);
}

/**
 * FNV-1a (32-bit) over the text's UTF-8 bytes taken four at a time, as 8 hex digits: a key of
 * several kilobytes costs a cold process a fraction of a millisecond. Its collisions cost a
 * recompile, nothing more (the key is compared).
 */
export function fnv1a(text: string): string {
  const bytes = Buffer.from(text);
  const padded = new Uint8Array((bytes.length + 3) & ~3);
  padded.set(bytes);
  const words = new Int32Array(padded.buffer);
  let hash = 0x811c9dc5 ^ bytes.length;
  for (let i = 0; i < words.length; i++) hash = Math.imul(hash ^ words[i]!, 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, '0');
}
