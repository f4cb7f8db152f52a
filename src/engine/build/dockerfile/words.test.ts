import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WhaleboxError } from '../../../util/errors.js';
import { expandWord, expandWords, lex } from './words.js';

const env = new Map([
  ['A', 'x y'],
  ['B', 'b'],
  ['EMPTY', ''],
  ['PATH_', '/usr/local/bin/app.tar.gz'],
  ['STAR', '*star*'],
  ['1', 'one'],
]);

const word = (raw: string) => expandWord(raw, env, '\\');
const words = (raw: string) => expandWords(raw, env, '\\');

test('expands $VAR and ${VAR}; unset variables are empty', () => {
  assert.equal(word('$B'), 'b');
  assert.equal(word('${B}c'), 'bc');
  assert.equal(word('$Bc'), '');
  assert.equal(word('a$UNSET-z'), 'a-z');
  assert.equal(word('$1x'), 'onex');
  assert.equal(word('$$'), '', '$$ names a (never set) special parameter');
  assert.equal(word('cost: $'), 'cost: $');
  assert.equal(word('$/'), '$/');
});

test('single quotes are literal, double quotes expand, quotes are removed', () => {
  assert.equal(word("'$B \\n'"), '$B \\n');
  assert.equal(word('"$B and $A"'), 'b and x y');
  assert.equal(word('a"b c"d\'e f\''), 'ab cde f');
  assert.equal(word('"it\'s"'), "it's");
});

test('the escape character outside quotes takes the next character literally', () => {
  assert.equal(word('\\$B'), '$B');
  assert.equal(word('a\\ b'), 'a b');
  assert.equal(word('\\"quoted\\"'), '"quoted"');
  assert.equal(word('\\\\'), '\\');
  assert.equal(word('end\\'), 'end', 'a trailing escape is dropped');
});

test('inside double quotes the escape only escapes ", $ and itself', () => {
  assert.equal(word('"\\$B \\" \\\\ \\n"'), '$B " \\ \\n');
});

test('a backtick escape makes backslashes ordinary', () => {
  assert.equal(expandWord('C:\\dir\\$B', env, '`'), 'C:\\dir\\b');
  assert.equal(expandWord('a` b`$B', env, '`'), 'a b$B');
  assert.equal(expandWord('"`"`$B \\"', env, '`'), '"$B \\');
});

test('${VAR-default} and ${VAR:-default}: the colon also treats empty as unset', () => {
  assert.equal(word('${UNSET-d}'), 'd');
  assert.equal(word('${EMPTY-d}'), '');
  assert.equal(word('${EMPTY:-d}'), 'd');
  assert.equal(word('${B:-d}'), 'b');
  assert.equal(word('${UNSET:-"quoted default"}'), 'quoted default');
  assert.equal(word('${UNSET:-${ALSO_UNSET:-${B}}}'), 'b');
  assert.equal(word('${UNSET:-a\\}b}'), 'a}b');
});

test('${VAR+alt} and ${VAR:+alt}', () => {
  assert.equal(word('${B+alt}'), 'alt');
  assert.equal(word('${EMPTY+alt}'), 'alt');
  assert.equal(word('${EMPTY:+alt}'), '');
  assert.equal(word('${UNSET+alt}'), '');
  assert.equal(word('${B:+$A}'), 'x y');
});

test('${VAR?msg} and ${VAR:?msg} fail when unset (or empty)', () => {
  assert.equal(word('${B:?}'), 'b');
  assert.equal(word('${EMPTY?}'), '');
  const fails = (raw: string, message: string) =>
    assert.throws(
      () => word(raw),
      (err: unknown) => err instanceof WhaleboxError && err.exitCode === 1 && err.message === message,
      raw,
    );
  fails('${UNSET?}', 'failed to process "${UNSET?}": UNSET: is not allowed to be unset');
  fails('${EMPTY:?}', 'failed to process "${EMPTY:?}": EMPTY: is not allowed to be empty');
  fails('${UNSET:?set it, please}', 'failed to process "${UNSET:?set it, please}": UNSET: set it, please');
});

