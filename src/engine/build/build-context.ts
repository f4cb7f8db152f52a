import { chmodSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { decompressed, isCompressed } from '../../image/layer-unpack.js';
import type { StorePaths } from '../../store/paths.js';
import { scratchName } from '../../store/scratch.js';
import { WhaleboxError } from '../../util/errors.js';
import { tarEntries } from '../copy/tar.js';
import { NotFound, self, Tree, type Location } from '../copy/tree.js';
import { TreeWriter } from '../copy/tree-writer.js';
import { contextSize } from './context-sources.js';
import { IgnoreMatcher } from './dockerignore.js';

/**
 * The context of `build`, found as Docker's CLI (buildx) finds it: a directory, or what comes
 * on stdin (`build -`), which is either a tar of the context or just a Dockerfile.
 */

export interface BuildContext {
  /** Root of the context on disk, or undefined when there is none (Dockerfile from stdin, `build -`). */
  readonly dir: string | undefined;
  /** The Dockerfile's text. */
  readonly dockerfile: string;
  /** As Docker names it in messages, e.g. "Dockerfile". */
  readonly dockerfileName: string;
  readonly ignore: IgnoreMatcher;
  /** Bytes of the context (files not ignored), for progress output ("transferring context: 2.1kB"). */
  readonly size: number;
  /** Removes a context extracted from a tar. */
  release(): Promise<void>;
}

export interface ContextOptions {
  /** -f: a path from the current directory for a directory context, inside the tar for a tar; `-` for stdin. */
  readonly dockerfile?: string;
  readonly stdin: NodeJS.ReadableStream;
}

/** docker/cli's urlutil: what it would fetch (a Git repository or a URL) instead of reading a directory. */
const REMOTE = /^(?:https?:\/\/|git:\/\/|git@|github\.com\/)/;
const TAR_BLOCK = 512;

/** A Dockerfile as read, with its own ignore file (`Dockerfile.dockerignore`) if it has one. */
interface DockerfileText {
  readonly text: string;
  readonly name: string;
  readonly ignore?: string;
}

const noRelease = async (): Promise<void> => {};

export async function openBuildContext(paths: StorePaths, source: string, options: ContextOptions): Promise<BuildContext> {
  return source === '-' ? fromStdin(paths, options) : fromDirectory(source, options);
}

async function fromDirectory(source: string, options: ContextOptions): Promise<BuildContext> {
  const dir = contextDirectory(source);
  let dockerfile: DockerfileText;
  if (options.dockerfile === '-') {
    dockerfile = { text: (await readAll(options.stdin)).toString('utf8'), name: 'Dockerfile' };
  } else if (options.dockerfile === undefined) {
    dockerfile = readDockerfile(dir, undefined);
  } else {
    const path = resolve(options.dockerfile); // from the current directory, not the context
    dockerfile = readDockerfile(dirname(path), basename(path));
  }
  return assemble(dir, dockerfile, noRelease);
}

async function fromStdin(paths: StorePaths, options: ContextOptions): Promise<BuildContext> {
  if (options.dockerfile === '-') throw new WhaleboxError("invalid argument: can't use stdin for both build context and dockerfile", 1);
  const { head, stream } = await sniff(options.stdin, TAR_BLOCK);
  if (!isCompressed(head) && !isTarHeader(head)) {
    if (options.dockerfile !== undefined) throw new WhaleboxError('ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles', 1);
    const text = (await readAll(stream)).toString('utf8');
    return { dir: undefined, dockerfile: text, dockerfileName: 'Dockerfile', ignore: IgnoreMatcher.none(), size: 0, release: noRelease };
  }
  const dir = await extract(paths, await decompressed(stream));
  try {
    const name = options.dockerfile === undefined ? undefined : posix.normalize(options.dockerfile);
    return assemble(dir, readDockerfile(dir, name), async () => removeDirectory(dir));
  } catch (err) {
    removeDirectory(dir);
    throw err;
  }
}

/** The ignore file next to the Dockerfile first, else the context's (BuildKit's order); and the context's size without what it ignores. */
function assemble(dir: string, dockerfile: DockerfileText, release: () => Promise<void>): BuildContext {
  const ignoreText = dockerfile.ignore ?? readInside(dir, '.dockerignore', 'dockerignore');
  const ignore = ignoreText === undefined ? IgnoreMatcher.none() : IgnoreMatcher.parse(ignoreText);
  return { dir, dockerfile: dockerfile.text, dockerfileName: dockerfile.name, ignore, size: contextSize(dir, ignore), release };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The context directory, its symlinks resolved (as the CLI does); a URL or Git repository is refused. */
function contextDirectory(source: string): string {
  if (isDirectory(source)) return realpathSync(source);
  if (REMOTE.test(source)) {
    throw new WhaleboxError(`unable to prepare context: remote build contexts (Git repositories and URLs) are not supported: ${source}`, 1);
  }
  throw new WhaleboxError(`unable to prepare context: path "${source}" not found`, 1);
}

/** The Dockerfile `name` in `dir`; without one, `Dockerfile` or else `dockerfile`, as BuildKit looks. */
function readDockerfile(dir: string, name: string | undefined): DockerfileText {
  const candidates = name === undefined ? ['Dockerfile', 'dockerfile'] : [name];
  for (const candidate of candidates) {
    const text = readInside(dir, candidate, 'dockerfile');
    if (text !== undefined) return { text, name: candidate, ignore: readInside(dir, `${candidate}.dockerignore`, 'dockerignore') };
  }
  throw new WhaleboxError(`failed to read dockerfile: open ${candidates[0]}: no such file or directory`, 1);
}

/**
 * A file of a directory, its symlinks resolved inside that directory, as BuildKit reads the
 * Dockerfile and ignore files from what it was sent (and as a tar's symlinks must be: they
 * could point at any file of the host). Undefined when it does not exist.
 */
function readInside(dir: string, name: string, what: string): string | undefined {
  if (!isDirectory(dir)) return undefined;
  const tree = Tree.open(dir, (path) => path);
  try {
    let found: Location;
    try {
      found = tree.resolve(`/${name}`, { followLast: true });
    } catch (err) {
      if (err instanceof NotFound) return undefined;
      throw err;
    }
    try {
      const { node } = found;
      if (node === undefined) return undefined;
      if (!node.stat.isFile()) throw new WhaleboxError(`failed to read ${what}: read ${name}: ${node.stat.isDirectory() ? 'is a directory' : 'not a regular file'}`, 1);
      return readFileSync(self(node.fd), 'utf8');
    } finally {
      tree.release(found.parent, found.node);
    }
  } finally {
    tree.close();
  }
}

/** The first `size` bytes of a stream (fewer if it ends before), and the whole stream again. */
async function sniff(input: NodeJS.ReadableStream, size: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let length = 0;
  while (length < size) {
    const next = await chunks.next();
    if (next.done) break;
    head.push(Buffer.from(next.value));
    length += head.at(-1)!.length;
  }
  const rest = { [Symbol.asyncIterator]: () => chunks };
  async function* all(): AsyncGenerator<Buffer> {
    yield* head;
    for await (const chunk of rest) yield Buffer.from(chunk);
  }
  return { head: Buffer.concat(head).subarray(0, size), stream: Readable.from(all(), { objectMode: false }) };
}

async function readAll(input: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * docker/cli's IsArchive for uncompressed input: the first block is a tar header whose
 * checksum (Go's tar reader takes the unsigned or the signed sum) is right.
 */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < TAR_BLOCK) return false;
  const field = block.subarray(148, 156).toString('latin1').replace(/^[\0 ]+|[\0 ]+$/g, '');
  if (!/^[0-7]+$/.test(field)) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!; // the checksum field counts as spaces
    unsigned += byte;
    signed += (byte << 24) >> 24;
  }
  const recorded = parseInt(field, 8);
  return recorded === unsigned || recorded === signed;
}

/**
 * A tar context, extracted into a scratch directory of the store by cp's tree writer: no entry
 * is written outside it, or through a symlink the tar made.
 */
async function extract(paths: StorePaths, tar: Readable): Promise<string> {
  mkdirSync(paths.root, { recursive: true });
  const dir = join(paths.root, scratchName('tmp-build-'));
  mkdirSync(dir, { mode: 0o700 });
  try {
    const tree = Tree.open(dir, (path) => path);
    try {
      await new TreeWriter(tree, tree.root, 'entry').write(tarEntries(tar));
    } finally {
      tree.close();
    }
    // The context's root reads as a plain directory (its mode is what `COPY . …` sees), not as scratch.
    chmodSync(dir, 0o755);
    return dir;
  } catch (err) {
    removeDirectory(dir);
    throw err;
  }
}

function removeDirectory(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}
