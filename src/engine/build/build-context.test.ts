import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { storePaths, type StorePaths } from '../../store/paths.js';
import { WhaleboxError } from '../../util/errors.js';
import type { Entry } from '../copy/entries.js';
import { writeTar } from '../copy/tar.js';
import { openBuildContext } from './build-context.js';
import { matchSources } from './context-sources.js';

let base: string;
let paths: StorePaths;

const input = (data: string | Buffer = ''): Readable => Readable.from([Buffer.from(data)]);
const noStdin = { stdin: input() };

/** A fresh directory under the test's base with these files (`name` → contents). */
function makeDir(name: string, files: Record<string, string>): string {
  const dir = join(base, name);
  for (const [path, contents] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), contents);
  }
  return dir;
}

const file = (name: string, contents: string): Entry => {
  const body = Buffer.from(contents);
  const chunks = async function* (): AsyncGenerator<Uint8Array> {
    yield body;
  };
  return { name, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: body.length, body: chunks() };
};

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const output = new PassThrough();
  const collected = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of output) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  })();
  await writeTar(
    (async function* () {
      yield* entries;
    })(),
    output,
  );
  output.end();
  return collected;
}

const fails = (message: string | RegExp) => (err: unknown) =>
  err instanceof WhaleboxError && err.exitCode === 1 && (typeof message === 'string' ? err.message === message : message.test(err.message));

const scratch = (): string[] => readdirSync(paths.root).filter((name) => name.startsWith('tmp-build-'));

before(() => {
  base = mkdtempSync(join(tmpdir(), 'whalebox-context-'));
  paths = storePaths(join(base, 'store'), join(base, 'run'));
});

after(() => rmSync(base, { recursive: true, force: true }));

test('a directory with its Dockerfile and .dockerignore', async () => {
  const dir = makeDir('plain', { Dockerfile: 'FROM scratch\n', 'a.txt': '12345', 'skip.log': 'xxxxxxxxxx', '.dockerignore': '*.log\n' });
  const context = await openBuildContext(paths, dir, noStdin);
  assert.equal(context.dir, realpathSync(dir));
  assert.equal(context.dockerfile, 'FROM scratch\n');
  assert.equal(context.dockerfileName, 'Dockerfile');
  assert.equal(context.ignore.excludes('skip.log'), true);
  assert.equal(context.size, 'FROM scratch\n'.length + 5 + '*.log\n'.length);
  await context.release();
  assert.equal(existsSync(dir), true, 'a directory context is the user’s: release leaves it');
});

test('a lowercase dockerfile is found too', async () => {
  const dir = makeDir('lower', { dockerfile: 'FROM lower\n' });
  const context = await openBuildContext(paths, dir, noStdin);
  assert.equal(context.dockerfile, 'FROM lower\n');
  assert.equal(context.dockerfileName, 'dockerfile');
});

test('-f elsewhere, from the current directory, with its own .dockerignore first', async () => {
  const dir = makeDir('with-f', { 'a.txt': 'a', 'b.txt': 'b', '.dockerignore': 'a.txt\n' });
  const other = makeDir('other', { 'app.Dockerfile': 'FROM app\n', 'app.Dockerfile.dockerignore': 'b.txt\n' });
  const absolute = await openBuildContext(paths, dir, { ...noStdin, dockerfile: join(other, 'app.Dockerfile') });
  assert.equal(absolute.dockerfile, 'FROM app\n');
  assert.equal(absolute.dockerfileName, 'app.Dockerfile');
  assert.equal(absolute.ignore.excludes('b.txt'), true);
  assert.equal(absolute.ignore.excludes('a.txt'), false, "the Dockerfile's ignore file replaces the context's");

  const cwd = process.cwd();
  process.chdir(other);
  try {
    const fromCwd = await openBuildContext(paths, relative(other, dir), { ...noStdin, dockerfile: 'app.Dockerfile' });
    assert.equal(fromCwd.dockerfile, 'FROM app\n');
    await assert.rejects(openBuildContext(paths, relative(other, dir), { ...noStdin, dockerfile: 'Dockerfile' }), fails('failed to read dockerfile: open Dockerfile: no such file or directory'));
  } finally {
    process.chdir(cwd);
  }
});

test('-f - reads the Dockerfile from stdin, the context stays the directory', async () => {
  const dir = makeDir('stdin-f', { 'a.txt': 'a', Dockerfile: 'FROM ignored\n' });
  const context = await openBuildContext(paths, dir, { stdin: input('FROM stdin\n'), dockerfile: '-' });
  assert.equal(context.dockerfile, 'FROM stdin\n');
  assert.equal(context.dockerfileName, 'Dockerfile');
  assert.equal(context.dir, realpathSync(dir));
  assert.deepEqual(matchSources(context, 'a.txt'), ['a.txt']);
});

