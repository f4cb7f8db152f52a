import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WhaleboxError } from '../../util/errors.js';
import type { Entry } from '../copy/entries.js';
import { Tree } from '../copy/tree.js';
import { TreeWriter } from '../copy/tree-writer.js';
import type { BuildContext } from './build-context.js';
import { checksumSources, isDirectorySource, matchSources, sourceEntries } from './context-sources.js';
import { IgnoreMatcher } from './dockerignore.js';

let base: string;
let dir: string;

const context = (ignore = ''): BuildContext => ({
  dir,
  dockerfile: 'FROM scratch\n',
  dockerfileName: 'Dockerfile',
  ignore: IgnoreMatcher.parse(ignore),
  size: 0,
  release: async () => {},
});

const notFound = (path: string) => (err: unknown) =>
  err instanceof WhaleboxError && err.exitCode === 1 && err.message.endsWith(`"${path}": not found`) && err.message.startsWith('failed to compute cache key:');

async function collect(entries: AsyncIterable<Entry>): Promise<Array<{ name: string; type: string; body?: string; linkname?: string }>> {
  const result = [];
  for await (const entry of entries) {
    let body: string | undefined;
    if (entry.body) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry.body) chunks.push(Buffer.from(chunk));
      body = Buffer.concat(chunks).toString();
    }
    result.push({ name: entry.name, type: entry.type, ...(body === undefined ? {} : { body }), ...(entry.linkname ? { linkname: entry.linkname } : {}) });
  }
  return result;
}

before(() => {
  base = mkdtempSync(join(tmpdir(), 'whalebox-sources-'));
  dir = join(base, 'context');
  writeFileSync(join(base, 'outside.txt'), 'host secret');
  mkdirSync(join(base, 'outside-dir'));
  writeFileSync(join(base, 'outside-dir', 'leak.txt'), 'host secret');
  mkdirSync(join(dir, 'sub', 'deep'), { recursive: true });
  mkdirSync(join(dir, 'vendor', 'keep'), { recursive: true });
  writeFileSync(join(dir, 'a.txt'), 'a');
  writeFileSync(join(dir, 'b.txt'), 'b');
  writeFileSync(join(dir, 'c.md'), 'c');
  writeFileSync(join(dir, 'secret.key'), 'key');
  writeFileSync(join(dir, 'sub', 'one.txt'), 'one');
  writeFileSync(join(dir, 'sub', 'deep', 'two.txt'), 'two');
  writeFileSync(join(dir, 'vendor', 'lib.js'), 'lib');
  writeFileSync(join(dir, 'vendor', 'keep', 'kept.js'), 'kept');
  symlinkSync('a.txt', join(dir, 'link-a'));
  symlinkSync('sub', join(dir, 'link-sub'));
  symlinkSync('../outside.txt', join(dir, 'up'));
  symlinkSync(join(base, 'outside.txt'), join(dir, 'absolute'));
  symlinkSync(join(base, 'outside-dir'), join(dir, 'outside-dir'));
  symlinkSync('secret.key', join(dir, 'to-secret'));
});

after(() => rmSync(base, { recursive: true, force: true }));

test('matchSources: plain paths, with ./ / and .. cleaned', () => {
  assert.deepEqual(matchSources(context(), 'a.txt'), ['a.txt']);
  assert.deepEqual(matchSources(context(), './sub/../a.txt'), ['a.txt']);
  assert.deepEqual(matchSources(context(), '/sub/'), ['sub']);
  assert.deepEqual(matchSources(context(), '.'), ['.']);
  assert.deepEqual(matchSources(context(), '/'), ['.']);
  assert.deepEqual(matchSources(context(), 'link-a'), ['link-a']);
});

