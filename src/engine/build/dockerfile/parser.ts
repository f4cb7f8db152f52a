/**
 * The Dockerfile parser, following BuildKit's frontend (`frontend/dockerfile/parser` for lines,
 * directives and heredocs, `instructions/parse.go` for each instruction's arguments). Arguments
 * are kept unexpanded: the builder expands them with words.ts once ARG and ENV values are known.
 */
import { WhaleboxError } from '../../../util/errors.js';
import { DockerfileError } from './errors.js';
import type {
  ArgInstruction,
  CommandForm,
  CopyInstruction,
  Dockerfile,
  FromInstruction,
  Heredoc,
  Instruction,
  Located,
  Stage,
} from './types.js';
import { type EscapeChar, isSpace, lex } from './words.js';

export { DockerfileError } from './errors.js';

/** Parses a whole Dockerfile into its stages. Throws DockerfileError. */
export function parseDockerfile(text: string): Dockerfile {
  if (text === '') throw new DockerfileError('the Dockerfile cannot be empty', 0);
  const scanner = new Scanner(text.replace(/^\uFEFF/, ''), '\\', true, (n) => n);
  const nodes = scanner.nodes();
  if (nodes.length === 0) throw new DockerfileError('file with no instructions', scanner.lineCount);
  const escape = scanner.escape;
  const globalArgs: ArgInstruction[] = [];
  const stages: Array<Stage & { instructions: Instruction[] }> = [];
  for (const node of nodes) {
    const instruction = toInstruction(node, escape);
    const stage = stages.at(-1);
    if (instruction.kind === 'FROM') {
      stages.push({ from: instruction, index: stages.length, instructions: [] });
    } else if (stage) {
      stage.instructions.push(instruction);
    } else if (instruction.kind === 'ARG') {
      globalArgs.push(instruction);
    } else {
      throw new DockerfileError('no build stage in current context', node.line);
    }
  }
  if (stages.length === 0) throw new DockerfileError('dockerfile contains no stages to build', 0);
  return { escape, ...defined('syntax', scanner.syntax), globalArgs, stages };
}

/**
 * Parses one ONBUILD trigger (`RUN echo hi`, heredoc bodies included) as the single instruction
 * it must be, located at `line` (the FROM line of the stage that runs it).
 */
export function parseTrigger(text: string, escape: EscapeChar, line: number): Instruction {
  const nodes = new Scanner(text, escape, false, () => line).nodes();
  if (nodes.length !== 1) throw new DockerfileError('onbuild trigger should be a single expression', line);
  const refusal = TRIGGER_REFUSALS[nodes[0]!.command];
  if (refusal) throw new DockerfileError(refusal, line);
  return toInstruction(nodes[0]!, escape);
}

const TRIGGER_REFUSALS: Readonly<Record<string, string>> = {
  onbuild: 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed',
  from: "FROM isn't allowed as an ONBUILD trigger",
  maintainer: "MAINTAINER isn't allowed as an ONBUILD trigger",
};

/** One instruction as the line scanner found it, before its arguments are interpreted. */
interface Node extends Located {
  /** The keyword as written. */
  readonly keyword: string;
  /** The keyword in lower case. */
  readonly command: string;
  /** Leading `--name[=value]` words, quotes removed. */
  readonly flags: readonly string[];
  /** What follows the flags, trimmed. */
  readonly args: string;
  readonly heredocs: readonly RawHeredoc[];
}

/** A heredoc as read: its body exactly as written, and how its `<<` word asked for it. */
interface RawHeredoc {
  readonly name: string;
  readonly content: string;
  readonly expand: boolean;
  /** `<<-`: leading tabs are stripped from the body. */
  readonly chomp: boolean;
}

type HeredocWord = Omit<RawHeredoc, 'content'>;

const NO_ENV: ReadonlyMap<string, string> = new Map();

/** Instructions whose shell form may carry heredocs (ONBUILD may, through its trigger). */
const HEREDOC_COMMANDS = new Set(['run', 'copy', 'add']);

/**
 * Turns the text into instruction lines: parser directives at the top, comments dropped,
 * continuation lines joined, heredoc bodies attached to their instruction.
 */
