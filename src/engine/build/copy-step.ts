import { createHash } from 'node:crypto';
import { chownSync } from 'node:fs';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import type { StoredLayer } from '../../image/image-store.js';
import { decompressed, isCompressed, peek } from '../../image/layer-unpack.js';
import { WhaleboxError } from '../../util/errors.js';
import { withContainer } from '../copy/container-files.js';
import type { Entry } from '../copy/entries.js';
import { tarEntries } from '../copy/tar.js';
import { NotFound, self, type Node, type Tree } from '../copy/tree.js';
import { TreeWriter, type Ownership } from '../copy/tree-writer.js';
import type { Context } from '../context.js';
import { resolveUser } from '../image-user.js';
import { stateImage, type BuildState } from './build-cache.js';
import { isTarHeader, type BuildContext } from './build-context.js';
import { IgnoreMatcher } from './dockerignore.js';
import { checksumSources, isDirectorySource, matchSources, sourceEntries } from './context-sources.js';
import type { Expand } from './config-steps.js';
import type { CopyInstruction } from './dockerfile/types.js';
import { layerStep, withStateContainer } from './step-container.js';

/**
 * COPY and ADD: sources from the build context, another stage or image (`--from`), heredocs,
 * or (ADD) URLs, written into a container made from the state so far, whose upper dir becomes
 * the step's layer. Docker's placement rules: a directory's contents go into the destination;
 * a file goes into it when it is a directory (or ends in `/`), else becomes it.
 */

/** A tar header block: enough to tell a tar from any other file. */
const TAR_BLOCK = 512;

/** Where `--from` points: an earlier stage's or an image's state. */
export type ResolveFrom = (name: string) => Promise<BuildState>;

/** A COPY whose cache key is known; `execute` makes its layer on a cache miss. */
export interface CopyPlan {
  readonly descriptor: unknown;
  execute(state: BuildState): Promise<StoredLayer>;
}

/** One source, ready to write. */
interface Source {
  /** The name a file takes inside a destination directory. */
  readonly base: string;
  readonly directory: boolean;
  /** Its entries, the top one named `name` (`.`: a directory's contents, into the destination itself). */
  entries(name: string): AsyncIterable<Entry>;
}

interface CopySpec {
  readonly destination: string;
  readonly signal: AbortSignal;
  /** The destination must be a directory: it ends in `/`, or several sources go there. */
  readonly intoDirectory: boolean;
  readonly chown?: string;
  readonly chmod?: number;
}

export async function planCopy(
  context: Context,
  buildContext: BuildContext,
  instruction: CopyInstruction,
  expand: Expand,
  workdir: string,
  resolveFrom: ResolveFrom,
  display: string,
  signal: AbortSignal,
): Promise<CopyPlan> {
  const patterns = instruction.rawSources.map((raw) => expand.word(raw));
  const rawDestination = expand.word(instruction.rawDestination);
  // `dir/`, `.` and `dir/.` name a directory to copy into.
  const directory = /(^|\/)\.?$/.test(rawDestination);
  const destination = posix.join(posix.resolve(workdir || '/', rawDestination), directory ? '/' : '');
  const chmod = instruction.rawChmod === undefined ? undefined : parseChmod(expand.word(instruction.rawChmod));
  const chown = instruction.rawChown === undefined ? undefined : expand.word(instruction.rawChown);
  const heredocs = instruction.heredocs.map((heredoc) => ({ name: heredoc.name, content: heredoc.expand ? expandHeredoc(heredoc.content, expand) : heredoc.content }));
  const spec = (count: number): CopySpec => ({
    destination,
    signal,
    intoDirectory: destination.endsWith('/') || count > 1,
    ...(chown === undefined ? {} : { chown }),
    ...(chmod === undefined ? {} : { chmod }),
  });
  const common = { kind: instruction.kind, patterns, destination, chown, chmod, heredocs };
  const heredocSources = heredocs.map((heredoc) => fileSource(heredoc.name, Buffer.from(heredoc.content), 0o644, Date.now() / 1000));

  if (instruction.rawFrom !== undefined) {
    const from = await resolveFrom(expand.word(instruction.rawFrom));
    return {
      descriptor: { ...common, from: from.key },
      execute: (state) =>
        withStateContainer(context, from, display, {}, (record) =>
          withContainer(context, record.id, async (files) => {
            const root = rootContext(files.tree);
            const sources = patterns.flatMap((pattern) => matchSources(root, pattern)).map((path) => contextSource(root, path));
            return writeSources(context, state, display, [...sources, ...heredocSources], spec(sources.length + heredocSources.length), 'entry');
          }),
        ),
    };
  }

  const urls = instruction.kind === 'ADD' ? patterns.filter(isUrl) : [];
  const local = patterns.filter((pattern) => !urls.includes(pattern));
  if (local.length > 0 && buildContext.dir === undefined) {
    throw new WhaleboxError(`${instruction.kind} failed: no build context (the Dockerfile came from stdin): "${local[0]}" cannot be read`, 1);
  }
  const matched = local.flatMap((pattern) => matchSources(buildContext, pattern));
  const downloads = await Promise.all(urls.map(download));
  const checksum = matched.length > 0 ? await checksumSources(buildContext, matched) : '';
  return {
    descriptor: { ...common, matched, checksum, downloads: downloads.map((file) => [file.url, file.digest]) },
    execute: async (state) => {
      const sources = [
        ...matched.map((path) => contextSource(buildContext, path)),
        ...downloads.map((file) => fileSource(file.base, file.bytes, 0o600, file.mtime)),
        ...heredocSources,
      ];
      const archives = instruction.kind === 'ADD';
      return writeSources(context, state, display, sources, spec(sources.length), { uid: 0, gid: 0 }, archives);
    },
  };
}

