import { ownsProcess } from '../runtime/processes.js';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { join, posix, resolve as resolveHostPath } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { getSystemErrorMap } from 'node:util';
import { extract as tarExtract, pack as tarPack, type Header, type Pack } from 'tar-stream';
import { OVERLAY_ANNOTATION } from '../runtime/plan.js';
import { readBundle, type Bundle } from '../runtime/runtime.js';
import { errnoCode, WhaleboxError } from '../util/errors.js';
import type { Context } from './context.js';
import { bundleDir, refreshContainer, resolveContainer } from './containers.js';

/**
 * Docker's `cp`: files between a container and the host, in both directions, or as a tar stream.
 *
 * How the container's files are reached. A running container's are behind `/proc/PID/root`
 * (its init's root, in its mount namespace: volumes and the /etc binds included); a stopped
 * container's overlay is mounted by a throwaway `unshare --mount` helper inside a private mount
 * namespace of its own, and reached the same way, through `/proc/HELPER/root/<bundle>/rootfs`;
 * the mount dies with that namespace, so nothing is ever mounted on the host (DESIGN.md).
 *
 * Neither path may be resolved by the kernel from here: an absolute symlink in the container
 * would resolve against the host's root. So paths are resolved one component at a time, as
 * openat2(RESOLVE_IN_ROOT) would (Node has no openat2): every component is opened
 * `O_PATH|O_NOFOLLOW` relative to the directory held open before it (through
 * `/proc/self/fd/N/name`), a symlink's target is read and walked by us with absolute targets
 * restarting at the container's root, and `..` never climbs above it. The kernel crosses the
 * container's own mounts on the way. Files are then opened through their `O_PATH` descriptor,
 * never by path again, so a container that swaps a directory for a symlink meanwhile cannot
 * send a read or a write outside its root. The host side uses the same walker with `/` as root.
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

/** Linux's O_PATH, which `fs.constants` lacks: a handle on a name that opens nothing. */
const O_PATH = 0o10000000;
const MAX_SYMLINKS = 40;

const at = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;
/** The exact inode behind a descriptor: opening, chmod or utimes through it resolve nothing. */
const self = (fd: number): string => `/proc/self/fd/${fd}`;
const inode = (stat: Stats): string => `${stat.dev}:${stat.ino}`;

/** A file held open with O_PATH, and where it is in its tree (every symlink resolved). */
interface Node {
  readonly fd: number;
  readonly path: string;
  readonly stat: Stats;
}

