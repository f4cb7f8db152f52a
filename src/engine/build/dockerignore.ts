import { posix } from 'node:path';
import { WhaleboxError } from '../../util/errors.js';

/**
 * `.dockerignore`, read as Docker reads it (moby's ignorefile and patternmatcher packages):
 * one pattern per line, `#` comment lines, patterns trimmed and cleaned, a leading `/` dropped,
 * `!` exceptions where the last pattern that matches wins. A pattern matching a directory
 * matches everything below it. `*`, `?` and `[...]` stay inside a path segment; `**` spans
 * any number of them.
 */

/** A `[...]` class that does not close, a misplaced `-` or `]`, or a trailing `\`: Go's ErrBadPattern. */
class BadPattern extends Error {}

/** A regular expression's source for a pattern fragment, and whether it was a literal character. */
interface Token {
  readonly source: string;
  readonly next: number;
  readonly literal: boolean;
}

const escapeOutside = (ch: string): string => ch.replace(/[\\^$.*+?()[\]{}|/]/, '\\$&');
const escapeInside = (ch: string): string => ch.replace(/[\\^$.*+?()[\]{}|/-]/, '\\$&');

/** One token of Go's filepath.Match syntax at `chars[i]`. */
function globToken(chars: readonly string[], i: number): Token {
  const ch = chars[i]!;
  if (ch === '*') return { source: '[^/]*', next: i + 1, literal: false };
  if (ch === '?') return { source: '[^/]', next: i + 1, literal: false };
  if (ch === '[') return charClass(chars, i + 1);
  if (ch === '\\') {
    if (i + 1 >= chars.length) throw new BadPattern();
    return { source: escapeOutside(chars[i + 1]!), next: i + 2, literal: false };
  }
  return { source: escapeOutside(ch), next: i + 1, literal: true };
}

/** A class whose `[` is just before `chars[i]`: ranges, `^` to negate, `\` escapes. */
function charClass(chars: readonly string[], i: number): Token {
  const negated = chars[i] === '^';
  if (negated) i++;
  let ranges = '';
  for (let count = 0; chars[i] !== ']' || count === 0; count++) {
    let low: string;
    let high: string;
    [low, i] = classCharacter(chars, i);
    high = low;
    if (chars[i] === '-') [high, i] = classCharacter(chars, i + 1);
    // Go accepts a reversed range, which matches nothing; a regular expression would not compile.
    if (low.codePointAt(0)! <= high.codePointAt(0)!) ranges += `${escapeInside(low)}-${escapeInside(high)}`;
  }
  return { source: `[${negated ? '^' : ''}${ranges}]`, next: i + 1, literal: false };
}

/** Go's getEsc: one character of a class, which must be followed by more of it. */
function classCharacter(chars: readonly string[], i: number): [string, number] {
  if (chars[i] === undefined || chars[i] === '-' || chars[i] === ']') throw new BadPattern();
  if (chars[i] === '\\') i++;
  const ch = chars[i];
  if (ch === undefined || i + 1 >= chars.length) throw new BadPattern();
  return [ch, i + 1];
}

/** Go's filepath.Match for one path segment, as a regular expression. */
export function goGlob(pattern: string): RegExp {
  const chars = [...pattern];
  let source = '';
  try {
    for (let i = 0; i < chars.length; ) {
      const token = globToken(chars, i);
      source += token.source;
      i = token.next;
    }
  } catch (err) {
    if (err instanceof BadPattern) throw new WhaleboxError(`syntax error in pattern: ${pattern}`, 1);
    throw err;
  }
  return new RegExp(`^${source}$`, 'u');
}

/**
 * patternmatcher's Pattern.compile and match. Its shortcuts are kept because they differ from
 * its regular expressions: a pattern that starts with `**` matches any path ending in the
 * rest (`**.log` takes `a/b.log`), and a literal one ending in `**` any path starting so.
 */
