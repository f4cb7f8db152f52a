import { WhaleboxError } from '../util/errors.js';
import { familiarName, familiarString, type ImageReference } from './reference.js';

/**
 * Docker's `reference.FamiliarMatch`, as `images --filter reference=…` uses it: the pattern
 * (Go's `path.Match` syntax) against the familiar form (`busybox:latest`, `me/app@sha256:…`),
 * then against the familiar name alone (`busybox`). `*` does not cross a `/`.
 */
export function familiarMatch(pattern: RegExp, ref: ImageReference): boolean {
  return pattern.test(familiarString(ref)) || pattern.test(familiarName(ref));
}

/**
 * Compiles a Go `path.Match` pattern: `*` and `?` (never matching `/`), `[…]` classes with
 * `^` negation and `a-z` ranges, `\` escapes. A malformed pattern fails as in Go, with
 * `syntax error in pattern` (status 1, a daemon error).
 */
export function compileGlob(pattern: string): RegExp {
  const bad = (): never => {
    throw new WhaleboxError('syntax error in pattern', 1);
  };
  const chars = [...pattern];
  let i = 0;
  // One character of a class or of the pattern, `\` escapes resolved (Go's getEsc).
  const literal = (inClass: boolean): string => {
    let c = chars[i];
    if (c === undefined || (inClass && (c === '-' || c === ']'))) bad();
    if (c === '\\') c = chars[++i] ?? bad();
    i++;
    return c!;
  };
  const escape = (c: string): string => `\\u{${c.codePointAt(0)!.toString(16)}}`;
  let source = '';
  while (i < chars.length) {
    const c = chars[i]!;
    if (c === '*' || c === '?') {
      source += c === '*' ? '[^/]*' : '[^/]';
      i++;
    } else if (c === '[') {
      i++;
      const negated = chars[i] === '^';
      if (negated) i++;
      let ranges = '';
      for (let count = 0; chars[i] !== ']' || count === 0; count++) {
        const lo = literal(true);
        const hi = chars[i] === '-' ? (i++, literal(true)) : lo;
        // Go accepts a reversed range, which matches nothing; a RegExp would refuse it.
        if (lo <= hi) ranges += `${escape(lo)}-${escape(hi)}`;
        if (i >= chars.length) bad();
      }
      i++;
      source += `[${negated ? '^' : ''}${ranges}]`;
    } else {
      source += escape(literal(false));
    }
  }
  return new RegExp(`^${source}$`, 'u');
}