test('${VAR#pat}, ${VAR##pat}, ${VAR%pat}, ${VAR%%pat} remove the shortest or longest match', () => {
  assert.equal(word('${PATH_#*/}'), 'usr/local/bin/app.tar.gz');
  assert.equal(word('${PATH_##*/}'), 'app.tar.gz');
  assert.equal(word('${PATH_%.*}'), '/usr/local/bin/app.tar');
  assert.equal(word('${PATH_%%.*}'), '/usr/local/bin/app');
  assert.equal(word('${PATH_#/usr/}'), 'local/bin/app.tar.gz');
  assert.equal(word('${PATH_%.?z}'), '/usr/local/bin/app.tar');
  assert.equal(word('${PATH_#nomatch}'), '/usr/local/bin/app.tar.gz');
  assert.equal(word('${STAR#\\*}'), 'star*');
  assert.equal(word('${STAR%\\*}'), '*star');
  assert.equal(word('${UNSET##*}'), '');
});

test('${VAR/pat/repl} replaces the first match, ${VAR//pat/repl} all of them', () => {
  assert.equal(word('${PATH_/l/L}'), '/usr/Local/bin/app.tar.gz');
  assert.equal(word('${PATH_//l/L}'), '/usr/LocaL/bin/app.tar.gz');
  assert.equal(word('${PATH_/*bin\\//}'), 'app.tar.gz');
  assert.equal(word('${B/x/$A}'), 'b');
});

test('expandWords splits on unquoted blanks, also inside expanded values', () => {
  assert.deepEqual(words('  a  b\tc '), ['a', 'b', 'c']);
  assert.deepEqual(words('$A'), ['x', 'y']);
  assert.deepEqual(words('"$A"'), ['x y']);
  assert.deepEqual(words("'a b' c\\ d"), ['a b', 'c d']);
  assert.deepEqual(words('pre$A"post fix"'), ['prex', 'ypost fix']);
  assert.deepEqual(words('a "" b'), ['a', 'b']);
  assert.deepEqual(words(''), []);
  // A default's quotes do not protect its value from splitting, as in Docker.
  assert.deepEqual(words('${UNSET:-"a b"}'), ['a', 'b']);
});

test('expandWord keeps blanks between words', () => {
  assert.equal(word(' a  $A '), ' a  x y ');
});

test('syntax errors name the input', () => {
  const cases: Array<[string, string]> = [
    ['${B', "syntax error: missing '}'"],
    ['${B:-x', "syntax error: missing '}'"],
    ['${', "syntax error: missing '}'"],
    ['${}', 'syntax error: bad substitution'],
    ['${:-x}', 'syntax error: bad substitution'],
    ['${B^}', 'unsupported modifier (^) in substitution'],
    ['${B:x}', 'unsupported modifier (:x) in substitution'],
    ['${B/a', "syntax error: missing '/' in ${}"],
    ["'open", 'unexpected end of statement while looking for matching single-quote'],
    ['"open', 'unexpected end of statement while looking for matching double-quote'],
    ['${B#\\x}', "invalid pattern (\\x) in substitution: invalid escape '\\x'"],
  ];
  for (const [raw, message] of cases) {
    assert.throws(
      () => word(raw),
      (err: unknown) => err instanceof WhaleboxError && err.message === `failed to process ${JSON.stringify(raw)}: ${message}`,
      raw,
    );
  }
});

test('lex can keep quotes, escapes and unset variables as written', () => {
  const kept = lex('"$UNSET" ${UNSET} ${UNSET:-d} a\\ b $B', env, '\\', { rawQuotes: true, rawEscapes: true, keepUnset: true });
  assert.deepEqual(kept.words, ['"$UNSET"', '${UNSET}', '${UNSET:-d}', 'a\\ b', 'b']);
});
