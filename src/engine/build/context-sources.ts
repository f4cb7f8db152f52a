import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { WhaleboxError } from '../../util/errors.js';
import { listNames, nodeEntry, openChild, type Entry } from '../copy/entries.js';
import { failure } from '../copy/errors.js';
import { NotFound, Tree, type Location, type Node } from '../copy/tree.js';
import type { BuildContext } from './build-context.js';
import { goGlob, type IgnoreMatcher } from './dockerignore.js';

/**
 * The sources of COPY and ADD in a build context: which paths a pattern names, a checksum of
 * what they hold for the layer cache, and their files as copy entries.
 *
 * The context is walked with cp's Tree: every path, symlinks included, resolves inside the
 * context's root, so a symlink in the context never leads to the host's files. What
 * `.dockerignore` leaves out is not there at all, as if BuildKit had not transferred it:
 * ignore patterns apply to paths with their symlinks resolved.
 */

/** A file met in a walk: `base` in `parent`, named `name` relative to the walk's top. */
interface ContextFile {
  readonly parent: Node;
  readonly base: string;
  readonly node: Node;
  readonly name: string;
}

/** A node's path as ignore patterns name it: relative to the context, '' for its root. */
const contextPath = (node: Node): string => node.path.slice(1);

/** `./a/../b/` → `/b`: a source as BuildKit names it; `..` never climbs above the context. */
const absoluteSource = (path: string): string => posix.normalize(`/${path}`).replace(/(.)\/+$/, '$1');

function notFound(path: string): WhaleboxError {
  return new WhaleboxError(`failed to compute cache key: failed to calculate checksum of ref context: "${absoluteSource(path)}": not found`, 1);
}

/** The context's tree, for a source named `path`; a build without a context has none of it. */
function openTree(context: BuildContext, path: string): Tree {
  if (context.dir === undefined) throw notFound(path);
  return Tree.open(context.dir, (inside) => inside);
}

/**
 * The files of the walk from `top` that are not ignored, parents before children, names
 * sorted. An excluded directory is walked only when an exception may take back something
 * below it, and is yielded (just before that) only if one does, as BuildKit sends the parents
 * of what it sends. Nodes stay open until the walk moves past them.
 */
function included(tree: Tree, ignore: IgnoreMatcher, top: ContextFile): Generator<ContextFile> {
  return visit(tree, ignore, top, ignore.excludes(contextPath(top.node)), []);
}

function* visit(tree: Tree, ignore: IgnoreMatcher, file: ContextFile, excluded: boolean, held: ContextFile[]): Generator<ContextFile> {
  const isDirectory = file.node.stat.isDirectory();
  if (excluded && !(isDirectory && ignore.mayReinclude(contextPath(file.node)))) return;
  if (excluded) {
    held.push(file);
  } else {
    yield* held.splice(0);
    yield file;
  }
  if (!isDirectory) return;
  try {
    for (const base of listNames(tree, file.node)) {
      const node = openChild(tree, file.node, base);
      if (node === undefined) continue; // removed since the listing
      try {
        const child = { parent: file.node, base, node, name: posix.join(file.name, base) };
        yield* visit(tree, ignore, child, ignore.excludes(contextPath(node)), held);
      } finally {
        tree.release(node);
      }
    }
  } finally {
    if (held.at(-1) === file) held.pop();
  }
}

/** Whether a file is in the context: not ignored, or a directory with something taken back below. */
function present(tree: Tree, ignore: IgnoreMatcher, file: ContextFile): boolean {
  const files = included(tree, ignore, file);
  try {
    return !files.next().done;
  } finally {
    files.return(undefined);
  }
}

/** The source at `path`, followed if it is a symlink (as BuildKit does); undefined when absent or ignored. The caller releases it. */
function locate(tree: Tree, ignore: IgnoreMatcher, path: string, name: string): ContextFile | undefined {
  const absolute = absoluteSource(path);
  let found: Location;
  try {
    found = tree.resolve(absolute, { followLast: true });
  } catch (err) {
    if (err instanceof NotFound) return undefined;
    throw failure(absolute, err);
  }
  const { parent, node } = found;
  const file = node && { parent, base: found.name, node, name };
  if (file && present(tree, ignore, file)) return file;
  tree.release(parent, node);
  return undefined;
}

function exists(tree: Tree, ignore: IgnoreMatcher, path: string): boolean {
  const file = locate(tree, ignore, path, '.');
  tree.release(file?.parent, file?.node);
  return file !== undefined;
}

