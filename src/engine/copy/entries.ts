import { closeSync, constants, openSync, readlinkSync, readSync } from 'node:fs';
import { posix } from 'node:path';
import { failure } from './errors.js';
import { at, inode, self, type Location, type Node, type Tree } from './tree.js';

export type EntryType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

/** One file of a copy, as a tar entry describes it. */
export interface Entry {
  /** Relative to the copy's destination directory, `/`-separated. */
  readonly name: string;
  readonly type: EntryType;
  /** Permission bits (07777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  /** Bytes of a file's contents; 0 for anything else. */
  readonly size: number;
  /** A symlink's target, or the entry name a hard link shares its inode with. */
  readonly linkname?: string;
  readonly devmajor?: number;
  readonly devminor?: number;
  /** A file's contents, exactly `size` bytes; consumed before the next entry is asked for. */
  readonly body?: AsyncIterable<Uint8Array>;
  /** Extended attributes (name → raw value), written as pax `SCHILY.xattr.NAME` records. */
  readonly xattrs?: ReadonlyMap<string, Buffer>;
}

/** The entries of the tree at `source` (not followed if it is a symlink), named `name` at the top. */
export async function* treeEntries(tree: Tree, source: Location & { node: Node }, name: string): AsyncGenerator<Entry> {
  yield* walk(tree, source.parent, source.name, source.node, name, new Map());
}

async function* walk(tree: Tree, parent: Node, base: string, node: Node, name: string, hardLinks: Map<string, string>): AsyncGenerator<Entry> {
  const entry = nodeEntry(tree, parent, base, node, name, hardLinks);
  if (entry) yield entry;
  if (!node.stat.isDirectory() || tree.opaque.has(node.path)) return;
  for (const childName of listNames(tree, node)) {
    const child = openChild(tree, node, childName);
    if (child === undefined) continue; // removed since the listing
    try {
      yield* walk(tree, node, childName, child, `${name}/${childName}`, hardLinks);
    } finally {
      tree.release(child);
    }
  }
}

/**
 * The entry for one file, `base` in `parent`, named `name`; a directory's own entry without
 * its contents. A file whose inode `hardLinks` (inode → entry name) has seen becomes a hard
 * link to that entry. Undefined for a socket, which Docker skips.
 */
export function nodeEntry(tree: Tree, parent: Node, base: string, node: Node, name: string, hardLinks: Map<string, string>): Entry | undefined {
  const { stat } = node;
  const common = { name, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, mtime: stat.mtimeMs / 1000, size: 0 };
  try {
    if (stat.isDirectory()) return { ...common, type: 'directory' };
    if (stat.isFile() && stat.nlink > 1 && hardLinks.has(inode(stat))) return { ...common, type: 'link', linkname: hardLinks.get(inode(stat))! };
    if (stat.isFile()) {
      if (stat.nlink > 1) hardLinks.set(inode(stat), name);
      return { ...common, type: 'file', size: stat.size, body: fileContents(node, stat.size) };
    }
    if (stat.isSymbolicLink()) return { ...common, type: 'symlink', linkname: readlinkSync(at(parent.fd, base)) };
    if (stat.isCharacterDevice() || stat.isBlockDevice()) {
      const { major, minor } = deviceNumbers(stat.rdev);
      return { ...common, type: stat.isBlockDevice() ? 'block-device' : 'character-device', devmajor: major, devminor: minor };
    }
    if (stat.isFIFO()) return { ...common, type: 'fifo' };
    return undefined;
  } catch (err) {
    throw failure(tree.label(node.path), err);
  }
}

/** A directory's names, sorted; errors name the directory. */
export function listNames(tree: Tree, dir: Node): string[] {
  try {
    return tree.names(dir);
  } catch (err) {
    throw failure(tree.label(dir.path), err);
  }
}

/** `name` in `dir`, not followed; undefined when it is gone. Errors name the file. */
export function openChild(tree: Tree, dir: Node, name: string): Node | undefined {
  try {
    return tree.child(dir, name);
  } catch (err) {
    throw failure(tree.label(posix.join(dir.path, name)), err);
  }
}

/** glibc's gnu_dev_major / gnu_dev_minor. */
function deviceNumbers(rdev: number): { major: number; minor: number } {
  const high = Math.floor(rdev / 2 ** 32);
  const low = rdev >>> 0;
  return { major: ((low >>> 8) & 0xfff) | (high & ~0xfff), minor: (low & 0xff) | ((low >>> 12) & ~0xff) };
}

/**
 * A file's contents, `size` bytes as it was listed: a file that grew is cut there and one that
 * shrank is padded with zeros (as GNU tar does), so that a tar of it stays well-formed.
 */
async function* fileContents(node: Node, size: number): AsyncGenerator<Uint8Array> {
  // O_NONBLOCK: never hang on something that is not a regular file (it is one: this reopens
  // the very inode that was checked, through its O_PATH descriptor).
  const fd = openSync(self(node.fd), constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    for (let left = size; left > 0; ) {
      const chunk = Buffer.allocUnsafe(Math.min(left, 1 << 17));
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) {
        yield Buffer.alloc(left);
        return;
      }
      left -= read;
      yield chunk.subarray(0, read);
    }
  } finally {
    closeSync(fd);
  }
}