/** Writes the sources into a container of `state`; its upper dir becomes the layer. */
function writeSources(
  context: Context,
  state: BuildState,
  display: string,
  sources: readonly Source[],
  spec: CopySpec,
  owner: Ownership,
  extractArchives = false,
): Promise<StoredLayer> {
  const chown = spec.chown === undefined ? undefined : resolveChown(context, state, spec.chown);
  return layerStep(context, state, display, {}, (record) =>
    withContainer(context, record.id, async ({ tree }) => {
      for (const source of sources) await writeSource(tree, source, spec, chown ?? owner, chown, extractArchives);
    }),
  );
}

async function writeSource(
  tree: Tree,
  source: Source,
  spec: CopySpec,
  owner: Ownership,
  chown: { uid: number; gid: number } | undefined,
  extractArchives: boolean,
): Promise<void> {
  const write = async (dir: string, entries: AsyncIterable<Entry>, as: Ownership): Promise<void> => {
    const target = makeDirectories(tree, dir, chown);
    try {
      await new TreeWriter(tree, target, as).write(checked(entries, spec.signal));
    } finally {
      tree.release(target);
    }
  };
  // ADD unpacks a local archive into the destination, a directory whatever its spelling (BuildKit).
  const archive = extractArchives && !source.directory ? await archiveEntries(source.entries(source.base)) : undefined;
  if (archive) return write(spec.destination, archive, chown ?? 'entry');
  const intoDirectory = source.directory || spec.intoDirectory || describe(tree, spec.destination) === 'directory';
  const dir = intoDirectory ? spec.destination : posix.dirname(spec.destination);
  const name = source.directory ? '.' : intoDirectory ? source.base : posix.basename(spec.destination);
  return write(dir, withMode(source.entries(name), spec.chmod), owner);
}

/**
 * A directory of the tree, made with its missing parents (0755; owned by `owner` when given, as
 * BuildKit owns what COPY --chown and WORKDIR make). The caller releases the node.
 */
function makeDirectories(tree: Tree, path: string, owner: { uid: number; gid: number } | undefined): Node {
  const components = path.split('/').filter(Boolean);
  for (let i = 1; i <= components.length && owner; i++) {
    const prefix = `/${components.slice(0, i).join('/')}`;
    if (describe(tree, prefix) !== undefined) continue;
    const made = tree.resolve(prefix, { create: true });
    try {
      if (made.node) chownSync(self(made.node.fd), owner.uid, owner.gid);
    } finally {
      tree.release(made.parent, made.node);
    }
  }
  const found = tree.resolve(path, { create: true });
  tree.release(found.parent);
  if (!found.node?.stat.isDirectory()) {
    tree.release(found.node);
    throw new WhaleboxError(`cannot copy to ${path}: not a directory`, 1);
  }
  return found.node;
}

/** WORKDIR's directory, with its missing parents; owned by `user` (the stage's USER) when made here. */
export function makeDirectory(context: Context, state: BuildState, display: string, path: string, user: string): Promise<StoredLayer> {
  const owner = user === '' ? undefined : resolveChown(context, state, user);
  return layerStep(context, state, display, {}, (record) =>
    withContainer(context, record.id, async ({ tree }) => {
      tree.release(makeDirectories(tree, path, owner));
    }),
  );
}

