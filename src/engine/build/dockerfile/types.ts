/**
 * A parsed Dockerfile. Words the builder expands at build time (against ARG and ENV values
 * known only then) are kept as written, quotes included: `raw` in a name says so, and
 * `expandWord`/`expandWords` (words.ts) turn them into values.
 */

/** Where an instruction is and how it was written. */
export interface Located {
  /** 1-based line of the instruction's first line. */
  readonly line: number;
  /** 1-based line of its last line (continuations and heredoc bodies included). */
  readonly endLine: number;
  /**
   * The instruction as written, continuation lines joined with their escapes removed and
   * surrounding blanks trimmed (`RUN echo hi`); heredoc bodies left out. Shown in progress
   * output, and part of the cache key.
   */
  readonly text: string;
}

/** A command in exec form (a JSON array) or shell form (run by the stage's SHELL). */
export type CommandForm = { readonly exec: readonly string[] } | { readonly shell: string };

/** A `<<EOF` heredoc (BuildKit syntax). */
export interface Heredoc {
  /** The delimiter word, quotes removed (`EOF`). */
  readonly name: string;
  /**
   * The body: the lines between the instruction and the delimiter, each ending in `\n`; with
   * `<<-EOF` their leading tabs are removed.
   */
  readonly content: string;
  /** False when the delimiter was quoted (`<<'EOF'`, `<<"EOF"`): the body is taken literally. */
  readonly expand: boolean;
}

export interface FromInstruction extends Located {
  readonly kind: 'FROM';
  /** Unexpanded (ARGs declared before the first FROM apply). `scratch`, a stage name, or an image. */
  readonly rawImage: string;
  /** `AS name`, lower-cased as Docker does. */
  readonly stageName?: string;
  /** `--platform=…`, unexpanded. */
  readonly rawPlatform?: string;
}

export interface RunInstruction extends Located {
  readonly kind: 'RUN';
  /**
   * What to run. Shell form with heredocs: when the command is only one heredoc (`RUN <<EOF`)
   * this is the heredoc's body; otherwise the whole text, heredoc bodies and delimiters
   * included, for the shell to interpret. (BuildKit runs a sole heredoc starting with `#!` as
   * a script file instead: `heredocs[0]` has what that takes.)
   */
  readonly command: CommandForm;
  /** `--network=default|none|host`, unexpanded. */
  readonly rawNetwork?: string;
  readonly heredocs: readonly Heredoc[];
}

export interface CopyInstruction extends Located {
  readonly kind: 'COPY' | 'ADD';
  /**
   * Sources, unexpanded. A source that is a heredoc (`COPY <<EOF /dest`) is not listed here but
   * in `heredocs`, in order; there is at least one source in all.
   */
  readonly rawSources: readonly string[];
  /** The destination, unexpanded. */
  readonly rawDestination: string;
  /** `--from=stage|image|index`, unexpanded. */
  readonly rawFrom?: string;
  readonly rawChown?: string;
  readonly rawChmod?: string;
  /** `--link` (accepted; layers here are independent of their parent anyway). */
  readonly link: boolean;
  readonly heredocs: readonly Heredoc[];
}

/** ENV and LABEL: `K=V …`, or the legacy `ENV K V` (one pair). */
export interface KeyValueInstruction extends Located {
  readonly kind: 'ENV' | 'LABEL';
  /** Keys and values unexpanded (quotes kept). */
  readonly rawPairs: ReadonlyArray<readonly [string, string]>;
}

export interface ArgInstruction extends Located {
  readonly kind: 'ARG';
  /** `ARG A B=2`: names (as written) and unexpanded defaults. */
  readonly args: ReadonlyArray<{ readonly name: string; readonly rawDefault?: string }>;
}

export interface CommandInstruction extends Located {
  readonly kind: 'CMD' | 'ENTRYPOINT';
  readonly command: CommandForm;
}

export interface ShellInstruction extends Located {
  readonly kind: 'SHELL';
  /** Must be a JSON array in the Dockerfile. */
  readonly shell: readonly string[];
}

/** One unexpanded word (WORKDIR, USER, STOPSIGNAL, MAINTAINER). */
export interface WordInstruction extends Located {
  readonly kind: 'WORKDIR' | 'USER' | 'STOPSIGNAL' | 'MAINTAINER';
  readonly rawValue: string;
}

/** EXPOSE and VOLUME: unexpanded words (VOLUME may be a JSON array: then its items). */
export interface ListInstruction extends Located {
  readonly kind: 'EXPOSE' | 'VOLUME';
  readonly rawValues: readonly string[];
}

/** Docker's HealthConfig; durations in nanoseconds, 0 = Docker's default. */
export interface HealthcheckInstruction extends Located {
  readonly kind: 'HEALTHCHECK';
  /** `["NONE"]`, `["CMD", …]` (exec form) or `["CMD-SHELL", "…"]` (shell form). */
  readonly test: readonly string[];
  readonly interval?: number;
  readonly timeout?: number;
  readonly startPeriod?: number;
  readonly startInterval?: number;
  readonly retries?: number;
}

export interface OnbuildInstruction extends Located {
  readonly kind: 'ONBUILD';
  /** The trigger as written after ONBUILD (`RUN echo hi`): stored in the image config. */
  readonly trigger: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CopyInstruction
  | KeyValueInstruction
  | ArgInstruction
  | CommandInstruction
  | ShellInstruction
  | WordInstruction
  | ListInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;

export interface Stage {
  readonly from: FromInstruction;
  /** Position among the stages, 0-based (`COPY --from=0`). */
  readonly index: number;
  /** The instructions after FROM, up to the next FROM. */
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  /** The escape character (`# escape=` directive): `\` or `` ` ``. */
  readonly escape: '\\' | '`';
  /** The `# syntax=` directive, if any (recorded, not acted on). */
  readonly syntax?: string;
  /** ARG instructions before the first FROM: usable in FROM lines only, unless redeclared. */
  readonly globalArgs: readonly ArgInstruction[];
  readonly stages: readonly Stage[];
}
