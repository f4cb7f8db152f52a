/**
 * Variable expansion and word splitting for Dockerfile arguments, as BuildKit's shell lexer
 * (`frontend/dockerfile/shell/lex.go`) does it: quotes, the escape character, `$VAR`, `${VAR}`
 * and the `${VAR…}` modifiers. It is not a shell: no command substitution, no globbing.
 */
import { WhaleboxError } from '../../../util/errors.js';

export type EscapeChar = '\\' | '`';

export interface LexOptions {
  /** Keep quote characters in the results (the parser's heredoc detection needs them). */
  readonly rawQuotes?: boolean;
  /** Keep escape characters in the results. */
  readonly rawEscapes?: boolean;
  /** Leave references to unset variables as written instead of expanding them to nothing. */
  readonly keepUnset?: boolean;
}

export interface LexResult {
  /** The whole input expanded, blanks kept (ProcessWord). */
  readonly word: string;
  /** The input expanded and split on blanks that are neither quoted nor escaped (ProcessWords). */
  readonly words: readonly string[];
}

/** Docker's ProcessWord: `a "b c" $D` → `a b c <value of D>`. Unset variables expand to nothing. */
export function expandWord(raw: string, env: ReadonlyMap<string, string>, escape: EscapeChar): string {
  return lex(raw, env, escape).word;
}

/** Docker's ProcessWords: as expandWord, then split into words; an unquoted `$A` may give several. */
export function expandWords(raw: string, env: ReadonlyMap<string, string>, escape: EscapeChar): string[] {
  return [...lex(raw, env, escape).words];
}

/** Both results at once, with the lexer's options. Errors are WhaleboxErrors naming the input. */
export function lex(raw: string, env: ReadonlyMap<string, string>, escape: EscapeChar, options: LexOptions = {}): LexResult {
  try {
    return new Lexer(raw, env, escape, options).run();
  } catch (err) {
    if (err instanceof LexError) throw new WhaleboxError(`failed to process ${JSON.stringify(raw)}: ${err.message}`, 1);
    throw err;
  }
}

/** Go's unicode.IsSpace, near enough. */
export function isSpace(ch: string): boolean {
  return /^\s$/u.test(ch);
}

class LexError extends Error {}

const MISSING_BRACE = "syntax error: missing '}'";

/** POSIX special parameters (`$#`, `$?`, …): one-character names. */
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

const isLetter = (ch: string) => /^\p{L}$/u.test(ch);
const isDigit = (ch: string) => /^\p{Nd}$/u.test(ch);

/** Words built character by character; unquoted blanks end a word, quoted ones do not. */
class WordSplitter {
  private readonly words: string[] = [];
  private word = '';

  addChar(ch: string): void {
    if (!isSpace(ch)) {
      this.word += ch;
    } else if (this.word !== '') {
      this.words.push(this.word);
      this.word = '';
    }
  }

  /** Quoted or escaped text: blanks in it are part of the word. */
  addRaw(text: string): void {
    this.word += text;
  }

  addString(text: string): void {
    for (const ch of text) this.addChar(ch);
  }

  done(): string[] {
    if (this.word !== '') this.words.push(this.word);
    return this.words;
  }
}

class Lexer {
  private readonly chars: string[];
  private pos = 0;
  private rawEscapes: boolean;

  constructor(
    raw: string,
    private readonly env: ReadonlyMap<string, string>,
    private readonly escape: EscapeChar,
    private readonly options: LexOptions,
  ) {
    this.chars = [...raw];
    this.rawEscapes = options.rawEscapes ?? false;
  }

  run(): LexResult {
    return this.until(undefined, this.rawEscapes);
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  /** Reads up to `stop` (consumed), or to the end when `stop` is undefined. */
  private until(stop: string | undefined, rawEscapes: boolean): LexResult {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      return this.readUntil(stop);
    } finally {
      this.rawEscapes = saved;
    }
  }

