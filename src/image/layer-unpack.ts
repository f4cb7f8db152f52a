import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  write,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Duplex, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { extract as tarExtract, type Header } from 'tar-stream';
import { fsOps } from '../native/fsops.js';
import { errnoCode, WhaleboxError } from '../util/errors.js';
import { ensureLayerLinks } from './layer-links.js';
import { installPaxCodec, XATTR_PREFIX, xattrValue } from './tar-pax.js';
import { scratchName } from '../store/scratch.js';

/**
 * Unpacks an image layer (a tar: plain, gzip or zstd) into its own directory,
 * layers/<chain>/diff, in overlayfs's format: a whiteout (`.wh.NAME`) becomes a character
 * device 0/0 named NAME, an opaque marker (`.wh..wh..opq`) the xattr trusted.overlay.opaque=y
 * on its directory. Device nodes, fifos and xattrs (pax SCHILY.xattr.*) are kept, through the
 * fsops addon. Each layer also gets a short name, layers/l/<12 hex> -> ../<hex>/diff, so that
 * an overlay of 100+ layers still fits in one page of mount options.
 *
 * Layers are untrusted input. Every entry is written relative to the layer root, and the
 * unpacker never lets a path resolve outside it: names with `..` or a leading `/` are refused,
 * every parent directory is checked with lstat (a parent that is a symlink, perhaps planted by
 * an earlier entry to point at /etc, is refused), files are created with O_EXCL|O_NOFOLLOW,
 * and hard links may only point at files already unpacked in this layer.
 */

export interface UnpackedLayer {
  /** `sha256:` of the uncompressed tar. */
  readonly diffId: string;
  /** The diff ID for a base layer; sha256("<parent chain ID> <diff ID>") above one. */
  readonly chainId: string;
  /** Absolute path of the unpacked tree, layers/<chain hex>/diff. */
  readonly dir: string;
  /** Bytes of file contents and symlink targets, as Docker counts a layer's size. */
  readonly size: number;
  /** The latest modification time of any entry (epoch when the tar has none). */
  readonly newestMtime: Date;
}

export interface UnpackOptions {
  /** Chain ID of the layer this one sits on. */
  readonly parent?: string;
  /** Receives the uncompressed tar bytes in order, e.g. to store the layer blob. */
  readonly tee?: (chunk: Buffer) => void;
  /** The diff ID the image config promises: a layer that hashes otherwise is refused, unstored. */
  readonly expectedDiffId?: string;
}

/** The overlay's trusted xattrs belong to the unpacker: a layer that sets them could fake opacity or redirects. */
const OVERLAY_XATTR = /^trusted\.overlay\./;
const OPAQUE_XATTR = 'trusted.overlay.opaque';
const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
export async function unpackLayer(
  input: Readable,
  layersDir: string,
  options: UnpackOptions = {},
): Promise<UnpackedLayer> {
  mkdirSync(layersDir, { recursive: true });
  installPaxCodec();
  // An input that fails before the pipeline below is attached (while its head is sniffed) must
  // not crash the process: the pipeline still sees the error, as the stream's `errored` state.
  input.on('error', () => {});
  // The digest is known only at the end, so unpack under a temporary name and rename the whole
  // layer directory into place: a failed or truncated tar never leaves a layer behind.
  const temp = join(layersDir, scratchName('tmp-'));
  mkdirSync(temp, { mode: 0o700 });
  try {
    const root = join(temp, 'diff');
    mkdirSync(root);
    const hash = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        try {
          hash.update(chunk);
          options.tee?.(chunk);
          callback(null, chunk);
        } catch (err) {
          callback(err as Error);
        }
      },
    });
    const writer = new LayerWriter(root);
    const extract = tarExtract();
    extract.on('entry', (header, data, next) => {
      writer.add(header, data as AsyncIterable<Buffer>).then(() => next(), next);
    });
    // tar-stream's extract is a streamx Writable; it speaks the protocol pipeline relies on.
    await pipeline([...(await decompress(input)), tap, extract as unknown as NodeJS.WritableStream]);
    writer.finish();

    const diffId = `sha256:${hash.digest('hex')}`;
    if (options.expectedDiffId !== undefined && options.expectedDiffId !== diffId) {
      throw new WhaleboxError(`layer content does not match the image config: expected diff ID ${options.expectedDiffId}, got ${diffId}`);
    }
    const chainId =
      options.parent === undefined
        ? diffId
        : `sha256:${createHash('sha256').update(`${options.parent} ${diffId}`).digest('hex')}`;
    const final = join(layersDir, chainId.slice('sha256:'.length));
    try {
      renameSync(temp, final);
    } catch (err) {
      // Same content, already unpacked (by an earlier import, or a concurrent one): keep that.
      if (errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST') throw err;
      removeQuietly(temp);
    }
    ensureLayerLinks(layersDir, [chainId]);
    return { diffId, chainId, dir: join(final, 'diff'), size: writer.size, newestMtime: writer.newestMtime };
  } catch (err) {
    removeQuietly(temp);
    if (err instanceof WhaleboxError) throw err;
    throw new WhaleboxError(`failed to unpack layer: ${(err as Error).message}`);
  }
}

