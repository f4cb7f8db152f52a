import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { installRoot } from '../util/install-root.js';

/**
 * Byte-exact xattrs in tar pax records. Go's archive/tar (Docker, containerd) stores an xattr as
 * `SCHILY.xattr.NAME=VALUE` with VALUE raw bytes (security.capability is binary), but tar-stream
 * decodes and encodes every pax value as UTF-8, which mangles such bytes. Its header codec is
 * replaced here, once per process, by one that carries xattr values as latin1 strings (one char
 * per byte): `xattrValue` turns them back into the exact bytes, `xattrText` makes one.
 */

export const XATTR_PREFIX = 'SCHILY.xattr.';

const isXattr = (key: string): boolean => key.startsWith(XATTR_PREFIX);

/** The bytes of an xattr value as tar-stream hands it over (after installPaxCodec). */
export function xattrValue(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

/** An xattr value in the form tar-stream's encoder takes (after installPaxCodec). */
export function xattrText(value: Buffer): string {
  return value.toString('latin1');
}

function decodePax(buf: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  let offset = 0;
  while (offset < buf.length) {
    const space = buf.indexOf(0x20, offset);
    const length = space === -1 ? NaN : Number(buf.toString('latin1', offset, space));
    if (!Number.isInteger(length) || length <= 0 || offset + length > buf.length) break;
    const record = buf.subarray(space + 1, offset + length - 1); // without the trailing newline
    const equals = record.indexOf(0x3d);
    if (equals === -1) break;
    const key = record.toString('utf8', 0, equals);
    result[key] = record.toString(isXattr(key) ? 'latin1' : 'utf8', equals + 1);
    offset += length;
  }
  return result;
}

/** One record: "<length> <key>=<value>\n", where the length counts its own digits. */
function paxRecord(key: string, value: string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value, isXattr(key) ? 'latin1' : 'utf8'), Buffer.from('\n')]);
  let length = body.length + String(body.length).length;
  if (String(length).length !== String(body.length).length) length++;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

function encodePax(opts: { name?: string; linkname?: string; pax?: Record<string, string> }): Buffer {
  const records: Buffer[] = [];
  if (opts.name) records.push(paxRecord('path', opts.name));
  if (opts.linkname) records.push(paxRecord('linkpath', opts.linkname));
  for (const [key, value] of Object.entries(opts.pax ?? {})) records.push(paxRecord(key, value));
  return Buffer.concat(records);
}

let installed = false;

/** Call before creating tar-stream extractors or packers that carry xattrs. */
export function installPaxCodec(): void {
  if (installed) return;
  // The package's exports hide headers.js; its path beside the entry point is the same module
  // that tar-stream's extract and pack use (tar-stream is left out of the bundle for this).
  const require = createRequire(join(installRoot(), 'package.json'));
  const headers = require(join(dirname(require.resolve('tar-stream')), 'headers.js')) as { decodePax: unknown; encodePax: unknown };
  headers.decodePax = decodePax;
  headers.encodePax = encodePax;
  installed = true;
}