/** The result of resolving a path: its last component's directory, name, and node if it exists. */
interface Location {
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
class NotFound extends Error {
  constructor(readonly path: string) {
    super(`${path}: no such file or directory`);
  }
}

/** A directory tree with a root that paths never leave: the host's, or a container's. */
class Tree {
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
    return new Tree(openSync('/', O_PATH | constants.O_DIRECTORY), (path) => path);
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

type EntryType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

/** One file of a copy, as a tar entry describes it. */
interface Entry {
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
}

/** The bytes an entry takes in a tar: a header block and the contents padded to blocks. */
const tarBlocks = (entry: Entry): number => 512 + Math.ceil(entry.size / 512) * 512;
const TAR_END = 1024;

/** Turns system errors (which name /proc/self/fd paths) into one line about the file copied. */
function failure(label: string, err: unknown): unknown {
  const code = errnoCode(err);
  if (code === undefined || err instanceof WhaleboxError) return err;
  const errno = (err as NodeJS.ErrnoException).errno;
  const reason = (errno === undefined ? undefined : getSystemErrorMap().get(errno)?.[1]) ?? code;
  return new WhaleboxError(`${label}: ${reason}`, 1);
}

// Reading a tree --------------------------------------------------------------------------

/** The entries of the tree at `source` (not followed if it is a symlink), named `name` at the top. */
async function* treeEntries(tree: Tree, source: Location & { node: Node }, name: string): AsyncGenerator<Entry> {
  yield* walk(tree, source.parent, source.name, source.node, name, new Map());
}

async function* walk(tree: Tree, parent: Node, base: string, node: Node, name: string, hardLinks: Map<string, string>): AsyncGenerator<Entry> {
  const { stat } = node;
  const common = { name, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, mtime: stat.mtimeMs / 1000, size: 0 };
  let children: string[] = [];
  try {
    if (stat.isDirectory()) {
      if (!tree.opaque.has(node.path)) children = tree.names(node);
    } else if (stat.isFile() && stat.nlink > 1 && hardLinks.has(inode(stat))) {
      yield { ...common, type: 'link', linkname: hardLinks.get(inode(stat))! };
    } else if (stat.isFile()) {
      if (stat.nlink > 1) hardLinks.set(inode(stat), name);
      yield { ...common, type: 'file', size: stat.size, body: fileContents(node, stat.size) };
    } else if (stat.isSymbolicLink()) {
      yield { ...common, type: 'symlink', linkname: readlinkSync(at(parent.fd, base)) };
    } else if (stat.isCharacterDevice() || stat.isBlockDevice()) {
      const { major, minor } = deviceNumbers(stat.rdev);
      yield { ...common, type: stat.isBlockDevice() ? 'block-device' : 'character-device', devmajor: major, devminor: minor };
    } else if (stat.isFIFO()) {
      yield { ...common, type: 'fifo' };
    }
    // Sockets are skipped, as Docker skips them.
  } catch (err) {
    throw failure(tree.label(node.path), err);
  }
  if (!stat.isDirectory()) return;
  yield { ...common, type: 'directory' };
  for (const childName of children) {
    let child: Node | undefined;
    try {
      child = tree.child(node, childName);
    } catch (err) {
      throw failure(tree.label(posix.join(node.path, childName)), err);
    }
    if (child === undefined) continue; // removed since the listing
    try {
      yield* walk(tree, node, childName, child, `${name}/${childName}`, hardLinks);
    } finally {
      tree.release(child);
    }
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

// Writing a tree --------------------------------------------------------------------------

/** Who owns what a copy writes: each entry's owner, a fixed user, or whoever runs the copy. */
type Ownership = 'entry' | 'caller' | { readonly uid: number; readonly gid: number };

/**
 * Writes entries into `dir` as Docker's extraction does: missing parents are made (0755), an
 * existing file is replaced, an existing directory takes the entry's metadata and keeps its
 * contents, and a directory never replaces a non-directory or the other way round. Symlinks
 * in the destination are followed inside the tree's root, except those the copy itself made.
 */
class TreeWriter {
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

// Tar streams -----------------------------------------------------------------------------

const TYPE_BITS: Record<EntryType, number> = {
  file: constants.S_IFREG,
  link: constants.S_IFREG,
  directory: constants.S_IFDIR,
  symlink: constants.S_IFLNK,
  'character-device': constants.S_IFCHR,
  'block-device': constants.S_IFBLK,
  fifo: constants.S_IFIFO,
};
/** The largest id an octal ustar field holds; larger ones go in pax records. */
const USTAR_MAX_ID = 0o7777777;

/** Writes the entries to `output` as a tar; returns its size. */
async function writeTar(entries: AsyncIterable<Entry>, output: NodeJS.WritableStream): Promise<number> {
  const pack = tarPack();
  // A reader that went away (EPIPE) stops the copy: without a listener it would crash the
  // process, and the packing would wait forever for room. Once broken, the listener stays.
  const broken = new AbortController();
  const onError = (err: Error): void => broken.abort(err);
  output.on('error', onError);
  broken.signal.addEventListener('abort', () => pack.destroy(broken.signal.reason as Error));
  let bytes = 0;
  const sending = (async () => {
    for await (const chunk of pack as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      if (!output.write(chunk)) await once(output, 'drain', { signal: broken.signal });
    }
    await new Promise((resolve) => setImmediate(resolve)); // the last writes' errors come a tick later
  })();
  try {
    for await (const entry of entries) await addToTar(pack, entry);
    pack.finalize();
    await sending;
    if (broken.signal.aborted) throw broken.signal.reason;
  } catch (err) {
    pack.destroy();
    await sending.catch(() => {});
    throw failure('cannot write the archive', broken.signal.aborted ? broken.signal.reason : err);
  }
  output.off('error', onError);
  return bytes;
}

function addToTar(pack: Pack, entry: Entry): Promise<void> {
  const large = entry.uid > USTAR_MAX_ID || entry.gid > USTAR_MAX_ID;
  return new Promise((resolve, reject) => {
    const sink = pack.entry(
      {
        name: entry.type === 'directory' ? `${entry.name}/` : entry.name,
        type: entry.type,
        // With the type bits: tar-stream takes a mode of 0 for "unset" and writes 0644.
        mode: entry.mode | TYPE_BITS[entry.type],
        uid: entry.uid,
        gid: entry.gid,
        mtime: new Date(Math.floor(entry.mtime) * 1000),
        size: entry.size,
        linkname: entry.linkname,
        devmajor: entry.devmajor,
        devminor: entry.devminor,
        pax: large ? { uid: String(entry.uid), gid: String(entry.gid) } : undefined,
      },
      (err) => (err ? reject(err) : resolve()),
    );
    if (entry.type !== 'file') return; // entries without contents end by themselves
    (async () => {
      for await (const chunk of entry.body ?? []) if (!sink.write(chunk)) await once(sink, 'drain');
      sink.end(null); // streamx: null is "no last chunk"
    })().catch((err: Error) => {
      sink.destroy(err);
      reject(err);
    });
  });
}

/** The entries of a tar read from `input`. */
async function* tarEntries(input: NodeJS.ReadableStream): AsyncGenerator<Entry> {
  const extract = tarExtract();
  const feeding = pipeline(input, extract as unknown as NodeJS.WritableStream);
  feeding.catch(() => {}); // awaited below; an early stop must not leave it unhandled
  try {
    for await (const source of extract) {
      const header = source.header;
      const entry = { name: header.name, ...tarMetadata(header) };
      switch (header.type) {
        case 'file':
        case 'contiguous-file':
          yield { ...entry, type: 'file', size: header.size, body: source as AsyncIterable<Uint8Array> };
          break;
        case 'directory':
        case 'symlink':
        case 'link':
        case 'character-device':
        case 'block-device':
        case 'fifo':
          for await (const _chunk of source as AsyncIterable<Uint8Array>); // nothing, normally
          yield { ...entry, type: header.type, size: 0, linkname: header.linkname, devmajor: header.devmajor, devminor: header.devminor };
          break;
        default:
          throw new WhaleboxError(`cannot copy "${header.name}": unsupported tar entry type ${header.type}`, 1);
      }
    }
    await feeding;
  } catch (err) {
    if (err instanceof WhaleboxError) throw err;
    throw new WhaleboxError(`cannot read the tar archive: ${(err as Error).message}`, 1);
  }
}

/** Owner, mode and time of a tar entry, pax records first (tar-stream leaves those to us). */
function tarMetadata(header: Header): Pick<Entry, 'mode' | 'uid' | 'gid' | 'mtime'> {
  const pax = (header.pax ?? {}) as Record<string, string | undefined>;
  const id = (record: string | undefined, value: number, what: string): number => {
    const result = record !== undefined ? Number(record) : value;
    if (!Number.isInteger(result) || result < 0 || result > 0xfffffffe) {
      throw new WhaleboxError(`cannot copy "${header.name}": invalid ${what} ${record ?? value}`, 1);
    }
    return result;
  };
  const mtime = pax.mtime !== undefined ? Number(pax.mtime) : header.mtime.getTime() / 1000;
  return {
    mode: header.mode & 0o7777,
    uid: id(pax.uid, header.uid, 'uid'),
    gid: id(pax.gid, header.gid, 'gid'),
    mtime: Number.isFinite(mtime) ? mtime : 0,
  };
}

// Containers ------------------------------------------------------------------------------

interface ContainerFiles {
  readonly tree: Tree;
  /** Who owns what is copied in without -a: the container's user and primary group. */
  readonly user: { readonly uid: number; readonly gid: number };
  /** Bind mounts: where they are in the container, and whether read-only. */
  readonly binds: ReadonlyArray<{ readonly path: string; readonly readonly: boolean }>;
  readonly readonlyRootfs: boolean;
}

/** The mount points of PID's mount namespace, as paths under its root (mountinfo field 5). */
function mountPoints(pid: number): string[] {
  return readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
}

/**
 * Mounts a stopped container's overlay on its bundle's `rootfs` inside a new private mount
 * namespace held by a helper process; the parent reaches it through `/proc/HELPER/root`. The
 * helper waits on its stdin: when the copy ends, or this process dies, it exits and the kernel
 * takes the namespace and the mount with it.
 */
async function mountStoppedRoot(bundle: Bundle): Promise<{ path: string; release: () => Promise<void> }> {
  const overlay = bundle.spec.annotations?.[OVERLAY_ANNOTATION];
  if (!overlay) throw new WhaleboxError(`container ${bundle.id} has no root filesystem (no ${OVERLAY_ANNOTATION} annotation)`, 1);
  const mountPoint = join(bundle.dir, 'rootfs');
  const script = 'mount -t overlay overlay -o "$1" "$2" || exit 1; echo ready; read -r _';
  const helper = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', overlay, mountPoint], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => helper.once('close', () => resolve()));
  const release = async (): Promise<void> => {
    helper.stdin.end();
    await exited;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      let errors = '';
      helper.stdout.on('data', (data: Buffer) => {
        output += data.toString();
        if (output.includes('ready\n')) resolve();
      });
      helper.stderr.on('data', (data: Buffer) => (errors += data.toString()));
      helper.once('error', reject);
      helper.once('exit', (code) => {
        reject(new WhaleboxError(`cannot mount the filesystem of container ${bundle.id}: ${errors.trim() || `exit status ${code}`}`, 1));
      });
    });
  } catch (err) {
    await release();
    throw err;
  }
  return { path: `/proc/${helper.pid}/root${mountPoint}`, release };
}

/**
 * Opens a container's files for the duration of `action`: a running container's through its
 * init, a stopped one's on a private mount (with its bind mounts emulated by the walker).
 */
async function withContainer<T>(context: Context, reference: string, action: (files: ContainerFiles) => Promise<T>): Promise<T> {
  const row = await refreshContainer(context, resolveContainer(context, reference));
  const bundle = readBundle(row.id, bundleDir(context, row.id));
  if (!bundle) throw new WhaleboxError(`container ${row.id} has no bundle (config.json) any more`, 1);
  const pid = row.status === 'running' || row.status === 'paused' ? row.pid : null;
  const stopped = pid === null ? await mountStoppedRoot(bundle) : undefined;
  let tree: Tree | undefined;
  try {
    const binds: Array<{ path: string; readonly: boolean }> = [];
    try {
      tree = new Tree(openSync(stopped?.path ?? `/proc/${pid}/root`, O_PATH | constants.O_DIRECTORY), (path) => `${reference}:${path}`);
      // Checked after the open: the descriptor is then known to be this container's root.
      if (pid !== null && !ownsProcess(row.id, pid)) throw new WhaleboxError(`container ${row.id} is not running any more`, 1);
      for (const mount of bundle.spec.mounts) {
        if (mount.type !== 'bind' || mount.source === undefined) continue;
        const path = mountPath(tree, mount.destination);
        binds.push({ path, readonly: mount.options?.includes('ro') ?? false });
        if (stopped) tree.mount(path, mount.source);
      }
      for (const path of pid === null ? [] : mountPoints(pid)) {
        tree.mountPoints.add(path);
        if (path !== '/' && !binds.some((bind) => bind.path === path)) tree.opaque.add(path);
      }
    } catch (err) {
      throw failure(`cannot open the filesystem of container ${reference}`, err);
    }
    const user = { uid: bundle.spec.process.user.uid, gid: bundle.spec.process.user.gid };
    return await action({ tree, user, binds, readonlyRootfs: bundle.spec.root.readonly ?? false });
  } finally {
    tree?.close();
    await stopped?.release();
  }
}

/**
 * Where the shim mounted a bind: its destination resolved in the container (binds are set up
 * in mount order, so earlier ones count); as written when a parent is missing.
 */
function mountPath(tree: Tree, destination: string): string {
  try {
    const location = tree.resolve(destination, { followLast: true });
    tree.release(location.parent, location.node);
    return location.node?.path ?? posix.join(location.parent.path, location.name);
  } catch (err) {
    if (err instanceof NotFound) return posix.normalize(destination);
    throw err;
  }
}

/** Docker's refusal to write into a read-only volume, or a read-only root outside volumes. */
function checkWritable(files: ContainerFiles, path: string): void {
  const within = files.binds.filter((bind) => path === bind.path || path.startsWith(bind.path === '/' ? '/' : `${bind.path}/`));
  const volume = within.sort((a, b) => b.path.length - a.path.length)[0];
  if (volume?.readonly) throw new WhaleboxError('mounted volume is marked read-only', 1);
  if (!volume && files.readonlyRootfs) throw new WhaleboxError('container rootfs is marked read-only', 1);
}

// The two directions ----------------------------------------------------------------------

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