/** What is at a path of the tree: a directory, something else, or nothing. */
function describe(tree: Tree, path: string): 'directory' | 'other' | undefined {
  try {
    const found = tree.resolve(path, { followLast: true });
    tree.release(found.parent, found.node);
    return found.node === undefined ? undefined : found.node.stat.isDirectory() ? 'directory' : 'other';
  } catch (err) {
    if (err instanceof NotFound) return undefined;
    throw err;
  }
}

/** A matched path of a context (the build context, or another stage's root). */
function contextSource(buildContext: BuildContext, path: string): Source {
  return { base: posix.basename(path), directory: isDirectorySource(buildContext, path), entries: (name) => sourceEntries(buildContext, path, name) };
}

function fileSource(base: string, bytes: Buffer, mode: number, mtime: number): Source {
  return {
    base,
    directory: false,
    entries: (name) =>
      (async function* (): AsyncGenerator<Entry> {
        const body = (async function* (): AsyncGenerator<Uint8Array> {
          yield bytes;
        })();
        yield { name, type: 'file', mode, uid: 0, gid: 0, mtime, size: bytes.length, body };
      })(),
  };
}

/** Another stage's root filesystem, seen as a build context without a .dockerignore. */
function rootContext(tree: Tree): BuildContext {
  return {
    dir: `/proc/self/fd/${tree.root.fd}`,
    dockerfile: '',
    dockerfileName: 'Dockerfile',
    ignore: IgnoreMatcher.none(),
    size: 0,
    release: async () => undefined,
  };
}

async function* withMode(entries: AsyncIterable<Entry>, mode: number | undefined): AsyncGenerator<Entry> {
  for await (const entry of entries) yield mode === undefined || entry.name === '.' ? entry : { ...entry, mode };
}

/** The entries, stopping at the first one after the build was cancelled. */
async function* checked(entries: AsyncIterable<Entry>, signal: AbortSignal): AsyncGenerator<Entry> {
  for await (const entry of entries) {
    signal.throwIfAborted();
    yield entry;
  }
}

/**
 * ADD unpacks a local tar (plain, or compressed as `decompress` knows) instead of copying it.
 * Returns the archive's entries, or undefined when the file is no archive.
 */
async function archiveEntries(entries: AsyncIterable<Entry>): Promise<AsyncIterable<Entry> | undefined> {
  const iterator = entries[Symbol.asyncIterator]();
  const first = await iterator.next();
  const body = first.done ? undefined : first.value.body;
  if (first.done || first.value.type !== 'file' || body === undefined) {
    await iterator.return?.();
    return undefined;
  }
  const input = Readable.from(body);
  const head = await peek(input, TAR_BLOCK);
  if (!isCompressed(head) && !isTarHeader(head)) {
    input.destroy();
    await iterator.return?.();
    return undefined;
  }
  const tar = await decompressed(input);
  return (async function* (): AsyncGenerator<Entry> {
    try {
      yield* tarEntries(tar);
    } finally {
      await iterator.return?.();
    }
  })();
}

/** `--chown=user[:group]`, resolved in the image being built. */
function resolveChown(context: Context, state: BuildState, chown: string): { uid: number; gid: number } {
  const { uid, gid } = resolveUser(stateImage(context.paths, state).layerDirs, chown);
  return { uid, gid };
}

function parseChmod(value: string): number {
  if (!/^[0-7]{3,4}$/.test(value)) throw new WhaleboxError(`invalid chmod parameter ${JSON.stringify(value)}: only octal modes are supported`, 1);
  return parseInt(value, 8);
}

function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** An ADD URL, fetched once per build: its checksum keys the cache, as Docker's does. */
async function download(url: string): Promise<{ url: string; base: string; bytes: Buffer; digest: string; mtime: number }> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new WhaleboxError(`failed to load ${url}: ${(err as Error).cause ?? (err as Error).message}`, 1);
  }
  if (!response.ok) throw new WhaleboxError(`failed to load ${url}: invalid response status ${response.status}`, 1);
  const bytes = Buffer.from(await response.arrayBuffer());
  const modified = Date.parse(response.headers.get('last-modified') ?? '');
  return {
    url,
    base: posix.basename(new URL(url).pathname) || 'index.html',
    bytes,
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    mtime: Number.isNaN(modified) ? Date.now() / 1000 : modified / 1000,
  };
}

/** A heredoc body with an unquoted delimiter: variables expanded, line by line as BuildKit does. */
function expandHeredoc(content: string, expand: Expand): string {
  return content
    .split('\n')
    .map((line) => (line === '' ? line : expand.word(line.replace(/(["'\\])/g, '\\$1'))))
    .join('\n');
}
