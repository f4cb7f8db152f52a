import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import type { Entry } from '../copy/entries.js';
import { tarEntries } from '../copy/tar.js';
import { NotFound, self, Tree } from '../copy/tree.js';
import { TreeWriter } from '../copy/tree-writer.js';
import { decompressed } from '../../image/layer-unpack.js';
import { WhaleboxError } from '../../util/errors.js';
import { scratchName } from '../../store/scratch.js';

/**
 * An image archive (`load`), unpacked into a scratch directory for the random access its
 * format needs. The archive is untrusted: it is written by cp's tree writer (no entry leaves
 * the directory, none is written through a symlink it made), only files, directories and
 * links are accepted, and every path it names is resolved inside the directory, as the
 * archive's own symlinks (legacy archives link shared layers) lead. A file named by its digest
 * is read only once that digest is checked.
 */

/** A file of the archive, what to call it in errors, and its digest when its name gives one. */
export interface ArchiveFile {
  readonly path: string;
  readonly what: string;
  readonly digest?: string;
}

export const invalid = (reason: string): WhaleboxError => new WhaleboxError(`invalid archive: ${reason}`, 1);

const ACCEPTED = new Set<Entry['type']>(['file', 'directory', 'symlink', 'link']);

export class ArchiveDir {
  private constructor(
    private readonly dir: string,
    private readonly tree: Tree,
  ) {}

  /** Unpacks the tar (plain or compressed, as Docker's load accepts) into a scratch directory under `parent`. */
  static async extract(input: Readable, parent: string): Promise<ArchiveDir> {
    mkdirSync(parent, { recursive: true });
    const dir = join(parent, scratchName('tmp-load-'));
    mkdirSync(dir, { mode: 0o700 });
    let archive: ArchiveDir | undefined;
    try {
      archive = new ArchiveDir(dir, Tree.open(dir, (path) => path));
      await new TreeWriter(archive.tree, archive.tree.root, 'caller').write(accepted(tarEntries(await decompressed(input))));
      return archive;
    } catch (err) {
      if (archive) archive.remove();
      else rmSync(dir, { recursive: true, force: true });
      throw err instanceof WhaleboxError ? invalid(err.message.replace(/^invalid archive: /, '')) : err;
    }
  }

  has(path: string): boolean {
    try {
      closeSync(this.open({ path, what: path }));
      return true;
    } catch (err) {
      if (err instanceof WhaleboxError) return false;
      throw err;
    }
  }

  /** Fails when the file is not in the archive. */
  require(file: ArchiveFile): void {
    closeSync(this.open(file));
  }

  /** A file's bytes, checked against its digest when it has one. */
  read(file: ArchiveFile): Buffer {
    const fd = this.open(file);
    try {
      const data = readFileSync(fd);
      checkDigest(file, createHash('sha256').update(data).digest('hex'));
      return data;
    } finally {
      closeSync(fd);
    }
  }

  /** Fails when the file is missing, or does not hash to its digest. */
  async check(file: ArchiveFile): Promise<void> {
    const fd = this.open(file);
    if (file.digest === undefined) return closeSync(fd);
    const hash = createHash('sha256');
    for await (const chunk of createReadStream('', { fd })) hash.update(chunk as Buffer);
    checkDigest(file, hash.digest('hex'));
  }

  stream(file: ArchiveFile): Readable {
    return createReadStream('', { fd: this.open(file) });
  }

  remove(): void {
    this.tree.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A regular file of the archive, opened for reading. */
  private open({ path, what }: ArchiveFile): number {
    const missing = (): WhaleboxError => invalid(`${what}, "${path}", is not in the archive`);
    let location;
    try {
      location = this.tree.resolve(posix.join('/', path), { followLast: true });
    } catch (err) {
      if (err instanceof NotFound) throw missing();
      throw err;
    }
    try {
      if (!location.node?.stat.isFile()) throw missing();
      return openSync(self(location.node.fd), constants.O_RDONLY);
    } finally {
      this.tree.release(location.parent, location.node);
    }
  }
}

/** `blobs/sha256/<hex>`: where OCI layouts (and Docker 25's archives) keep a digest's blob. */
export function archiveBlobPath(digest: string): string {
  const match = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!match) throw invalid(`unsupported digest "${digest}" (only sha256 is)`);
  return `blobs/sha256/${match[1]}`;
}

/** The digest a path names, when it is a blob path or a legacy `<hex>.json` config. */
export function digestOfPath(path: string): string | undefined {
  const match = /^(?:\.\/)?(?:blobs\/sha256\/([a-f0-9]{64})|([a-f0-9]{64})\.json)$/.exec(path);
  return match ? `sha256:${match[1] ?? match[2]}` : undefined;
}

export function parseJson(data: Buffer, what: string): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw invalid(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function checkDigest({ what, digest }: ArchiveFile, hex: string): void {
  if (digest !== undefined && digest !== `sha256:${hex}`) throw invalid(`${what} does not match its digest: expected ${digest}, got sha256:${hex}`);
}

async function* accepted(entries: AsyncIterable<Entry>): AsyncGenerator<Entry> {
  for await (const entry of entries) {
    if (!ACCEPTED.has(entry.type)) throw invalid(`"${entry.name}" is a ${entry.type}`);
    // Only this process reads the scratch copy: the archive's modes and set-id bits mean nothing here.
    yield { ...entry, mode: entry.type === 'directory' ? 0o700 : 0o600 };
  }
}