test('- with a Dockerfile: no context', async () => {
  const context = await openBuildContext(paths, '-', { stdin: input('FROM busybox\nCOPY a.txt /\n') });
  assert.equal(context.dir, undefined);
  assert.equal(context.dockerfile, 'FROM busybox\nCOPY a.txt /\n');
  assert.equal(context.size, 0);
  assert.throws(() => matchSources(context, 'a.txt'), /"\/a\.txt": not found/);
  await assert.rejects(openBuildContext(paths, '-', { stdin: input('FROM x\n'), dockerfile: 'Dockerfile' }), fails('ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles'));
  await assert.rejects(openBuildContext(paths, '-', { stdin: input(''), dockerfile: '-' }), fails("invalid argument: can't use stdin for both build context and dockerfile"));
});

test('- with a tar, plain or gzip: extracted to a scratch directory until released', async () => {
  const tar = await tarOf([file('Dockerfile', 'FROM tar\n'), file('src/a.txt', 'aaa'), file('src/b.log', 'bbbb'), file('.dockerignore', '*/*.log\n')]);
  for (const stdin of [tar, gzipSync(tar)]) {
    const context = await openBuildContext(paths, '-', { stdin: input(stdin) });
    try {
      assert.equal(context.dockerfile, 'FROM tar\n');
      assert.equal(context.dockerfileName, 'Dockerfile');
      assert.ok(context.dir?.startsWith(join(paths.root, 'tmp-build-')));
      assert.equal(statSync(context.dir!).mode & 0o777, 0o755);
      assert.deepEqual(matchSources(context, 'src/*'), ['src/a.txt']);
      assert.equal(context.size, 'FROM tar\n'.length + 3 + '*/*.log\n'.length);
    } finally {
      await context.release();
    }
    assert.equal(existsSync(context.dir!), false);
  }
});

test('- with a tar and -f inside it', async () => {
  const tar = await tarOf([file('build/app.Dockerfile', 'FROM app\n'), file('build/app.Dockerfile.dockerignore', 'x\n')]);
  const context = await openBuildContext(paths, '-', { stdin: input(tar), dockerfile: 'build/app.Dockerfile' });
  try {
    assert.equal(context.dockerfile, 'FROM app\n');
    assert.equal(context.dockerfileName, 'build/app.Dockerfile');
    assert.equal(context.ignore.excludes('x'), true);
  } finally {
    await context.release();
  }
});

test("a tar's Dockerfile cannot be a symlink out of it, nor its entries escape", async () => {
  const secret = makeDir('host', { 'secret.txt': 'FROM host secret\n' });
  const link: Entry = { name: 'Dockerfile', type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 0, size: 0, linkname: join(secret, 'secret.txt') };
  await assert.rejects(openBuildContext(paths, '-', { stdin: input(await tarOf([link])) }), fails('failed to read dockerfile: open Dockerfile: no such file or directory'));
  const escaping = await tarOf([file('Dockerfile', 'FROM x\n'), file('../escaped.txt', 'x')]);
  await assert.rejects(openBuildContext(paths, '-', { stdin: input(escaping) }), WhaleboxError);
  assert.equal(existsSync(join(paths.root, '..', 'escaped.txt')), false);
  assert.deepEqual(scratch(), [], 'a failed extraction leaves nothing behind');
});

test('a tar without a Dockerfile fails and leaves nothing behind', async () => {
  const tar = await tarOf([file('a.txt', 'a')]);
  await assert.rejects(openBuildContext(paths, '-', { stdin: input(tar) }), fails('failed to read dockerfile: open Dockerfile: no such file or directory'));
  assert.deepEqual(scratch(), []);
});

test('missing Dockerfile, missing context, remote context', async () => {
  const dir = makeDir('empty', { 'a.txt': 'a' });
  await assert.rejects(openBuildContext(paths, dir, noStdin), fails('failed to read dockerfile: open Dockerfile: no such file or directory'));
  await assert.rejects(
    openBuildContext(paths, dir, { ...noStdin, dockerfile: join(base, 'nowhere', 'Dockerfile') }),
    fails('failed to read dockerfile: open Dockerfile: no such file or directory'),
  );
  await assert.rejects(openBuildContext(paths, join(dir, 'a.txt'), noStdin), fails(`unable to prepare context: path "${join(dir, 'a.txt')}" not found`));
  await assert.rejects(openBuildContext(paths, 'no-such-dir', noStdin), fails('unable to prepare context: path "no-such-dir" not found'));
  await assert.rejects(openBuildContext(paths, 'https://github.com/docker/cli.git', noStdin), fails(/not supported/));
});

test('a context directory reached through a symlink', async () => {
  const dir = makeDir('real', { Dockerfile: 'FROM real\n' });
  symlinkSync(dir, join(base, 'alias'));
  const context = await openBuildContext(paths, join(base, 'alias'), noStdin);
  assert.equal(context.dir, realpathSync(dir));
});