/** Cleanup on an error path must not replace the original error with its own. */
function removeQuietly(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // Leftover tmp-* directories are recognisable by name and removed by a later prune.
  }
}

/** Compressions Node.js has no decoder for: the system's own tool decodes them (xz-utils, bzip2). */
const EXTERNAL: ReadonlyArray<{ name: string; magic: Buffer }> = [
  { name: 'bzip2', magic: Buffer.from('BZh') },
  { name: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) },
];
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const SNIFF_BYTES = 6;

/** Whether bytes start like a compressed stream that `decompress` decodes. */
export function isCompressed(head: Buffer): boolean {
  return [GZIP_MAGIC, ZSTD_MAGIC, ...EXTERNAL.map((format) => format.magic)].some((magic) => head.subarray(0, magic.length).equals(magic));
}

/**
 * Reads the first bytes to recognise the compression (as Docker's DecompressStream does:
 * gzip, zstd, bzip2, xz) and returns the pipeline stages that yield the plain tar.
 */
export async function decompress(input: Readable): Promise<Array<Readable | Duplex>> {
  const head = await peek(input, SNIFF_BYTES);
  const starts = (magic: Buffer): boolean => head.subarray(0, magic.length).equals(magic);
  const external = EXTERNAL.find(({ magic }) => starts(magic));
  if (external) return [input, externalDecoder(external.name)];
  // 1 MiB output chunks (zlib's default is 16 KiB): a sixteenth of the writes and hand-offs per layer.
  if (starts(GZIP_MAGIC)) return [input, createGunzip({ chunkSize: 1 << 20 })];
  if (starts(ZSTD_MAGIC)) return [input, zstdDecoder()];
  return [input];
}

/** `decompress` as one stream of the plain tar; each stage's error ends the next, so that the reader sees it. */
export async function decompressed(input: Readable): Promise<Readable> {
  return (await decompress(input)).reduce((from, to) => from.on('error', (err) => to.destroy(err)).pipe(to as Duplex));
}

/**
 * `bzip2 -dc` or `xz -dc` as a stream stage. Its output ends only once the tool has exited
 * successfully, so a corrupt stream (partial output, then a failure) is an error, not a short tar.
 */
function externalDecoder(command: string): Duplex {
  const child = spawn(command, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<string | undefined>((resolve) => {
    child.once('error', (err) => resolve(`${command}-compressed archives need ${command}: ${err.message}`));
    child.once('close', (code) => resolve(code === 0 ? undefined : `invalid ${command} data: ${stderr.trim().split('\n')[0] || `${command} exited with status ${code}`}`));
  });
  const output = child.stdout.pipe(
    new Transform({
      transform: (chunk, _encoding, callback) => callback(null, chunk),
      flush: (callback) => void exited.then((failure) => callback(failure === undefined ? null : new Error(failure))),
    }),
  );
  // The input side: an early end of the pipeline must not leave the tool writing to nobody.
  child.stdin.on('error', () => undefined);
  return Duplex.from({ writable: child.stdin, readable: output });
}

/** fzstd's push-style decoder as a stream stage; a truncated frame is an error at the end. */
function zstdDecoder(): Transform {
  let push: ((chunk: Uint8Array) => void) | undefined;
  const decoder = new ZstdDecompress((chunk) => push?.(chunk));
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      push = (data) => this.push(Buffer.from(data.buffer, data.byteOffset, data.length));
      try {
        decoder.push(chunk);
        callback();
      } catch (err) {
        callback(new Error(`invalid zstd data: ${(err as Error).message}`));
      }
    },
    flush(callback) {
      push = (data) => this.push(Buffer.from(data.buffer, data.byteOffset, data.length));
      try {
        decoder.push(new Uint8Array(0), true);
        callback();
      } catch (err) {
        callback(new Error(`invalid zstd data: ${(err as Error).message}`));
      }
    },
  });
}