function compile(pattern: string): (path: string) => boolean {
  const chars = [...pattern];
  let source = '';
  let kind: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  for (let i = 0; i < chars.length; ) {
    if (chars[i] === '*' && chars[i + 1] === '*') {
      const start = i;
      i += chars[i + 2] === '/' ? 3 : 2;
      if (i < chars.length) {
        source += '(.*/)?';
        kind = 'regexp';
      } else if (kind === 'exact') {
        kind = 'prefix';
      } else {
        source += '.*';
        kind = 'regexp';
      }
      if (start === 0) kind = 'suffix';
      continue;
    }
    const token = globToken(chars, i);
    source += token.source;
    i = token.next;
    if (!token.literal) kind = 'regexp';
  }
  switch (kind) {
    case 'exact':
      return (path) => path === pattern;
    case 'prefix': {
      const prefix = pattern.slice(0, -2);
      return (path) => path.startsWith(prefix);
    }
    case 'suffix': {
      const suffix = pattern.slice(2);
      return (path) => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
    }
    case 'regexp': {
      const regexp = new RegExp(`^${source}$`, 'u');
      return (path) => regexp.test(path);
    }
  }
}

interface Pattern {
  readonly exclusion: boolean;
  readonly matches: (path: string) => boolean;
  /**
   * A matcher per segment, to tell whether the pattern could match below a directory;
   * undefined when it could at any depth (`**`), or when a class could hide a `/`.
   */
  readonly segments: ReadonlyArray<(name: string) => boolean> | undefined;
}

/** Go's filepath.Clean, which unlike posix.normalize drops a trailing `/`. */
function goClean(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 ? normal.replace(/\/+$/, '') : normal;
}

function parsePattern(line: string): Pattern {
  const exclusion = line.startsWith('!');
  let text = exclusion ? line.slice(1).trim() : line;
  if (text === '') throw new WhaleboxError('failed to parse dockerignore: illegal exclusion pattern: "!"', 1);
  text = goClean(text);
  if (text.length > 1 && text.startsWith('/')) text = text.slice(1);
  try {
    const segments = text.includes('**') || text.includes('[') ? undefined : text.split('/').map(compile);
    return { exclusion, matches: compile(text), segments };
  } catch (err) {
    if (err instanceof BadPattern) throw new WhaleboxError(`failed to parse dockerignore: syntax error in pattern: ${text}`, 1);
    throw err;
  }
}

/** The pattern lines: a BOM dropped, `#` lines (before trimming, as Docker) and blank ones skipped. */
function patternLines(text: string): string[] {
  return text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .filter((line) => !line.startsWith('#'))
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** `a/b/c` → [`a`, `a/b`]. */
function parents(path: string): string[] {
  const names = path.split('/');
  return names.slice(0, -1).map((_, i) => names.slice(0, i + 1).join('/'));
}

export class IgnoreMatcher {
  private constructor(private readonly patterns: readonly Pattern[]) {}

  static parse(text: string): IgnoreMatcher {
    return new IgnoreMatcher(patternLines(text).map(parsePattern));
  }

  static none(): IgnoreMatcher {
    return new IgnoreMatcher([]);
  }

  /** Whether a path (relative to the context, `/`-separated) is left out: patternmatcher's MatchesOrParentMatches. */
  excludes(relPath: string): boolean {
    if (relPath === '' || relPath === '.') return false; // the context itself is always there
    const above = parents(relPath);
    let excluded = false;
    for (const pattern of this.patterns) {
      // Only an exception can change an excluded path, and only an exclusion an included one.
      if (pattern.exclusion !== excluded) continue;
      if (pattern.matches(relPath) || above.some(pattern.matches)) excluded = !pattern.exclusion;
    }
    return excluded;
  }

  /**
   * Whether an exception could take back something below an excluded directory, so that a
   * walk must still go into it. Exceptions that match the directory or its parents do not
   * count: had they come after its exclusion, it would not be excluded.
   */
  mayReinclude(dirRelPath: string): boolean {
    const names = dirRelPath.split('/');
    return this.patterns.some(
      ({ exclusion, segments }) =>
        exclusion && (segments === undefined || (segments.length > names.length && names.every((name, i) => segments[i]!(name)))),
    );
  }
}