test('matchSources: wildcards, sorted', () => {
  assert.deepEqual(matchSources(context(), '*.txt'), ['a.txt', 'b.txt']);
  assert.deepEqual(matchSources(context(), '[ac].*'), ['a.txt', 'c.md']);
  assert.deepEqual(matchSources(context(), 's?b/*'), ['sub/deep', 'sub/one.txt']);
  assert.deepEqual(matchSources(context(), '*/deep/*.txt'), ['link-sub/deep/two.txt', 'sub/deep/two.txt']);
  assert.deepEqual(matchSources(context(), '/sub/*.txt'), ['sub/one.txt']);
});

test('matchSources: what is missing or ignored is not found', () => {
  assert.throws(() => matchSources(context(), 'missing.txt'), notFound('/missing.txt'));
  assert.throws(() => matchSources(context(), './x/../missing.txt'), notFound('/missing.txt'));
  assert.throws(() => matchSources(context(), '*.none'), notFound('/*.none'));
  assert.throws(() => matchSources(context(), 'a.txt/x'), notFound('/a.txt/x'));
  const ignoring = context('*.key\nsub/deep\n');
  assert.throws(() => matchSources(ignoring, 'secret.key'), notFound('/secret.key'));
  assert.throws(() => matchSources(ignoring, 'to-secret'), notFound('/to-secret'), 'a symlink to an ignored file');
  assert.throws(() => matchSources(ignoring, 'sub/deep/two.txt'), notFound('/sub/deep/two.txt'));
  assert.deepEqual(matchSources(ignoring, 's*'), ['sub']);
  assert.deepEqual(matchSources(ignoring, 'sub/*'), ['sub/one.txt']);
});

test('matchSources: nothing outside the context, by .. or by a symlink', () => {
  assert.throws(() => matchSources(context(), '../outside.txt'), notFound('/outside.txt'));
  assert.throws(() => matchSources(context(), 'up'), notFound('/up'));
  assert.throws(() => matchSources(context(), 'absolute'), notFound('/absolute'));
  assert.throws(() => matchSources(context(), 'outside-dir/leak.txt'), notFound('/outside-dir/leak.txt'));
  assert.throws(() => matchSources(context(), 'outside-dir/*'), notFound('/outside-dir/*'));
  assert.deepEqual(matchSources(context(), '../*'), matchSources(context(), '*'), '.. stops at the context root');
});

test('matchSources: a build without a context has no sources', () => {
  assert.throws(() => matchSources({ ...context(), dir: undefined }, 'a.txt'), notFound('/a.txt'));
});

test('sourceEntries: a directory as its contents, named from .', async () => {
  assert.deepEqual(await collect(sourceEntries(context('sub/deep'), 'sub', '.')), [
    { name: '.', type: 'directory' },
    { name: 'one.txt', type: 'file', body: 'one' },
  ]);
  assert.deepEqual(
    (await collect(sourceEntries(context(), 'link-sub', '.'))).map((entry) => entry.name),
    ['.', 'deep', 'deep/two.txt', 'one.txt'],
    'the source itself is followed',
  );
  assert.deepEqual((await collect(sourceEntries(context(), 'sub', 'dest'))).map((entry) => entry.name), ['dest', 'dest/deep', 'dest/deep/two.txt', 'dest/one.txt']);
});

test('sourceEntries: a file under the name given; symlinks below the source are kept', async () => {
  assert.deepEqual(await collect(sourceEntries(context(), 'a.txt', 'renamed')), [{ name: 'renamed', type: 'file', body: 'a' }]);
  assert.deepEqual(await collect(sourceEntries(context(), 'link-a', 'a')), [{ name: 'a', type: 'file', body: 'a' }]);
  const root = await collect(sourceEntries(context('sub\nvendor\noutside-dir\n*.md\n*.key\n'), '.', '.'));
  assert.deepEqual(root, [
    { name: '.', type: 'directory' },
    { name: 'a.txt', type: 'file', body: 'a' },
    { name: 'absolute', type: 'symlink', linkname: join(base, 'outside.txt') },
    { name: 'b.txt', type: 'file', body: 'b' },
    { name: 'link-a', type: 'symlink', linkname: 'a.txt' },
    { name: 'link-sub', type: 'symlink', linkname: 'sub' },
    { name: 'to-secret', type: 'symlink', linkname: 'secret.key' },
    { name: 'up', type: 'symlink', linkname: '../outside.txt' },
  ]);
});

