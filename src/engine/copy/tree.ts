import { chmodSync, closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { errnoCode, WhaleboxError } from '../../util/errors.js';
import { failure } from './errors.js';

/**
 * Paths under a root that they never leave: a container's, or the host's `/`.
 *
 * A container's paths may not be resolved by the kernel from here: an absolute symlink in the
 * container would resolve against the host's root. So paths are resolved one component at a
 * time, as openat2(RESOLVE_IN_ROOT) would (Node has no openat2): every component is opened
 * `O_PATH|O_NOFOLLOW` relative to the directory held open before it (through
 * `/proc/self/fd/N/name`), a symlink's target is read and walked by us with absolute targets
 * restarting at the container's root, and `..` never climbs above it. The kernel crosses the
 * container's own mounts on the way. Files are then opened through their `O_PATH` descriptor,
 * never by path again, so a container that swaps a directory for a symlink meanwhile cannot
 * send a read or a write outside its root. The host side uses the same walker with `/` as root.
 */

/** Linux's O_PATH, which `fs.constants` lacks: a handle on a name that opens nothing. */
export const O_PATH = 0o10000000;
const MAX_SYMLINKS = 40;

export const at = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;
/** The exact inode behind a descriptor: opening, chmod or utimes through it resolve nothing. */
export const self = (fd: number): string => `/proc/self/fd/${fd}`;
export const inode = (stat: Stats): string => `${stat.dev}:${stat.ino}`;

/** A file held open with O_PATH, and where it is in its tree (every symlink resolved). */
export interface Node {
  readonly fd: number;
  readonly path: string;
  readonly stat: Stats;
}

/** The result of resolving a path: its last component's directory, name, and node if it exists. */
export interface Location {
  readonly parent: Node;
  readonly name: string;
  readonly node: Node | undefined;
}

interface ResolveOptions {
  /** Follow a symlink in the last component too. */
  readonly followLast?: boolean;
  /** Make missing directories (the last component too), following every symlink. */
  readonly create?: boolean;
  /** Symlinks (by inode) that must not be walked through: those that this copy created. */
  readonly untraversable?: ReadonlySet<string>;
}

/** A component short of the last is missing or not a directory. */
export class NotFound extends Error {
  constructor(readonly path: string) {
    super(`${path}: no such file or directory`);
  }
}

/** A directory tree with a root that paths never leave: the host's, or a container's. */
export class Tree {
  readonly root: Node;
  /** Bind mounts emulated by the walker (a stopped container's volumes): container path → host source. */
  private readonly binds = new Map<string, string>();
  /**
   * Where something is mounted in the container. A copy must not replace those: unlinking one
   * from outside the container's mount namespace would quietly unmount it there (the kernel
   * says EBUSY only in the namespace of the caller), where Docker fails with EBUSY.
   */
  readonly mountPoints = new Set<string>();
  /**
   * Mounts that a walk does not enter: a running container's /proc, /sys, /dev, tmpfs... which
   * Docker's copies leave out (they see the root filesystem and the bind mounts only).
   */
  readonly opaque = new Set<string>();

  constructor(
    rootFd: number,
    /** How a path of this tree is named in messages. */
    readonly label: (path: string) => string,
  ) {
    this.root = { fd: rootFd, path: '/', stat: fstatSync(rootFd) };
  }

  static host(): Tree {
    return Tree.open('/', (path) => path);
  }

  /** The tree under a directory of the host; errors name the directory. */
  static open(dir: string, label: (path: string) => string): Tree {
    try {
      return new Tree(openSync(dir, O_PATH | constants.O_DIRECTORY), label);
    } catch (err) {
      throw failure(dir, err);
    }
  }

  /** Makes the walker cross into `source` at `path`, as a bind mount would. */
  mount(path: string, source: string): void {
    this.binds.set(path, source);
    this.mountPoints.add(path);
  }

  /** Opens `name` in `dir` without following it; undefined when it does not exist. */
  child(dir: Node, name: string): Node | undefined {
    const path = posix.join(dir.path, name);
    const source = this.binds.get(path);
    let fd: number;
    try {
      fd = source === undefined ? openSync(at(dir.fd, name), O_PATH | constants.O_NOFOLLOW) : openSync(source, O_PATH);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    return { fd, path, stat: fstatSync(fd) };
  }

  /** The names in a directory, sorted, with the emulated mount points that are not there yet. */
  names(dir: Node): string[] {
    const names = new Set(readdirSync(self(dir.fd)));
    for (const path of this.binds.keys()) {
      if (path !== '/' && posix.dirname(path) === dir.path) names.add(posix.basename(path));
    }
    return [...names].sort();
  }

  release(...nodes: Array<Node | undefined>): void {
    for (const node of nodes) if (node && node !== this.root) closeSync(node.fd);
  }

  /**
   * Resolves an absolute path inside the tree. The caller releases the location's parent and
   * node. Throws NotFound when a component before the last is missing or not a directory.
   */
  resolve(path: string, options: ResolveOptions = {}): Location {
    const stack: Node[] = [this.root];
    const pending = components(path);
    let links = 0;
    try {
      while (pending.length > 0) {
        const name = pending.shift()!;
        if (name === '..') {
          if (stack.length > 1) this.release(stack.pop());
          continue;
        }
        const dir = stack[stack.length - 1]!;
        const last = pending.length === 0;
        const child = this.child(dir, name);
        if (child === undefined) {
          if (!options.create) {
            if (last) return this.located(stack, name, undefined);
            throw new NotFound(posix.join(dir.path, name));
          }
          mkdirSync(at(dir.fd, name));
          // chmod through the new directory's own descriptor (whatever the umask): by name, it
          // could already be a symlink put there by the container, leading out of its root.
          const made = this.child(dir, name);
          if (made?.stat.isDirectory()) chmodSync(self(made.fd), 0o755);
          this.release(made);
          pending.unshift(name); // and look again: it may not be what we made by now
          continue;
        }
        if (child.stat.isSymbolicLink() && (!last || options.followLast || options.create)) {
          this.release(child);
          if (options.untraversable?.has(inode(child.stat))) {
            throw new WhaleboxError(`refusing to write through ${this.label(child.path)}, a symbolic link from the copied archive`, 1);
          }
          if (++links > MAX_SYMLINKS) throw new WhaleboxError(`${this.label(path)}: too many levels of symbolic links`, 1);
          const target = readlinkSync(at(dir.fd, name));
          if (target.startsWith('/')) while (stack.length > 1) this.release(stack.pop());
          pending.unshift(...components(target));
          continue;
        }
        if (last) return this.located(stack, name, child);
        if (!child.stat.isDirectory()) {
          this.release(child);
          throw new NotFound(child.path);
        }
        stack.push(child);
      }
      // The path ended on a directory already walked into (`/`, `..`, or a symlink to it).
      if (stack.length === 1) return { parent: this.root, name: '.', node: this.root };
      const node = stack.pop()!;
      return this.located(stack, posix.basename(node.path), node);
    } catch (err) {
      this.release(...stack);
      throw err;
    }
  }

  /** The location in the directory on top of `stack`, releasing the directories below it. */
  private located(stack: Node[], name: string, node: Node | undefined): Location {
    const parent = stack.pop()!;
    this.release(...stack);
    return { parent, name, node };
  }

  close(): void {
    closeSync(this.root.fd);
  }
}

/** `a//b/./c/` → [a, b, c]; `..` is left to the walker. */
function components(path: string): string[] {
  return path.split('/').filter((component) => component !== '' && component !== '.');
}
