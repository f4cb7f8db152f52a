import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
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
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { posix } from 'node:path';
import { WhaleboxError } from '../../util/errors.js';
import type { Entry } from './entries.js';
import { failure } from './errors.js';
import { at, inode, NotFound, self, type Location, type Node, type Tree } from './tree.js';

/** The bytes an entry takes in a tar: a header block and the contents padded to blocks. */
const tarBlocks = (entry: Entry): number => 512 + Math.ceil(entry.size / 512) * 512;
const TAR_END = 1024;

/** Who owns what a copy writes: each entry's owner, a fixed user, or whoever runs the copy. */
export type Ownership = 'entry' | 'caller' | { readonly uid: number; readonly gid: number };

/**
 * Writes entries into `dir` as Docker's extraction does: missing parents are made (0755), an
 * existing file is replaced, an existing directory takes the entry's metadata and keeps its
 * contents, and a directory never replaces a non-directory or the other way round. Symlinks
 * in the destination are followed inside the tree's root, except those the copy itself made.
 */
export class TreeWriter {
  bytes = TAR_END;
  /** Symlinks made by this copy, which later entries may not be written through. */
  private readonly createdLinks = new Set<string>();
  /** Directory times, set last: writing into a directory changes its mtime. */
  private readonly directoryTimes: Array<{ relative: string; mtime: number }> = [];
  /** The directory of the previous entry; entries mostly come grouped by directory. */
  private lastParent: { relative: string; node: Node } | undefined;

  constructor(
    private readonly tree: Tree,
    private readonly dir: Node,
    private readonly owner: Ownership,
  ) {}

  async write(entries: AsyncIterable<Entry>): Promise<number> {
    try {
      for await (const entry of entries) {
        await this.entry(entry);
        this.bytes += tarBlocks(entry);
      }
      this.setDirectoryTimes();
    } finally {
      if (this.lastParent) this.tree.release(this.lastParent.node);
    }
    return this.bytes;
  }

  private async entry(entry: Entry): Promise<void> {
    const relative = this.relative(entry.name, entry.name);
    if (relative === '.') {
      // The destination directory itself (a `dir/.` copy): Docker leaves it as it is.
      if (entry.type !== 'directory') throw this.overwriteError(this.dir.path, true);
      return;
    }
    const parent = this.parent(posix.dirname(relative));
    const base = posix.basename(relative);
    const path = posix.join(parent.path, base);
    let existing: Node | undefined;
    try {
      existing = this.tree.child(parent, base);
      if (existing) {
        const isDirectory = existing.stat.isDirectory();
        if (isDirectory !== (entry.type === 'directory')) throw this.overwriteError(path, isDirectory);
        if (!isDirectory) {
          if (this.tree.mountPoints.has(path)) throw new WhaleboxError(`${this.tree.label(path)}: device or resource busy`, 1);
          unlinkSync(at(parent.fd, base));
        }
      }
      await this.create(entry, relative, parent, base, existing);
    } catch (err) {
      throw failure(this.tree.label(path), err);
    } finally {
      this.tree.release(existing);
    }
  }

  private async create(entry: Entry, relative: string, parent: Node, base: string, existing: Node | undefined): Promise<void> {
    const owner = this.owner === 'caller' ? undefined : this.owner === 'entry' ? entry : this.owner;
    switch (entry.type) {
      case 'directory': {
        if (!existing) mkdirSync(at(parent.fd, base), 0o700);
        const node = existing ?? this.tree.child(parent, base);
        if (!node?.stat.isDirectory()) throw new WhaleboxError(`${this.tree.label(posix.join(parent.path, base))}: not a directory`, 1);
        try {
          if (owner) chownSync(self(node.fd), owner.uid, owner.gid);
          chmodSync(self(node.fd), entry.mode);
        } finally {
          if (node !== existing) this.tree.release(node);
        }
        this.directoryTimes.push({ relative, mtime: entry.mtime });
        return;
      }
      case 'file': {
        const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
        const fd = openSync(at(parent.fd, base), flags, 0o600);
        try {
          for await (const chunk of entry.body ?? []) {
            for (let offset = 0; offset < chunk.length; ) offset += writeSync(fd, chunk, offset);
          }
          if (owner) fchownSync(fd, owner.uid, owner.gid);
          // After chown, which clears the set-user-ID and set-group-ID bits.
          fchmodSync(fd, entry.mode);
          futimesSync(fd, entry.mtime, entry.mtime);
        } finally {
          closeSync(fd);
        }
        return;
      }
      case 'symlink':
        symlinkSync(entry.linkname ?? '', at(parent.fd, base));
        this.createdLinks.add(inode(lstatSync(at(parent.fd, base))));
        break;
      case 'link': {
        const notCopied = new WhaleboxError(`hard link "${entry.name}": its target "${entry.linkname}" is not a file copied before it`, 1);
        let target: Location;
        try {
          target = this.tree.resolve(posix.join(this.dir.path, this.relative(entry.name, entry.linkname ?? '')), {
            untraversable: this.createdLinks,
          });
        } catch (err) {
          throw err instanceof NotFound ? notCopied : err;
        }
        try {
          if (!target.node || target.node.stat.isDirectory()) throw notCopied;
          // link(2) does not follow a symlink target: the new name shares the symlink's inode.
          linkSync(at(target.parent.fd, target.name), at(parent.fd, base));
        } finally {
          this.tree.release(target.parent, target.node);
        }
        return; // a hard link has the metadata of its target
      }
      default:
        makeNode(entry, parent, base);
    }
    if (owner) lchownSync(at(parent.fd, base), owner.uid, owner.gid);
    lutimesSync(at(parent.fd, base), entry.mtime, entry.mtime);
  }