class Scanner {
  syntax: string | undefined;
  private readonly lines: string[];
  private index = 0;
  private readingDirectives: boolean;
  private readonly seenDirectives = new Set<string>();

  constructor(
    text: string,
    public escape: EscapeChar,
    readDirectives: boolean,
    /** Maps a line of the text to the line reported (a trigger reports its FROM line). */
    private readonly at: (line: number) => number,
  ) {
    // Lines keep their line ending: heredoc bodies are taken as written.
    this.lines = text.split(/(?<=\n)/);
    this.readingDirectives = readDirectives;
  }

  get lineCount(): number {
    return this.at(this.lines.length);
  }

  nodes(): Node[] {
    const nodes: Node[] = [];
    for (let raw = this.nextLine(); raw !== undefined; raw = this.nextLine()) {
      const start = this.index;
      const first = trimNewline(raw).trimStart();
      this.directive(first, start);
      let [line, continued] = this.uncontinue(first.startsWith('#') ? '' : first);
      if (!continued && line === '') continue;
      while (continued) {
        const next = this.nextLine();
        if (next === undefined) break;
        const token = trimNewline(next);
        // Comments and blank lines inside a continued instruction are skipped.
        if (token.trimStart().startsWith('#') || token.trim() === '') continue;
        let part: string;
        [part, continued] = this.uncontinue(token);
        line += part;
      }
      nodes.push(this.node(line, start));
    }
    return nodes;
  }

  private nextLine(): string | undefined {
    return this.index < this.lines.length ? this.lines[this.index++] : undefined;
  }

  /** `# escape=…`, `# syntax=…`, `# check=…`: only before anything else, even a blank line. */
  private directive(line: string, lineNumber: number): void {
    if (!this.readingDirectives) return;
    const match = line.startsWith('#') ? /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/.exec(line.slice(1).trimStart()) : null;
    const key = match?.[1]!.toLowerCase() ?? '';
    if (!match || !['syntax', 'escape', 'check'].includes(key)) {
      this.readingDirectives = false;
      return;
    }
    const fail = (reason: string) => new DockerfileError(reason, this.at(lineNumber));
    if (this.seenDirectives.has(key)) throw fail(`only one ${key} parser directive can be used`);
    this.seenDirectives.add(key);
    const value = match[2]!;
    if (key === 'syntax') this.syntax = value;
    if (key !== 'escape') return;
    if (value !== '\\' && value !== '`') throw fail(`invalid escape token '${value}' does not match \` or \\`);
    this.escape = value;
  }

  /** The line without its continuation escape, and whether the instruction goes on. */
  private uncontinue(line: string): [string, boolean] {
    // The escape continues the line unless it is itself escaped (`\\` at the end does not).
    const e = this.escape === '\\' ? '\\\\' : '`';
    const continuation = new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
    return continuation.test(line) ? [line.replace(continuation, '$1'), true] : [line, false];
  }

  private node(line: string, start: number): Node {
    const { keyword, flags, args } = splitCommand(line);
    const command = keyword.toLowerCase();
    const heredocs = canContainHeredoc(command, args) ? this.heredocBodies(heredocWords(line), start) : [];
    return {
      keyword,
      command,
      flags,
      args,
      heredocs,
      line: this.at(start),
      endLine: this.at(this.index),
      text: line.trim(),
    };
  }

  private heredocBodies(words: readonly HeredocWord[], start: number): RawHeredoc[] {
    return words.map((word) => {
      let content = '';
      for (let raw = this.nextLine(); raw !== undefined; raw = this.nextLine()) {
        const candidate = trimNewline(raw);
        if ((word.chomp ? candidate.replace(/^\t+/, '') : candidate) === word.name) return { ...word, content };
        content += raw;
      }
      throw new DockerfileError('unterminated heredoc', this.at(start));
    });
  }
}

function trimNewline(line: string): string {
  return line.replace(/[\r\n]+$/, '');
}

const WHITESPACE = /[\t\v\f\r ]+/;