test('sourceEntries: an exception inside an excluded directory brings its parents', async () => {
  const ignore = 'vendor\n!vendor/keep/kept.js\n';
  assert.deepEqual(
    (await collect(sourceEntries(context(ignore), '.', '.'))).map((entry) => entry.name).filter((name) => name.startsWith('vendor')),
    ['vendor', 'vendor/keep', 'vendor/keep/kept.js'],
  );
  assert.deepEqual(matchSources(context(ignore), 'vendor/*'), ['vendor/keep']);
  assert.throws(() => matchSources(context('vendor\n!vendor/nothing'), 'vendor'), notFound('/vendor'));
});

test('sourceEntries through a TreeWriter: Docker COPY of a directory and of a file', async () => {
  const destination = mkdtempSync(join(tmpdir(), 'whalebox-dest-'));
  const tree = Tree.open(destination, (path) => path);
  try {
    await new TreeWriter(tree, tree.root, 'caller').write(sourceEntries(context(), 'sub', '.'));
    await new TreeWriter(tree, tree.root, 'caller').write(sourceEntries(context(), 'a.txt', 'a-copy.txt'));
    assert.deepEqual(readdirSync(destination).sort(), ['a-copy.txt', 'deep', 'one.txt']);
    assert.equal(readFileSync(join(destination, 'deep', 'two.txt'), 'utf8'), 'two');
    assert.equal(readFileSync(join(destination, 'a-copy.txt'), 'utf8'), 'a');
  } finally {
    tree.close();
    rmSync(destination, { recursive: true, force: true });
  }
});

test('sourceEntries and isDirectorySource of a missing source', async () => {
  await assert.rejects(collect(sourceEntries(context(), 'missing', '.')), notFound('/missing'));
  assert.equal(isDirectorySource(context(), 'link-sub'), true);
  assert.equal(isDirectorySource(context(), 'a.txt'), false);
  assert.throws(() => isDirectorySource(context('a.txt'), 'a.txt'), notFound('/a.txt'));
});

test('checksumSources: contents and modes count, times and ignored files do not', async () => {
  const ctx = context('sub/ignored.log\n');
  const sources = ['a.txt', 'sub'];
  const first = await checksumSources(ctx, sources);
  assert.match(first, /^sha256:[0-9a-f]{64}$/);
  assert.equal(await checksumSources(ctx, sources), first);

  utimesSync(join(dir, 'sub', 'one.txt'), 1000, 1000);
  utimesSync(join(dir, 'a.txt'), 2000, 2000);
  assert.equal(await checksumSources(ctx, sources), first, 'a touch keeps it');

  writeFileSync(join(dir, 'sub', 'ignored.log'), 'noise');
  assert.equal(await checksumSources(ctx, sources), first, 'an ignored file is left out');
  rmSync(join(dir, 'sub', 'ignored.log'));

  chmodSync(join(dir, 'sub', 'one.txt'), 0o755);
  const chmodded = await checksumSources(ctx, sources);
  assert.notEqual(chmodded, first);
  chmodSync(join(dir, 'sub', 'one.txt'), 0o644);
  assert.equal(await checksumSources(ctx, sources), first);

  writeFileSync(join(dir, 'sub', 'one.txt'), 'ONE');
  assert.notEqual(await checksumSources(ctx, sources), first);
  writeFileSync(join(dir, 'sub', 'one.txt'), 'one');
  assert.equal(await checksumSources(ctx, sources), first);

  assert.notEqual(await checksumSources(ctx, ['b.txt', 'sub']), first, 'which file is copied counts');
  await assert.rejects(checksumSources(ctx, ['missing']), notFound('/missing'));
});