  /** An entry name (or hard link target) relative to the destination: `.` for itself. */
  private relative(entryName: string, text: string): string {
    // A leading `/` means the destination, as for Docker, which extracts in a chroot.
    const relative = posix.normalize(text.replace(/^\/+/, '') || '.').replace(/\/+$/, '') || '.';
    if (relative === '..' || relative.startsWith('../')) {
      throw new WhaleboxError(`"${entryName}" is outside of "${this.tree.label(this.dir.path)}"`, 1);
    }
    return relative;
  }

  private parent(relative: string): Node {
    if (relative === '.') return this.dir;
    if (this.lastParent?.relative === relative) return this.lastParent.node;
    if (this.lastParent) this.tree.release(this.lastParent.node);
    this.lastParent = undefined;
    const path = posix.join(this.dir.path, relative);
    let location: Location;
    try {
      location = this.tree.resolve(path, { create: true, untraversable: this.createdLinks });
    } catch (err) {
      // With `create`, only a component that is not a directory stops the walk.
      if (err instanceof NotFound) throw new WhaleboxError(`${this.tree.label(err.path)}: not a directory`, 1);
      throw failure(this.tree.label(path), err);
    }
    this.tree.release(location.parent);
    const node = location.node!;
    if (!node.stat.isDirectory()) {
      this.tree.release(node);
      throw new WhaleboxError(`${this.tree.label(path)}: not a directory`, 1);
    }
    this.lastParent = { relative, node };
    return node;
  }

  private overwriteError(path: string, isDirectory: boolean): WhaleboxError {
    const [existing, incoming] = isDirectory ? ['directory', 'non-directory'] : ['non-directory', 'directory'];
    return new WhaleboxError(`cannot overwrite ${existing} "${this.tree.label(path)}" with ${incoming} "${this.tree.label(this.dir.path)}"`, 1);
  }

  private setDirectoryTimes(): void {
    const depth = (relative: string): number => relative.split('/').length;
    for (const { relative, mtime } of this.directoryTimes.sort((a, b) => depth(b.relative) - depth(a.relative))) {
      let location: Location;
      try {
        location = this.tree.resolve(posix.join(this.dir.path, relative), { untraversable: this.createdLinks });
      } catch (err) {
        if (err instanceof NotFound) continue; // gone meanwhile: nothing to date
        throw err;
      }
      try {
        if (location.node?.stat.isDirectory()) utimesSync(self(location.node.fd), mtime, mtime);
      } finally {
        this.tree.release(location.parent, location.node);
      }
    }
  }
}

/** Device nodes and fifos: Node.js has no mknod(2), so mknod(1) makes them, reaching the
 *  directory through this process's descriptor for it. Rare enough to spawn for. */
function makeNode(entry: Entry, parent: Node, base: string): void {
  const path = `/proc/${process.pid}/fd/${parent.fd}/${base}`;
  const kind = entry.type === 'fifo' ? ['p'] : [entry.type === 'block-device' ? 'b' : 'c', String(entry.devmajor ?? 0), String(entry.devminor ?? 0)];
  const made = spawnSync('mknod', ['-m', entry.mode.toString(8), path, ...kind], { encoding: 'utf8' });
  if (made.status !== 0) throw new WhaleboxError(`mknod ${entry.name}: ${made.stderr.trim() || made.error?.message}`, 1);
}