/** The keyword, the builder flags after it, and the arguments after those. */
function splitCommand(line: string): { keyword: string; flags: string[]; args: string } {
  const trimmed = line.trim();
  const blank = WHITESPACE.exec(trimmed);
  if (!blank) return { keyword: trimmed, flags: [], args: '' };
  const { flags, rest } = splitFlags(trimmed.slice(blank.index + blank[0].length));
  return { keyword: trimmed.slice(0, blank.index), flags, args: rest.trim() };
}

/** Leading words that start with `--` (a lone `--` ends them), as Docker's extractBuilderFlags. */
function splitFlags(line: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && isSpace(line[pos]!)) pos++;
    if (!line.startsWith('--', pos)) return { flags, rest: line.slice(pos) };
    const [word, end] = flagWord(line, pos);
    if (word === '--') return { flags, rest: line.slice(end) };
    flags.push(word);
    pos = end;
  }
}

/** One flag word from `start`: quotes removed, a backslash taking the next character literally. */
function flagWord(line: string, start: number): [string, number] {
  let word = '';
  let quote = '';
  let pos = start;
  for (; pos < line.length; pos++) {
    let ch = line[pos]!;
    if (!quote && isSpace(ch)) break;
    if (quote ? ch === quote : ch === '"' || ch === "'") {
      quote = quote ? '' : ch;
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === line.length) continue;
      ch = line[++pos]!;
    }
    word += ch;
  }
  return [word, pos];
}

/** RUN, COPY and ADD in shell form, also as an ONBUILD trigger. */
function canContainHeredoc(command: string, args: string): boolean {
  const target = command === 'onbuild' ? splitCommand(args) : { keyword: command, args };
  return HEREDOC_COMMANDS.has(target.keyword.toLowerCase()) && !isJsonForm(target.args);
}

/** The `<<EOF` words of an instruction line, in order (words inside quotes are not heredocs). */
function heredocWords(line: string): HeredocWord[] {
  try {
    const { words } = lex(line, NO_ENV, '\\', { rawQuotes: true, rawEscapes: true, keepUnset: true });
    return words.map(parseHeredocWord).filter((word) => word !== undefined);
  } catch (err) {
    // Docker ignores a line it cannot split: it has no heredocs then.
    if (err instanceof WhaleboxError) return [];
    throw err;
  }
}

/**
 * `<<EOF`, `<<-EOF`, `2<<EOF`, `<<"EOF"`: the delimiter, quotes removed. A quoted delimiter (even
 * partly: `<<E"O"F`) means the body is not expanded.
 */