/**
 * The first `size` bytes of `input` (fewer if it is shorter), left in the stream: they are put
 * back with unshift, so the stream stays the pipeline's source and an error anywhere in the
 * pipeline destroys it at once (a replaying wrapper would first wait for its next chunk).
 */
export async function peek(input: Readable, size: number): Promise<Buffer> {
  for (;;) {
    // null until `size` bytes are buffered, except at the end, where it returns what is left.
    const head = input.read(size) as Buffer | null;
    if (head !== null) {
      input.unshift(head);
      return head;
    }
    if (input.readableEnded) return Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      const settle = (err?: Error): void => {
        input.off('readable', settle).off('end', settle).off('error', settle);
        if (err) reject(err);
        else resolve();
      };
      input.on('readable', settle).on('end', settle).on('error', settle);
    });
  }
}

interface Metadata {
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch, fractional when a pax record gave sub-second precision. */
  mtime: number;
}

const writeAsync = promisify(write);

const NODE_TYPES = {
  'character-device': constants.S_IFCHR,
  'block-device': constants.S_IFBLK,
  fifo: constants.S_IFIFO,
} as const;

class EntryRefused extends WhaleboxError {
  constructor(name: string, reason: string) {
    super(`refusing layer entry "${name}": ${reason}`);
  }
}

/** Writes the entries of one tar into `root`, in order. */
class LayerWriter {
  size = 0;
  private newest = 0;
  /** Relative paths known to be real directories (not symlinks) in this layer; '' is the root. */
  private readonly directories = new Set<string>(['']);
  /** Directory metadata, applied at the end: writing entries inside would change the mtimes. */
  private readonly directoryMetadata = new Map<string, Metadata>();

  constructor(private readonly root: string) {}

  get newestMtime(): Date {
    return new Date(this.newest * 1000);
  }

