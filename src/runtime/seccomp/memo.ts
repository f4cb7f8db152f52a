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

/** 64-bit FNV-1a of the text, as 16 hex digits. */
export function fnv1a(text: string): string {
  let hash = 0xcbf29ce484222325n;
  const bytes = Buffer.from(text);
  // Two 32-bit halves: BigInt per byte would cost more than the hash saves.
  let hi = Number(hash >> 32n);
  let lo = Number(hash & 0xffffffffn);
  for (const byte of bytes) {
    lo = (lo ^ byte) >>> 0;
    // Multiply by the FNV prime 0x100000001b3 modulo 2^64, in 32-bit pieces.
    const loProduct = lo * 0x1b3;
    const carry = Math.floor(loProduct / 0x100000000);
    hi = (hi * 0x1b3 + lo * 0x100 + carry) >>> 0;
    lo = loProduct >>> 0;
  }
  hash = (BigInt(hi) << 32n) | BigInt(lo);
  return hash.toString(16).padStart(16, '0');
}
