import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { listNames, nodeEntry, openChild, type Entry } from '../engine/copy/entries.js';
import { failure } from '../engine/copy/errors.js';
import { tarReadable } from '../engine/copy/tar.js';
import { at, Tree, type Node } from '../engine/copy/tree.js';
import { fsOps } from '../native/fsops.js';

/**
 * Layer directories (overlayfs's format: a whiteout is a character device 0/0, an opaque
 * directory has trusted.overlay.opaque=y) written as tars, through cp's entry model and tar
 * writer. Directories are walked through O_PATH descriptors (copy/tree.ts), so a running
 * container that swaps a directory of its upper dir for a symlink cannot lead the walk out.
 * Names are sorted, relative, without `./` and without an entry for the root, so the same tree
 * always gives the same bytes, and so the same diff ID.
 */

const OVERLAY_XATTRS = 'trusted.overlay.';
const OPAQUE_XATTR = 'trusted.overlay.opaque';
const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

/**
 * One layer directory as an image layer tar (`commit`): whiteouts become empty `.wh.NAME`
 * files, an opaque directory is followed by its `.wh..wh..opq` marker, xattrs other than the
 * overlay's own go into pax records, hard links inside the tree stay hard links.
 */
export function packLayer(dir: string): Readable {
  return tarReadable(entries([dir], false));
}

/**
 * The union of layer directories, top layer first, as overlayfs shows it (`export`): whiteouts
 * hide what is below them, an opaque directory hides the directories below it, and no
 * whiteout or overlay xattr appears in the tar.
 */
export function packMerged(dirsTopFirst: readonly string[]): Readable {
  return tarReadable(entries(dirsTopFirst, true));
}

/** A path as one layer has it: the node, and the directory it was opened in. */
interface Level {
  readonly tree: Tree;
  readonly parent: Node;
  readonly base: string;
  readonly node: Node;
}

/** How one tar is walked: merged or as one layer. */
interface Walk {
  readonly merged: boolean;
  /** Inode → the entry name it was first written under. */
  readonly hardLinks: Map<string, string>;
}

async function* entries(dirs: readonly string[], merged: boolean): AsyncGenerator<Entry> {
  const trees: Tree[] = [];
  try {
    for (const dir of dirs) trees.push(Tree.open(dir, (path) => join(dir, path)));
    const roots = trees.map((tree): Level => ({ tree, parent: tree.root, base: '.', node: tree.root }));
    yield* directory(roots, '', { merged, hardLinks: new Map() });
  } finally {
    for (const tree of trees) tree.close();
  }
}

/** The contents of a directory that `levels` (top first) all have, each name as the top level shows it. */
async function* directory(levels: readonly Level[], prefix: string, walk: Walk): AsyncGenerator<Entry> {
  const names = new Set(levels.flatMap((level) => listNames(level.tree, level.node)));
  for (const base of [...names].sort()) {
    const found = visible(levels, base, walk.merged);
    try {
      if (found.length > 0) yield* visit(found, `${prefix}${base}`, walk);
    } finally {
      for (const level of found) level.tree.release(level.node);
    }
  }
}

/**
 * `base` in each level that the overlay would show: from the top down to the first that is not
 * a directory (or is an opaque one, when merging), a non-directory under a directory left out.
 */
function visible(levels: readonly Level[], base: string, merged: boolean): Level[] {
  const found: Level[] = [];
  for (const { tree, node: parent } of levels) {
    const node = openChild(tree, parent, base);
    if (node === undefined) continue;
    const level = { tree, parent, base, node };
    if (found.length > 0 && !node.stat.isDirectory()) {
      tree.release(node);
      break;
    }
    found.push(level);
    if (!node.stat.isDirectory() || (merged && isOpaque(level))) break;
  }
  return found;
}

async function* visit(found: readonly Level[], name: string, walk: Walk): AsyncGenerator<Entry> {
  const top = found[0]!;
  const { stat } = top.node;
  if (stat.isCharacterDevice() && stat.rdev === 0) {
    if (walk.merged) return; // deleted: nothing below shows
    const slash = name.lastIndexOf('/') + 1;
    const whiteout = `${name.slice(0, slash)}${WHITEOUT_PREFIX}${name.slice(slash)}`;
    yield { name: whiteout, type: 'file', mode: 0o600, uid: stat.uid, gid: stat.gid, mtime: stat.mtimeMs / 1000, size: 0 };
    return;
  }
  const entry = nodeEntry(top.tree, top.parent, top.base, top.node, name, walk.hardLinks);
  if (entry === undefined) return;
  yield { ...entry, xattrs: xattrs(top) };
  if (entry.type !== 'directory') return;
  if (!walk.merged && isOpaque(top)) {
    yield { ...entry, name: `${name}/${OPAQUE_MARKER}`, type: 'file', mode: entry.mode & 0o777, size: 0 };
  }
  yield* directory(found, `${name}/`, walk);
}

function isOpaque(level: Level): boolean {
  try {
    return fsOps().lgetxattr(at(level.parent.fd, level.base), OPAQUE_XATTR)?.toString() === 'y';
  } catch (err) {
    throw failure(level.tree.label(level.node.path), err);
  }
}

/** The node's xattrs but the overlay's own; undefined when there are none. */
function xattrs(level: Level): Map<string, Buffer> | undefined {
  const path = at(level.parent.fd, level.base);
  const values = new Map<string, Buffer>();
  try {
    for (const name of fsOps().llistxattr(path)) {
      if (name.startsWith(OVERLAY_XATTRS)) continue;
      const value = fsOps().lgetxattr(path, name);
      if (value !== undefined) values.set(name, value);
    }
  } catch (err) {
    throw failure(level.tree.label(level.node.path), err);
  }
  return values.size > 0 ? values : undefined;
}