  async add(header: Header, data: AsyncIterable<Uint8Array>): Promise<void> {
    const name = header.name;
    const path = relativePath(name, name);
    const base = path.slice(path.lastIndexOf('/') + 1);
    const metadata = readMetadata(header);
    this.newest = Math.max(this.newest, metadata.mtime);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.whiteout(name, path, base, metadata);
    } else {
      if (path === '' && header.type !== 'directory') throw new EntryRefused(name, 'only a directory can be the layer root');
      if (await this.entry(header, path, metadata, data)) return;
      this.setXattrs(name, path, header);
    }
    // Entries other than files normally carry no data; whatever they carry is skipped.
    for await (const _chunk of data);
  }

  /** Writes one entry; true when it consumed `data` (a file, whose xattrs it has set too). */
  private async entry(header: Header, path: string, metadata: Metadata, data: AsyncIterable<Uint8Array>): Promise<boolean> {
    const name = header.name;
    switch (header.type) {
      case 'directory':
        this.directory(name, path, metadata);
        return false;
      case 'file':
      case 'contiguous-file':
        await this.file(name, path, metadata, data);
        this.setXattrs(name, path, header);
        this.size += header.size ?? 0;
        return true;
      case 'symlink':
        this.symlink(name, path, header.linkname ?? '', metadata);
        this.size += Buffer.byteLength(header.linkname ?? '');
        return false;
      case 'link':
        this.hardLink(name, path, header.linkname ?? '');
        return false;
      case 'character-device':
      case 'block-device':
      case 'fifo':
        this.node(name, path, NODE_TYPES[header.type], metadata, header.devmajor ?? 0, header.devminor ?? 0);
        return false;
      default:
        throw new EntryRefused(name, 'unsupported tar entry type');
    }
  }

  /**
   * `.wh.NAME` hides NAME of the layers below: a character device 0/0 in overlayfs.
   * `.wh..wh..opq` hides everything below its directory: the opaque xattr on it. Other
   * `.wh..wh.*` names are aufs bookkeeping (hard-link directories), with nothing to apply.
   */
  private whiteout(name: string, path: string, base: string, metadata: Metadata): void {
    const parent = path.slice(0, Math.max(0, path.length - base.length - 1));
    if (base === OPAQUE_MARKER) {
      this.parents(name, path, true);
      fsOps().lsetxattr(join(this.root, parent), OPAQUE_XATTR, Buffer.from('y'));
      return;
    }
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return;
    const hidden = base.slice(WHITEOUT_PREFIX.length);
    if (hidden === '' || hidden === '.' || hidden === '..') throw new EntryRefused(name, 'invalid whiteout');
    this.node(name, parent === '' ? hidden : `${parent}/${hidden}`, constants.S_IFCHR, { ...metadata, mode: 0 }, 0, 0);
  }

  /** A device node or fifo (a whiteout is a character device 0/0). */
  private node(name: string, path: string, type: number, metadata: Metadata, major: number, minor: number): void {
    this.parents(name, path, true);
    this.replace(path, false);
    const target = join(this.root, path);
    fsOps().mknod(target, type | 0o600, major, minor);
    lchownSync(target, metadata.uid, metadata.gid);
    // chmod follows symlinks; this is the node just made, and chmod never opens it.
    chmodSync(target, metadata.mode);
    lutimesSync(target, metadata.mtime, metadata.mtime);
  }

  /** Applies the entry's pax SCHILY.xattr.* records, except the overlay's own. */
  private setXattrs(name: string, path: string, header: Header): void {
    for (const [key, value] of Object.entries((header.pax ?? {}) as Record<string, string>)) {
      if (!key.startsWith(XATTR_PREFIX)) continue;
      const attribute = key.slice(XATTR_PREFIX.length);
      if (OVERLAY_XATTR.test(attribute)) throw new EntryRefused(name, `it sets ${attribute}, which belongs to overlayfs`);
      try {
        fsOps().lsetxattr(join(this.root, path), attribute, xattrValue(value));
      } catch (err) {
        // As Docker: an attribute this file system cannot hold (security.selinux without SELinux,
        // user.* on a symlink or device node: EPERM) is dropped.
        if (errnoCode(err) !== 'ENOTSUP' && errnoCode(err) !== 'EPERM') throw err;
      }
    }
  }

  /** Sets the directories' owners, modes and times, deepest first, now that nothing is written into them. */
  finish(): void {
    const entries = [...this.directoryMetadata].sort(([a], [b]) => depth(b) - depth(a));
    for (const [path, metadata] of entries) {
      const target = join(this.root, path);
      lchownSync(target, metadata.uid, metadata.gid);
      // chmod follows symlinks, but only verified directories are recorded here, and an entry
      // that later replaced one removed its record.
      chmodSync(target, metadata.mode);
      lutimesSync(target, metadata.mtime, metadata.mtime);
    }
    if (!this.directoryMetadata.has('')) chmodSync(this.root, 0o755);
  }

  private directory(name: string, path: string, metadata: Metadata): void {
    if (path !== '') {
      this.parents(name, path, true);
      if (!this.replace(path, true)) mkdirSync(join(this.root, path), { mode: 0o700 });
      this.directories.add(path);
    }
    this.directoryMetadata.set(path, metadata);
  }

  private async file(name: string, path: string, metadata: Metadata, data: AsyncIterable<Uint8Array>): Promise<void> {
    this.parents(name, path, true);
    this.replace(path, false);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const fd = openSync(join(this.root, path), flags, 0o600);
    try {
      // Written through the thread pool: the main thread meanwhile parses and hashes other layers.
      for await (const chunk of data) {
        for (let offset = 0; offset < chunk.length; ) offset += (await writeAsync(fd, chunk, offset)).bytesWritten;
      }
      fchownSync(fd, metadata.uid, metadata.gid);
      // After chown, which clears the setuid and setgid bits.
      fchmodSync(fd, metadata.mode);
      futimesSync(fd, metadata.mtime, metadata.mtime);
    } finally {
      closeSync(fd);
    }
  }

  private symlink(name: string, path: string, target: string, metadata: Metadata): void {
    this.parents(name, path, true);
    this.replace(path, false);
    const link = join(this.root, path);
    // The target is stored as given: it is resolved inside the container's root at run time,
    // and this unpacker never writes through a symlink (see parents).
    symlinkSync(target, link);
    lchownSync(link, metadata.uid, metadata.gid);
    lutimesSync(link, metadata.mtime, metadata.mtime);
  }

  private hardLink(name: string, path: string, linkname: string): void {
    const target = relativePath(name, linkname);
    if (target === '' || target === path) throw new EntryRefused(name, `invalid hard link target "${linkname}"`);
    const stat = this.parents(name, target, false) ? lstatOrUndefined(join(this.root, target)) : undefined;
    if (stat === undefined || stat.isDirectory()) {
      throw new EntryRefused(name, `hard link target "${linkname}" is not a file unpacked earlier in this layer`);
    }
    this.parents(name, path, true);
    this.replace(path, false);
    // link(2) does not follow a symlink target: the new name shares the symlink's own inode.
    linkSync(join(this.root, target), join(this.root, path));
  }

  /**
   * Checks that every parent of `path` is a real directory, not a symlink, creating the missing
   * ones when `create` is set (0755, owned by root, as Docker does). Returns false when a parent
   * is missing and was not created. `name` is the tar entry named in errors.
   */
  private parents(name: string, path: string, create: boolean): boolean {
    let current = '';
    for (const component of path.split('/').slice(0, -1)) {
      current = current === '' ? component : `${current}/${component}`;
      if (this.directories.has(current)) continue;
      const directory = join(this.root, current);
      const stat = lstatOrUndefined(directory);
      if (stat === undefined) {
        if (!create) return false;
        mkdirSync(directory);
        chmodSync(directory, 0o755); // whatever the umask
      } else if (stat.isSymbolicLink()) {
        throw new EntryRefused(name, `its parent "${current}" is a symbolic link`);
      } else if (!stat.isDirectory()) {
        throw new EntryRefused(name, `its parent "${current}" is not a directory`);
      }
      this.directories.add(current);
    }
    return true;
  }

  /**
   * Makes room for a new entry at `path`, as tar does: a later entry replaces an earlier one,
   * except that a directory over a directory merges. Returns true when a directory was kept.
   */
  private replace(path: string, keepDirectory: boolean): boolean {
    const target = join(this.root, path);
    const stat = lstatOrUndefined(target);
    if (stat === undefined) return false;
    if (stat.isDirectory()) {
      if (keepDirectory) return true;
      this.size -= contentSize(target);
      rmSync(target, { recursive: true });
      this.forget(path);
    } else {
      // A hard-linked file keeps its bytes under the other name.
      if (stat.nlink === 1) this.size -= stat.size;
      unlinkSync(target);
    }
    return false;
  }

  private forget(path: string): void {
    const inside = (candidate: string): boolean => candidate === path || candidate.startsWith(`${path}/`);
    for (const directory of this.directories) if (inside(directory)) this.directories.delete(directory);
    for (const directory of this.directoryMetadata.keys()) {
      if (inside(directory)) this.directoryMetadata.delete(directory);
    }
  }
}