/** BuildKit's containsWildcards: `*`, `?` or `[` that no `\` escapes. */
function hasWildcards(segment: string): boolean {
  return /^(?:\\.|[^\\*?[])*[*?[]/su.test(segment);
}

/** A directory's names, or none when `path` is not a directory of the context. */
function directoryNames(tree: Tree, path: string): string[] {
  let found: Location;
  try {
    found = tree.resolve(`/${path}`, { followLast: true });
  } catch (err) {
    if (err instanceof NotFound) return [];
    throw failure(`/${path}`, err);
  }
  try {
    return found.node?.stat.isDirectory() ? listNames(tree, found.node) : [];
  } finally {
    tree.release(found.parent, found.node);
  }
}

/**
 * The paths a wildcard pattern names: what comes before its first wildcard segment is taken
 * as written; each segment from there is matched against the names of the directories found.
 */
function expand(tree: Tree, segments: readonly string[], first: number): string[] {
  let paths = [segments.slice(0, first).join('/') || '.'];
  for (const segment of segments.slice(first)) {
    const glob = goGlob(segment);
    paths = paths.flatMap((path) => directoryNames(tree, path).filter((name) => glob.test(name)).map((name) => posix.join(path, name)));
  }
  return paths;
}

/**
 * COPY/ADD source patterns → the paths they name, relative to the context root (`.` for the
 * root itself), sorted. Segments match as Go's filepath.Match (`*`, `?`, `[...]`, `\`
 * escapes); a leading `/` or `./` is the context root, and `..` cannot leave it. Ignored
 * files never match. A pattern that names nothing that is there (a missing or ignored path,
 * or a wildcard without a match) fails as BuildKit does: `…: "/missing.txt": not found`.
 */
export function matchSources(context: BuildContext, pattern: string): string[] {
  const tree = openTree(context, pattern);
  try {
    const segments = absoluteSource(pattern).split('/').filter((segment) => segment !== '');
    const first = segments.findIndex(hasWildcards);
    const candidates = first === -1 ? [segments.join('/') || '.'] : expand(tree, segments, first);
    const matches = candidates.filter((path) => exists(tree, context.ignore, path));
    if (matches.length === 0) throw notFound(pattern);
    return matches.sort();
  } finally {
    tree.close();
  }
}

/**
 * The entries of the source at `relPath` (followed if it is a symlink; symlinks below it are
 * not), named for a TreeWriter on the destination directory: the source's own entry is named
 * `name` and what is below it `name/…` (posix.join, so with `.` just `a`, `a/b`…).
 *
 * For Docker's COPY: a directory's contents go into the destination, so pass `.` with the
 * destination directory (its `.` entry, first, is the source directory, which the writer
 * leaves alone); a file goes under its name in the destination, so pass that name (the
 * source's basename, or the destination's own when it names a file). Ignored files are left
 * out; owners are those on disk, for the builder to override.
 */
export async function* sourceEntries(context: BuildContext, relPath: string, name: string): AsyncGenerator<Entry> {
  const tree = openTree(context, relPath);
  try {
    const top = locate(tree, context.ignore, relPath, name);
    if (top === undefined) throw notFound(relPath);
    try {
      const hardLinks = new Map<string, string>();
      for (const file of included(tree, context.ignore, top)) {
        const entry = nodeEntry(tree, file.parent, file.base, file.node, file.name, hardLinks);
        if (entry) yield entry;
      }
    } finally {
      tree.release(top.parent, top.node);
    }
  } finally {
    tree.close();
  }
}

/** Whether the source at `relPath` is a directory (followed if it is a symlink), which COPY copies the contents of. */
export function isDirectorySource(context: BuildContext, relPath: string): boolean {
  const tree = openTree(context, relPath);
  try {
    const top = locate(tree, context.ignore, relPath, '.');
    if (top === undefined) throw notFound(relPath);
    const isDirectory = top.node.stat.isDirectory();
    tree.release(top.parent, top.node);
    return isDirectory;
  } finally {
    tree.close();
  }
}

/** An entry as the checksum sees it: no owners and no times, as Docker's checksums leave them out. */
async function entryRecord(entry: Entry): Promise<string> {
  const contents = createHash('sha256');
  for await (const chunk of entry.body ?? []) contents.update(chunk);
  const { name, type, mode, linkname = '', devmajor = 0, devminor = 0 } = entry;
  return JSON.stringify([name, type, mode, linkname, devmajor, devminor, contents.digest('hex')]);
}

/**
 * A digest (`sha256:…`) of what the sources hold, for the layer cache: each source's path,
 * then for every file under it that is not ignored, its path relative to the source, type,
 * permission bits, symlink target and the sha256 of its contents. A `touch` keeps it.
 */
export async function checksumSources(context: BuildContext, relPaths: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const relPath of relPaths) {
    hash.update(`${JSON.stringify(absoluteSource(relPath))}\n`);
    for await (const entry of sourceEntries(context, relPath, '.')) hash.update(`${await entryRecord(entry)}\n`);
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Bytes of the files of a context directory that are not ignored. */
export function contextSize(dir: string, ignore: IgnoreMatcher): number {
  const tree = Tree.open(dir, (inside) => inside);
  try {
    let size = 0;
    for (const { node } of included(tree, ignore, { parent: tree.root, base: '.', node: tree.root, name: '.' })) {
      if (node.stat.isFile()) size += node.stat.size;
    }
    return size;
  } finally {
    tree.close();
  }
}