function parseHeredocWord(word: string): HeredocWord | undefined {
  const match = /^(\d*)<<(-?)([^<]*)$/.exec(word);
  const rest = match?.[3];
  if (!rest) return undefined;
  try {
    const plain = lex(rest, NO_ENV, '\\', { keepUnset: true }).words;
    if (plain.length !== 1) return undefined;
    const quoted = lex(rest, NO_ENV, '\\', { keepUnset: true, rawQuotes: true }).words;
    const quotes = (text = '') => text.replace(/[^'"]/g, '').length;
    return { name: plain[0]!, chomp: match![2] === '-', expand: quotes(plain[0]) === quotes(quoted[0]) };
  } catch (err) {
    if (err instanceof WhaleboxError) return undefined;
    throw err;
  }
}

/** The body as the instruction uses it: `<<-` strips leading tabs from every line. */
function toHeredoc({ name, content, expand, chomp }: RawHeredoc): Heredoc {
  return { name, content: chomp ? content.replace(/(^|\n)\t+/g, '$1') : content, expand };
}

/** A problem with an instruction's arguments; toInstruction adds the line. */
class Problem extends Error {}

function fail(message: string): never {
  throw new Problem(message);
}

function toInstruction(node: Node, escape: EscapeChar): Instruction {
  const build = BUILDERS[node.command];
  try {
    if (!build) fail(`unknown instruction: ${node.keyword}${suggestion(node.keyword, INSTRUCTION_NAMES, false)}`);
    return build(node, escape);
  } catch (err) {
    if (err instanceof Problem) throw new DockerfileError(err.message, node.line);
    throw err;
  }
}

type Builder = (node: Node, escape: EscapeChar) => Instruction;

const BUILDERS: Readonly<Record<string, Builder>> = {
  add: copyInstruction,
  arg: argInstruction,
  cmd: commandInstruction,
  copy: copyInstruction,
  entrypoint: commandInstruction,
  env: keyValueInstruction,
  expose: exposeInstruction,
  from: fromInstruction,
  healthcheck: healthcheckInstruction,
  label: keyValueInstruction,
  maintainer: wordInstruction,
  onbuild: onbuildInstruction,
  run: runInstruction,
  shell: shellInstruction,
  stopsignal: wordInstruction,
  user: wordInstruction,
  volume: volumeInstruction,
  workdir: wordInstruction,
};

const INSTRUCTION_NAMES = Object.keys(BUILDERS);

function located(node: Node): Located {
  return { line: node.line, endLine: node.endLine, text: node.text };
}

/** `{ key: value }`, or nothing for an absent value: optional fields are left out, not undefined. */
function defined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function fromInstruction(node: Node): FromInstruction {
  const args = whitespaceWords(node.args);
  let stageName: string | undefined;
  if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
    stageName = args[2]!.toLowerCase();
    if (!/^[a-z][a-z0-9-_.]*$/.test(stageName)) {
      fail(`invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`);
    }
  } else if (args.length !== 1) {
    fail('FROM requires either one or three arguments');
  }
  const flags = parseFlags(node.flags, { platform: 'string' });
  return {
    kind: 'FROM',
    ...located(node),
    rawImage: args[0]!,
    ...defined('stageName', stageName),
    ...defined('rawPlatform', flags.get('platform')),
  };
}

const NETWORK_MODES = new Set(['default', 'none', 'host']);

function runInstruction(node: Node): Instruction {
  const flags = parseFlags(node.flags, { mount: 'list', network: 'string', security: 'string' });
  if (flags.has('mount')) fail('RUN --mount is not supported');
  const security = flags.get('security');
  if (security === 'insecure') fail('RUN --security=insecure is not supported');
  if (security !== undefined && security !== 'sandbox') fail(`security ${JSON.stringify(security)} is not valid`);
  const network = flags.get('network');
  if (network !== undefined && !NETWORK_MODES.has(network)) fail(`invalid network mode ${JSON.stringify(network)}`);
  return {
    kind: 'RUN',
    ...located(node),
    command: runCommand(node),
    ...defined('rawNetwork', network),
    heredocs: node.heredocs.map(toHeredoc),
  };
}

/**
 * A sole heredoc (`RUN <<EOF`) is the script itself; otherwise the shell gets the command with
 * each heredoc's body and delimiter after it, to read them as a shell would.
 */
function runCommand(node: Node): CommandForm {
  const form = commandForm(node.args);
  const first = node.heredocs[0];
  if (!('shell' in form) || !first) return form;
  if (parseHeredocWord(node.args)) return { shell: toHeredoc(first).content };
  return { shell: node.args + node.heredocs.map((heredoc) => `\n${heredoc.content}${heredoc.name}`).join('') };
}

function commandInstruction(node: Node): Instruction {
  parseFlags(node.flags, {});
  return { kind: node.command === 'cmd' ? 'CMD' : 'ENTRYPOINT', ...located(node), command: commandForm(node.args) };
}

function shellInstruction(node: Node): Instruction {
  parseFlags(node.flags, {});
  const shell = jsonArray(node.args);
  if (node.args === '' || shell?.length === 0) fail('SHELL requires at least one argument');
  if (!shell) fail('SHELL requires the arguments to be in JSON form');
  return { kind: 'SHELL', ...located(node), shell };
}

const COPY_FLAGS: FlagKinds = { chown: 'string', chmod: 'string', from: 'string', link: 'bool' };
const ADD_FLAGS: FlagKinds = { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string' };

function copyInstruction(node: Node): CopyInstruction {
  const kind = node.command === 'add' ? 'ADD' : 'COPY';
  const args = jsonArray(node.args) ?? whitespaceWords(node.args);
  if (args.length < 2) {
    fail(`${kind} requires at least two arguments, but only one was provided. Destination could not be determined.`);
  }
  const flags = parseFlags(node.flags, kind === 'ADD' ? ADD_FLAGS : COPY_FLAGS);
  for (const unsupported of ['keep-git-dir', 'checksum']) {
    if (flags.has(unsupported)) fail(`${kind} --${unsupported} is not supported`);
  }
  const rawDestination = args.at(-1)!;
  if (parseHeredocWord(rawDestination)) fail(`${kind} cannot accept a heredoc as a destination`);
  const bodies = new Map(node.heredocs.map((heredoc) => [heredoc.name, heredoc.content]));
  const rawSources: string[] = [];
  const heredocs: Heredoc[] = [];
  for (const source of args.slice(0, -1)) {
    const word = parseHeredocWord(source);
    if (word) heredocs.push(toHeredoc({ ...word, content: bodies.get(word.name) ?? '' }));
    else rawSources.push(source);
  }
  return {
    kind,
    ...located(node),
    rawSources,
    rawDestination,
    ...defined('rawFrom', flags.get('from')),
    ...defined('rawChown', flags.get('chown')),
    ...defined('rawChmod', flags.get('chmod')),
    link: flags.get('link') === 'true',
    heredocs,
  };
}

/** `ENV A=1 B="2 3"`, or the legacy `ENV A 1 2 3` (one pair, the value being the rest). */
function keyValueInstruction(node: Node, escape: EscapeChar): Instruction {
  const kind = node.command === 'env' ? 'ENV' : 'LABEL';
  const words = quotedWords(node.args, escape);
  if (words.length === 0) fail(`${kind} requires at least one argument`);
  let rawPairs: Array<[string, string]>;
  if (!words[0]!.includes('=')) {
    const blank = WHITESPACE.exec(node.args);
    if (!blank) fail(`${kind} must have two arguments`);
    rawPairs = [[node.args.slice(0, blank.index), node.args.slice(blank.index + blank[0].length)]];
  } else {
    rawPairs = words.map((word) => {
      if (!word.includes('=')) fail(`Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`);
      return splitOnce(word, '=') as [string, string];
    });
  }
  parseFlags(node.flags, {});
  if (rawPairs.some(([key]) => key === '')) fail(`${kind} names can not be blank`);
  return { kind, ...located(node), rawPairs };
}

function argInstruction(node: Node, escape: EscapeChar): ArgInstruction {
  const words = quotedWords(node.args, escape);
  if (words.length === 0) fail('ARG requires at least one argument');
  parseFlags(node.flags, {});
  const args = words.map((word) => {
    const [name, rawDefault] = splitOnce(word, '=');
    if (name === '') fail('ARG names can not be blank');
    return { name, ...defined('rawDefault', rawDefault) };
  });
  return { kind: 'ARG', ...located(node), args };
}

function wordInstruction(node: Node): Instruction {
  const kind = node.command.toUpperCase() as 'WORKDIR' | 'USER' | 'STOPSIGNAL' | 'MAINTAINER';
  if (node.args === '') fail(`${kind} requires exactly one argument`);
  parseFlags(node.flags, {});
  return { kind, ...located(node), rawValue: node.args };
}

function exposeInstruction(node: Node): Instruction {
  if (node.args === '') fail('EXPOSE requires at least one argument');
  parseFlags(node.flags, {});
  return { kind: 'EXPOSE', ...located(node), rawValues: whitespaceWords(node.args) };
}

function volumeInstruction(node: Node): Instruction {
  const rawValues = (jsonArray(node.args) ?? whitespaceWords(node.args)).map((value) => value.trim());
  if (rawValues.length === 0) fail('VOLUME requires at least one argument');
  parseFlags(node.flags, {});
  if (rawValues.includes('')) fail('VOLUME specified can not be an empty string');
  return { kind: 'VOLUME', ...located(node), rawValues };
}

const HEALTHCHECK_FLAGS: FlagKinds = {
  interval: 'string',
  timeout: 'string',
  'start-period': 'string',
  'start-interval': 'string',
  retries: 'string',
};

/** `HEALTHCHECK NONE`, or `HEALTHCHECK [--interval=…] CMD <command>` (exec or shell form). */
function healthcheckInstruction(node: Node): Instruction {
  const [type = '', rest = ''] = splitOnce(node.args, WHITESPACE);
  if (type === '') fail('HEALTHCHECK requires at least one argument');
  const exec = jsonArray(rest);
  const command = exec ?? (rest === '' ? [] : [rest]);
  if (type.toUpperCase() === 'NONE') {
    if (command.length > 0) fail('HEALTHCHECK NONE takes no arguments');
    return { kind: 'HEALTHCHECK', ...located(node), test: ['NONE'] };
  }
  const flags = parseFlags(node.flags, HEALTHCHECK_FLAGS);
  if (type.toUpperCase() !== 'CMD') fail(`Unknown type ${JSON.stringify(type.toUpperCase())} in HEALTHCHECK (try CMD)`);
  if (command.length === 0) fail('Missing command after HEALTHCHECK CMD');
  const retries = flags.get('retries');
  return {
    kind: 'HEALTHCHECK',
    ...located(node),
    test: [exec ? 'CMD' : 'CMD-SHELL', ...command],
    ...defined('interval', healthInterval(flags, 'interval')),
    ...defined('timeout', healthInterval(flags, 'timeout')),
    ...defined('startPeriod', healthInterval(flags, 'start-period')),
    ...defined('startInterval', healthInterval(flags, 'start-interval')),
    ...defined('retries', retries === undefined ? undefined : parseRetries(retries)),
  };
}

/** A HEALTHCHECK duration in nanoseconds: 0 (Docker's default) or at least a millisecond. */
function healthInterval(flags: ReadonlyMap<string, string>, name: string): number | undefined {
  const value = flags.get(name);
  if (!value) return undefined;
  const nanoseconds = parseGoDuration(value);
  if (nanoseconds !== 0 && nanoseconds < 1e6) fail(`Interval ${JSON.stringify(name)} cannot be less than 1ms`);
  return nanoseconds;
}

function parseRetries(value: string): number {
  if (!/^[+-]?\d+$/.test(value)) fail(`strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`);
  const retries = Number(value);
  if (Math.abs(retries) >= 2 ** 31) fail(`strconv.ParseInt: parsing ${JSON.stringify(value)}: value out of range`);
  if (retries < 0) fail(`--retries cannot be negative (${retries})`);
  return retries;
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration (`1m30s`, `1.5h`, `-500ms`, `0`), in nanoseconds. */
function parseGoDuration(text: string): number {
  const quoted = JSON.stringify(text);
  const sign = text.startsWith('-') ? -1 : 1;
  let rest = text.replace(/^[+-]/, '');
  if (rest === '0') return 0;
  if (rest === '') fail(`time: invalid duration ${quoted}`);
  let total = 0;
  while (rest !== '') {
    const [number, whole = '', fraction = ''] = /^(\d*)(?:\.(\d*))?/.exec(rest)!;
    if (whole === '' && fraction === '') fail(`time: invalid duration ${quoted}`);
    rest = rest.slice(number.length);
    const unit = /^[^\d.]*/.exec(rest)![0];
    if (unit === '') fail(`time: missing unit in duration ${quoted}`);
    const scale = DURATION_UNITS[unit];
    if (scale === undefined) fail(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    total += Number(`${whole || '0'}.${fraction || '0'}`) * scale;
    rest = rest.slice(unit.length);
  }
  if (total > 2 ** 63) fail(`time: invalid duration ${quoted}`);
  return sign * Math.round(total);
}

/** The trigger is kept as written, and checked now by parsing it as its own instruction. */
function onbuildInstruction(node: Node, escape: EscapeChar): Instruction {
  if (node.args === '') fail('ONBUILD requires at least one argument');
  parseFlags(node.flags, {});
  const bodies = node.heredocs.map((heredoc) => `\n${heredoc.content}${heredoc.name}`);
  const trigger = node.text.replace(/^ONBUILD\s*/i, '') + bodies.join('');
  parseTrigger(trigger, escape, node.line);
  return { kind: 'ONBUILD', ...located(node), trigger };
}

/** A JSON array of strings (exec form), or undefined when `args` is not JSON at all. */
function jsonArray(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(args);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((item) => typeof item === 'string')) {
    fail('when using JSON array syntax, arrays must be comprised of strings only');
  }
  return value;
}

function isJsonForm(args: string): boolean {
  try {
    return jsonArray(args) !== undefined;
  } catch (err) {
    if (err instanceof Problem) return false;
    throw err;
  }
}

/** Exec form for a JSON array of strings, else shell form; anything else starting with `[` is shell form too. */
function commandForm(args: string): CommandForm {
  const exec = jsonArray(args);
  return exec ? { exec } : { shell: args };
}

function whitespaceWords(args: string): string[] {
  return args === '' ? [] : args.split(WHITESPACE);
}

function splitOnce(text: string, separator: string | RegExp): [string] | [string, string] {
  const match = typeof separator === 'string' ? { index: text.indexOf(separator), 0: separator } : separator.exec(text);
  if (!match || match.index < 0) return [text];
  return [text.slice(0, match.index), text.slice(match.index + match[0].length)];
}

/**
 * Docker's parseWords for ENV, LABEL and ARG: words split on blanks outside quotes, quotes and
 * escapes kept (expansion removes them later). A trailing escape is dropped.
 */
function quotedWords(text: string, escape: EscapeChar): string[] {
  const chars = [...text];
  const words: string[] = [];
  let word: string | undefined;
  let quote = '';
  for (let pos = 0; pos < chars.length; pos++) {
    let ch = chars[pos]!;
    if (word === undefined) {
      if (isSpace(ch)) continue;
      word = '';
    }
    if (!quote && isSpace(ch)) {
      if (word !== '') words.push(word);
      word = undefined;
      continue;
    }
    if (!quote && (ch === '"' || ch === "'")) {
      quote = ch;
    } else if (quote && ch === quote) {
      quote = '';
    } else if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) continue;
      word += ch;
      ch = chars[++pos]!;
    }
    word += ch;
  }
  if (word) words.push(word);
  return words;
}

type FlagKinds = Readonly<Record<string, 'string' | 'bool' | 'list'>>;

/** Docker's BFlags: `--name=value` for strings, `--name[=true|false]` for booleans. */
function parseFlags(flags: readonly string[], kinds: FlagKinds): Map<string, string> {
  const values = new Map<string, string>();
  for (const flag of flags) {
    const [name, value] = splitOnce(flag.slice(2), '=');
    const kind = kinds[name];
    if (!kind) fail(`unknown flag: ${name}${suggestion(name, Object.keys(kinds), true)}`);
    if (values.has(name) && kind !== 'list') fail(`duplicate flag specified: ${name}`);
    values.set(name, flagValue(name, kind, value));
  }
  return values;
}

function flagValue(name: string, kind: 'string' | 'bool' | 'list', value: string | undefined): string {
  if (kind !== 'bool') {
    if (value === undefined) fail(`missing a value on flag: ${name}`);
    return value;
  }
  if (value === '') fail(`missing a value on flag: ${name}`);
  const lower = (value ?? 'true').toLowerCase();
  if (lower !== 'true' && lower !== 'false') fail(`expecting boolean value for flag ${name}, not: ${value}`);
  return lower;
}

/** BuildKit's suggest.WrapError: ` (did you mean run?)` for the closest option within 2 edits. */
function suggestion(value: string, options: readonly string[], caseSensitive: boolean): string {
  const wanted = caseSensitive ? value : value.toLowerCase();
  let match = '';
  let best = 3;
  for (const option of options) {
    const candidate = caseSensitive ? option : option.toLowerCase();
    if (candidate === wanted) return '';
    const distance = levenshtein(wanted, candidate);
    if (distance < best) {
      best = distance;
      match = caseSensitive ? candidate : matchCase(candidate, value);
    }
  }
  return match ? ` (did you mean ${match}?)` : '';
}

function matchCase(option: string, original: string): string {
  const upper = original !== original.toLowerCase() && original === original.toUpperCase();
  return upper ? option.toUpperCase() : option.toLowerCase();
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
