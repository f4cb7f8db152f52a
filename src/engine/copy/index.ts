import { posix, resolve as resolveHostPath } from 'node:path';
import { WhaleboxError } from '../../util/errors.js';
import type { Context } from '../context.js';
import { withContainer, type ContainerFiles } from './container-files.js';
import { treeEntries } from './entries.js';
import { failure } from './errors.js';
import { tarEntries, writeTar } from './tar.js';
import { NotFound, Tree, type Location, type Node } from './tree.js';
import { TreeWriter, type Ownership } from './tree-writer.js';

/**
 * Docker's `cp`: files between a container and the host, in both directions, or as a tar stream.
 *
 * Both sides meet as a stream of entries (what a tar holds); `-` turns that stream into a tar
 * on stdout, or reads it from a tar on stdin.
 */

export interface CopyOptions {
  /** -a: keep the owners of the source (otherwise: the container's user inside, the caller outside). */
  readonly archive: boolean;
  /** -L: follow SRC_PATH itself when it is a symlink. */
  readonly followLink: boolean;
}

/** A path as typed, made absolute, and what its ending asks for (Docker's copy rules). */
interface PathSpec {
  readonly path: string;
  /** Ends in `/.` (or is `.` or `/`): the contents of a directory, not the directory. */
  readonly contents: boolean;
  /** Ends in `/` or `/.`: must be a directory. */
  readonly directory: boolean;
}

function pathSpec(absolute: string, typed: string): PathSpec {
  const contents = posix.basename(typed) === '.' || absolute === '/';
  return { path: absolute, contents, directory: contents || typed.endsWith('/') };
}

const containerPath = (typed: string): PathSpec => pathSpec(posix.join('/', typed), typed);
const hostPath = (typed: string): PathSpec => pathSpec(resolveHostPath(typed), typed);

/** What the copy's top entry is called: the source's name, or `.` for its contents. */
const sourceName = (source: PathSpec): string => (source.contents ? '.' : posix.basename(source.path));

/**
 * Where a source lands (Docker's rules): into an existing directory under its own name;
 * over an existing file (a file only); else created under the destination's name, in its
 * parent. Returns the directory to write into and the top entry's name there.
 */
function placement(tree: Tree, sourceIsDirectory: boolean, source: PathSpec, destination: PathSpec, found: Location): { dir: Node; name: string } {
  const { node } = found;
  if (node?.stat.isDirectory()) return { dir: node, name: sourceName(source) };
  if (node && destination.directory) throw new WhaleboxError(`${tree.label(destination.path)}: not a directory`, 1);
  if (node && sourceIsDirectory) throw new WhaleboxError('cannot copy directory', 1);
  if (!node && !sourceIsDirectory && destination.directory) throw new WhaleboxError('no such directory', 1);
  return { dir: found.parent, name: found.name };
}

/** The source to copy: resolved without following its last component unless -L or `dir/`. */
function findSource(tree: Tree, source: PathSpec, followLink: boolean, missing: () => WhaleboxError): Location & { node: Node } {
  let found: Location;
  try {
    found = tree.resolve(source.path, { followLast: followLink || source.directory });
  } catch (err) {
    throw err instanceof NotFound ? missing() : failure(tree.label(source.path), err);
  }
  const { node } = found;
  if (node === undefined) {
    tree.release(found.parent);
    throw missing();
  }
  if (source.directory && !node.stat.isDirectory()) {
    tree.release(found.parent, node);
    throw new WhaleboxError(`${tree.label(source.path)}: not a directory`, 1);
  }
  return { ...found, node };
}

/** Docker's refusal to write into a read-only volume, or a read-only root outside volumes. */
function checkWritable(files: ContainerFiles, path: string): void {
  const within = files.binds.filter((bind) => path === bind.path || path.startsWith(bind.path === '/' ? '/' : `${bind.path}/`));
  const volume = within.sort((a, b) => b.path.length - a.path.length)[0];
  if (volume?.readonly) throw new WhaleboxError('mounted volume is marked read-only', 1);
  if (!volume && files.readonlyRootfs) throw new WhaleboxError('container rootfs is marked read-only', 1);
}

/**
 * `cp CONTAINER:SRC DEST`: into a host path, or as a tar to a stream (`-`). Returns the bytes
 * copied, counted as the tar Docker would have sent.
 */
export async function copyFromContainer(
  context: Context,
  reference: string,
  typedSource: string,
  destination: string | NodeJS.WritableStream,
  options: CopyOptions,
): Promise<number> {
  const host = typeof destination === 'string' ? hostPath(destination) : undefined;
  return withContainer(context, reference, async ({ tree }) => {
    const source = containerPath(typedSource);
    const found = findSource(tree, source, options.followLink, () => new WhaleboxError(`No such container:path: ${reference}:${typedSource}`, 1));
    try {
      if (host === undefined) return await writeTar(treeEntries(tree, found, sourceName(source)), destination as NodeJS.WritableStream);
      const local = Tree.host();
      try {
        let target: Location;
        try {
          target = local.resolve(host.path, { followLast: true });
        } catch (err) {
          if (err instanceof NotFound) throw new WhaleboxError(`invalid output path: directory "${posix.dirname(host.path)}" does not exist`, 1);
          throw failure(host.path, err);
        }
        try {
          const { dir, name } = placement(local, found.node.stat.isDirectory(), source, host, target);
          return await new TreeWriter(local, dir, options.archive ? 'entry' : 'caller').write(treeEntries(tree, found, name));
        } finally {
          local.release(target.parent, target.node);
        }
      } finally {
        local.close();
      }
    } finally {
      tree.release(found.parent, found.node);
    }
  });
}

/**
 * `cp SRC CONTAINER:DEST`: a host path, or a tar read from a stream (`-`) into an existing
 * directory. Returns the bytes copied, counted as the tar Docker would have sent.
 */
export async function copyToContainer(
  context: Context,
  source: string | NodeJS.ReadableStream,
  reference: string,
  typedDestination: string,
  options: CopyOptions,
): Promise<number> {
  const local = typeof source === 'string' ? hostPath(source) : undefined;
  return withContainer(context, reference, async (files) => {
    const { tree } = files;
    const destination = containerPath(typedDestination);
    let target: Location;
    try {
      target = tree.resolve(destination.path, { followLast: true });
    } catch (err) {
      if (!(err instanceof NotFound)) throw failure(tree.label(destination.path), err);
      const parent = posix.dirname(posix.normalize(typedDestination).replace(/\/+$/, '') || '/');
      throw new WhaleboxError(`Could not find the file ${parent} in container ${reference}`, 1);
    }
    const owner: Ownership = options.archive ? 'entry' : files.user;
    try {
      if (local === undefined) {
        if (!target.node?.stat.isDirectory()) throw new WhaleboxError(`destination "${reference}:${typedDestination}" must be a directory`, 1);
        checkWritable(files, target.node.path);
        return await new TreeWriter(tree, target.node, owner).write(tarEntries(source as NodeJS.ReadableStream));
      }
      const host = Tree.host();
      try {
        const found = findSource(host, local, options.followLink, () => new WhaleboxError(`lstat ${local.path}: no such file or directory`, 1));
        try {
          const { dir, name } = placement(tree, found.node.stat.isDirectory(), local, destination, target);
          checkWritable(files, dir.path);
          return await new TreeWriter(tree, dir, owner).write(treeEntries(host, found, name));
        } finally {
          host.release(found.parent, found.node);
        }
      } finally {
        host.close();
      }
    } finally {
      tree.release(target.parent, target.node);
    }
  });
}