  private readUntil(stop: string | undefined): LexResult {
    let word = '';
    const words = new WordSplitter();
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (ch === stop) {
        this.next();
        return { word, words: words.done() };
      }
      if (ch === '$') {
        const value = this.dollar();
        word += value;
        words.addString(value);
      } else if (ch === "'" || ch === '"') {
        const value = ch === "'" ? this.singleQuoted() : this.doubleQuoted();
        word += value;
        words.addRaw(value);
      } else if (ch === this.escape) {
        this.next();
        if (this.rawEscapes) {
          word += ch;
          words.addRaw(ch);
        }
        // An escape at the very end is dropped.
        const escaped = this.next();
        if (escaped === undefined) break;
        word += escaped;
        words.addRaw(escaped);
      } else {
        this.next();
        word += ch;
        words.addChar(ch);
      }
    }
    if (stop !== undefined) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
    return { word, words: words.done() };
  }

  /** Everything up to the closing quote, literally: nothing can be escaped in single quotes. */
  private singleQuoted(): string {
    const quote = this.options.rawQuotes ? "'" : '';
    this.next();
    let value = quote;
    for (let ch = this.next(); ch !== "'"; ch = this.next()) {
      if (ch === undefined) throw new LexError('unexpected end of statement while looking for matching single-quote');
      value += ch;
    }
    return value + quote;
  }

  /** `$` expands; the escape character escapes only `"`, `$` and itself, and is kept before anything else. */
  private doubleQuoted(): string {
    const quote = this.options.rawQuotes ? '"' : '';
    this.next();
    let value = quote;
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.next();
        return value + quote;
      }
      if (ch === '$') {
        value += this.dollar();
        continue;
      }
      value += this.quotedChar();
    }
  }

  private quotedChar(): string {
    const ch = this.next()!;
    if (ch !== this.escape) return ch;
    const kept = this.rawEscapes ? ch : '';
    const after = this.peek();
    if (after === undefined) return kept;
    if (after === '"' || after === '$' || after === this.escape) return kept + this.next()!;
    return kept + ch;
  }

  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      return this.lookup(name) ?? (this.options.keepUnset ? `$${name}` : '');
    }
    this.next();
    const first = this.peek();
    if (first === undefined) throw new LexError(MISSING_BRACE);
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.name();
    const ch = this.next();
    if (ch === undefined) throw new LexError(MISSING_BRACE);
    if (ch === '}') return this.lookup(name) ?? (this.options.keepUnset ? `\${${name}}` : '');
    if (ch === '/') return this.replace(name);
    return this.modified(name, ch);
  }

  /** `${name-word}`, `${name:+word}`, `${name?msg}`, `${name#pattern}`, `${name%%pattern}`… */
  private modified(name: string, ch: string): string {
    const nullIsUnset = ch === ':';
    const op = nullIsUnset ? (this.next() ?? '') : ch;
    const modifier = nullIsUnset ? `:${op}` : op;
    if (!nullIsUnset && !'+-?#%'.includes(ch)) throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    // Patterns keep their escapes: `${A#\*}` removes a literal star.
    let word = this.closing('}', op === '#' || op === '%', MISSING_BRACE);
    const value = this.lookup(name);
    if (value === undefined && this.options.keepUnset) return `\${${name}${modifier}${word}}`;
    const unset = value === undefined || (nullIsUnset && value === '');
    switch (op) {
      case '-':
        return unset ? word : value!;
      case '+':
        return unset ? '' : word;
      case '?':
        if (value === undefined) throw new LexError(`${name}: ${word || 'is not allowed to be unset'}`);
        if (unset) throw new LexError(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      case '#':
      case '%': {
        const greedy = word.startsWith(op);
        if (greedy) word = word.slice(1);
        return op === '#' ? trimPrefix(word, value ?? '', greedy) : trimSuffix(word, value ?? '', greedy);
      }
      default:
        throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    }
  }

  /** `${name/pattern/replacement}` (first match) and `${name//pattern/replacement}` (all). */
  private replace(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    const pattern = this.closing('/', true, "syntax error: missing '/' in ${}");
    const replacement = this.closing('}', true, MISSING_BRACE);
    const value = this.lookup(name);
    if (value === undefined && this.options.keepUnset) return `\${${name}/${pattern}/${replacement}}`;
    const re = patternRegExp(pattern, true, false, all ? 'g' : '');
    return (value ?? '').replace(re, () => replacement);
  }

  /** The text up to `stop`; running out of input first is reported as `missing`. */
  private closing(stop: string, rawEscapes: boolean, missing: string): string {
    try {
      return this.until(stop, rawEscapes).word;
    } catch (err) {
      if (err instanceof LexError && this.peek() === undefined) throw new LexError(missing);
      throw err;
    }
  }

  /** A variable name: letters, digits and `_`; or digits only (`$1`); or one special parameter. */
  private name(): string {
    let name = '';
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (name === '' && isDigit(ch)) {
        while (this.peek() !== undefined && isDigit(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return this.next()!;
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private lookup(name: string): string | undefined {
    return this.env.get(name);
  }
}

/**
 * A shell pattern (`*` any string, `?` one character, `\` escaping `*`, `?` and `\`; no bracket
 * expressions) as a regular expression. Go's `.` stops at newlines, hence `[^\n]`.
 */
function patternRegExp(pattern: string, greedy: boolean, anchored: boolean, flags = ''): RegExp {
  let source = anchored ? '^' : '';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      source += greedy ? '[^\\n]*' : '[^\\n]*?';
    } else if (ch === '?') {
      source += '[^\\n]';
    } else if (ch === '\\') {
      // `\}` and `\/` only keep `}` and `/` from ending the ${} expression.
      const next = chars[i + 1];
      if (next === '}' || next === '/') continue;
      if (next !== '*' && next !== '?' && next !== '\\') {
        throw new LexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${next ?? ''}'`);
      }
      source += `\\${next}`;
      i++;
    } else {
      source += /[[\]{}.+()|^$]/.test(ch) ? `\\${ch}` : ch;
    }
  }
  return new RegExp(source, `u${flags}`);
}

/** `${A#pattern}` (shortest) and `${A##pattern}` (greedy): the value without a matching prefix. */
function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const match = patternRegExp(pattern, greedy, true).exec(value);
  return match ? value.slice(match[0].length) : value;
}

/** `${A%pattern}` and `${A%%pattern}`: a prefix match on the reversed value and pattern. */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

function reverse(text: string): string {
  return [...text].reverse().join('');
}

/** Reverses a pattern keeping each escape before the character it escapes (`a\*c` → `c\*a`). */
function reversePattern(pattern: string): string {
  const chars = [...pattern];
  const tokens: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    const escaped = chars[i] === '\\' && i < chars.length - 1;
    tokens.push(escaped ? `\\${chars[++i]}` : chars[i]!);
  }
  return tokens.reverse().join('');
}