/**
 * The entry's path relative to the layer root, without `.` and empty components. `name` is the
 * entry named in errors; `text` the path to check (the entry's own name or its link target).
 */
function relativePath(name: string, text: string): string {
  if (text.startsWith('/')) throw new EntryRefused(name, `"${text}" is an absolute path`);
  const components = text.split('/').filter((component) => component !== '' && component !== '.');
  if (components.includes('..')) throw new EntryRefused(name, `"${text}" leaves the layer root`);
  return components.join('/');
}

function readMetadata(header: Header): Metadata {
  // tar-stream applies the pax path, linkpath and size records, and leaves the others to us.
  const pax = (header.pax ?? {}) as Record<string, string | undefined>;
  const id = (paxValue: string | undefined, value: number | undefined, what: string): number => {
    const result = paxValue !== undefined ? Number(paxValue) : (value ?? 0);
    if (!Number.isInteger(result) || result < 0 || result > 0xfffffffe) {
      throw new EntryRefused(header.name, `invalid ${what} ${paxValue ?? value}`);
    }
    return result;
  };
  const mtime = pax.mtime !== undefined ? Number(pax.mtime) : (header.mtime?.getTime() ?? 0) / 1000;
  if (!Number.isFinite(mtime)) throw new EntryRefused(header.name, `invalid mtime ${pax.mtime}`);
  return {
    mode: (header.mode ?? 0o644) & 0o7777,
    uid: id(pax.uid, header.uid, 'uid'),
    gid: id(pax.gid, header.gid, 'gid'),
    mtime,
  };
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** What `LayerWriter.size` counted for the tree at `dir` (hard links inside it count twice). */
function contentSize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += contentSize(path);
    else if (entry.isFile() || entry.isSymbolicLink()) total += lstatSync(path).size;
  }
  return total;
}

function depth(path: string): number {
  return path === '' ? 0 : path.split('/').length;
}
