import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WhaleboxError } from '../../util/errors.js';
import { goGlob, IgnoreMatcher } from './dockerignore.js';

const excluded = (text: string, paths: string[]): string[] => {
  const matcher = IgnoreMatcher.parse(text);
  return paths.filter((path) => matcher.excludes(path));
};

test('comments, blank lines and surrounding blanks', () => {
  const text = '\uFEFF# a comment\n\n   secret.txt  \r\n #not a comment\n';
  assert.deepEqual(excluded(text, ['secret.txt', 'a comment', '#not a comment', 'other']), ['secret.txt', '#not a comment']);
});

test('patterns are cleaned and a leading / dropped', () => {
  assert.deepEqual(excluded('/build/\n./logs//x\nsrc/../tmp\n/../up', ['build', 'logs/x', 'tmp', 'src/tmp', 'up']), ['build', 'logs/x', 'tmp', 'up']);
});

test('* ? and classes stay in a segment', () => {
  const paths = ['a.log', 'dir/a.log', 'b1', 'bx', 'c', 'd', 'e', 'x/y/z'];
  assert.deepEqual(excluded('*.log\nb[0-9]\n[^ce]\n?/*/z', paths), ['a.log', 'b1', 'd', 'x/y/z']);
});

test('** spans any number of segments', () => {
  const paths = ['a.log', 'x/a.log', 'x/y/b.log', 'node_modules', 'p/node_modules/q', 'src/a/b/test', 'src/test', 'srctest'];
  assert.deepEqual(excluded('**/*.log', paths), ['a.log', 'x/a.log', 'x/y/b.log']);
  assert.deepEqual(excluded('**/node_modules', paths), ['node_modules', 'p/node_modules/q']);
  assert.deepEqual(excluded('src/**/test', paths), ['src/a/b/test', 'src/test']);
  assert.deepEqual(excluded('**', paths), paths);
  // As patternmatcher: a pattern starting with ** matches any path that ends with the rest.
  assert.deepEqual(excluded('**.log', paths), ['a.log', 'x/a.log', 'x/y/b.log']);
});

test('a matching directory excludes everything below it', () => {
  assert.deepEqual(excluded('build', ['build', 'build/a/b', 'builder', 'src/build']), ['build', 'build/a/b']);
});

test('exceptions: the last matching pattern wins', () => {
  const text = '*.md\n!README.md\nREADME-secret.md\n!docs\n';
  assert.deepEqual(excluded(text, ['a.md', 'README.md', 'README-secret.md', 'docs', 'x.txt']), ['a.md', 'README-secret.md']);
  assert.deepEqual(excluded('!a\na', ['a']), ['a']);
  assert.deepEqual(excluded('a\n!a', ['a', 'a/b']), []);
});

test('an exception takes back a path inside an excluded directory', () => {
  const matcher = IgnoreMatcher.parse('vendor\n!vendor/keep\n');
  assert.equal(matcher.excludes('vendor'), true);
  assert.equal(matcher.excludes('vendor/other'), true);
  assert.equal(matcher.excludes('vendor/keep'), false);
  assert.equal(matcher.excludes('vendor/keep/deep'), false);
  assert.equal(matcher.mayReinclude('vendor'), true);
  assert.equal(matcher.mayReinclude('vendor/other'), false);
  assert.equal(matcher.mayReinclude('lib'), false);
});

test('mayReinclude: wildcards and ** in exceptions', () => {
  const matcher = IgnoreMatcher.parse('*\n!*/keep\n');
  assert.equal(matcher.mayReinclude('a'), true);
  assert.equal(matcher.mayReinclude('a/b'), false);
  assert.equal(IgnoreMatcher.parse('*\n!**/*.go').mayReinclude('a/b/c'), true);
  assert.equal(IgnoreMatcher.parse('*\n!a').mayReinclude('a'), false);
  assert.equal(IgnoreMatcher.parse('a').mayReinclude('a'), false);
});

test('none excludes nothing, the context root never is', () => {
  assert.equal(IgnoreMatcher.none().excludes('anything'), false);
  assert.equal(IgnoreMatcher.parse('*\n**').excludes('.'), false);
});

test('malformed patterns are refused', () => {
  for (const text of ['!', '[', 'a[]', 'a\\', '[a-]']) {
    assert.throws(() => IgnoreMatcher.parse(text), WhaleboxError, text);
  }
});

test("goGlob is Go's filepath.Match", () => {
  const matches = (pattern: string, name: string): boolean => goGlob(pattern).test(name);
  assert.equal(matches('*.txt', '.hidden.txt'), true);
  assert.equal(matches('a?c', 'abc'), true);
  assert.equal(matches('a?c', 'a/c'), false);
  assert.equal(matches('[a-c]x', 'bx'), true);
  assert.equal(matches('[^a-c]x', 'bx'), false);
  assert.equal(matches('[\\]]', ']'), true);
  assert.equal(matches('\\*', '*'), true);
  assert.equal(matches('\\*', 'a'), false);
  assert.equal(matches('a.b', 'axb'), false);
  assert.equal(matches('(x)+', '(x)+'), true);
  assert.equal(matches('[z-a]', 'm'), false);
  assert.throws(() => goGlob('[abc'), /syntax error in pattern/);
});
