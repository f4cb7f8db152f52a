import { findImage, imageLayers, storeImage } from '../../image/image-store.js';
import { goArchitecture, type ImageConfig, type ImageRunConfig } from '../../image/oci-image.js';
import { familiarString, parseReference, referenceString, type ImageReference } from '../../image/reference.js';
import type { StoredLayer } from '../../image/image-store.js';
import { WhaleboxError } from '../../util/errors.js';
import { EMPTY_LAYER_DIFF_ID } from '../commit.js';
import type { Context } from '../context.js';
import { rfc3339 } from '../images.js';
import { pullImage } from '../pull.js';
import { cachedState, recordState, stepKey, type BuildState } from './build-cache.js';
import type { BuildContext } from './build-context.js';
import { applyConfigInstruction, commandArgs, isConfigInstruction, type Expand } from './config-steps.js';
import { makeDirectory, planCopy } from './copy-step.js';
import { parseDockerfile, parseTrigger } from './dockerfile/parser.js';
import type { CopyInstruction, Dockerfile, Instruction, Located, RunInstruction, Stage, WordInstruction } from './dockerfile/types.js';
import { expandWord, expandWords } from './dockerfile/words.js';
import { runStep } from './step-container.js';

/**
 * `docker build`: runs a Dockerfile's stages (those the target needs, each once) step by step
 * on the build cache, and stores the target stage's result as an image.
 */

export interface BuildOptions {
  readonly tags: readonly string[];
  /** `--build-arg K=V`; `--build-arg K` (undefined) takes K from the CLI's environment. */
  readonly buildArgs: ReadonlyMap<string, string | undefined>;
  readonly target?: string;
  readonly noCache: boolean;
  /** Pull every base image, even one stored. */
  readonly pull: boolean;
  readonly labels: Readonly<Record<string, string>>;
  /** RUN's network: default (bridge), none or host. */
  readonly network: string;
  /** `os/arch`: the host's when absent. */
  readonly platform?: string;
  readonly progress: BuildProgress;
  /** Aborts the build (Ctrl-C): the running step's container is killed, nothing further runs. */
  readonly signal: AbortSignal;
}

/** What the build reports, as BuildKit's vertices: one per FROM, RUN, COPY and ADD, and its own work. */
export interface BuildProgress {
  vertex(name: string): Vertex;
  /** A warning outside any step. */
  warn(message: string): void;
}

export interface Vertex {
  /** A status line (`transferring context: 2.05kB done`). */
  log(line: string): void;
  /** Output of a RUN. */
  output(chunk: Buffer): void;
  cached(): void;
  done(): void;
  fail(message: string): void;
}

/** A failed build: the message, and the Dockerfile lines it is about. */
export class BuildError extends WhaleboxError {
  constructor(
    message: string,
    readonly where?: { readonly line: number; readonly endLine: number },
  ) {
    super(message, 1);
  }
}

/** Arguments every build defines (BuildKit's automatic platform ARGs) and those usable without ARG. */
const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const HISTORY_COMMENT = 'buildkit.dockerfile.v0';
const CANCELED = 'Canceled: context canceled';

/** Builds the context's Dockerfile; returns the image ID. */
export async function buildImage(context: Context, buildContext: BuildContext, options: BuildOptions): Promise<string> {
  const tags = options.tags.map((tag) => {
    let ref: ImageReference;
    try {
      ref = parseReference(tag);
    } catch (err) {
      throw new WhaleboxError(`invalid tag ${JSON.stringify(tag)}: ${(err as Error).message}`, 1);
    }
    if (ref.digest !== undefined) throw new WhaleboxError(`invalid tag ${JSON.stringify(tag)}: a tag cannot name a digest`, 1);
    return ref;
  });
  runNetwork(options.network);
  const definition = options.progress.vertex(`[internal] load build definition from ${buildContext.dockerfileName}`);
  definition.log(`transferring dockerfile: ${decimalSize(Buffer.byteLength(buildContext.dockerfile))} done`);
  definition.done();
  const dockerfile = parse(buildContext);
  const build = new Build(context, buildContext, dockerfile, options);
  const target = build.targetStage();
  const { state } = await build.stage(target);
  build.warnUnusedArgs();

  const vertex = options.progress.vertex('exporting to image');
  const config = finalConfig(state.config, options.labels);
  const id = storeImage(context.db(), context.paths, config, state.layers, { references: tags });
  vertex.log(`writing image ${id} done`);
  for (const tag of tags) vertex.log(`naming to ${referenceString(tag)} done`);
  vertex.done();
  return id;
}

function parse(buildContext: BuildContext): Dockerfile {
  try {
    return parseDockerfile(buildContext.dockerfile);
  } catch (err) {
    const line = (err as { line?: unknown }).line;
    if (typeof line === 'number') throw new BuildError((err as Error).message, { line, endLine: line });
    throw err;
  }
}

/** `--label`s go on top; `created` is the newest step's, so an unchanged rebuild gives the same ID. */
function finalConfig(config: ImageConfig, labels: Readonly<Record<string, string>>): ImageConfig {
  if (Object.keys(labels).length === 0) return config;
  return { ...config, config: { ...config.config, Labels: { ...config.config?.Labels, ...labels } } };
}

class Build {
  private readonly stages = new Map<number, Promise<StageResult>>();
  private readonly globalArgs = new Map<string, string>();
  private readonly usedArgs = new Set<string>();
  /** `os/arch[/variant]` the stages are for. */
  readonly platform: string;
  private contextLoaded = false;

  constructor(
    readonly context: Context,
    readonly buildContext: BuildContext,
    readonly dockerfile: Dockerfile,
    readonly options: BuildOptions,
  ) {
    this.platform = options.platform ?? `linux/${goArchitecture()}`;
    const [os = 'linux', arch = goArchitecture(), variant = ''] = this.platform.split('/');
    const host = `linux/${goArchitecture()}`;
    for (const [name, value] of Object.entries({
      TARGETPLATFORM: this.platform,
      TARGETOS: os,
      TARGETARCH: arch,
      TARGETVARIANT: variant,
      BUILDPLATFORM: host,
      BUILDOS: 'linux',
      BUILDARCH: goArchitecture(),
      BUILDVARIANT: '',
    })) {
      this.globalArgs.set(name, value);
    }
    for (const instruction of dockerfile.globalArgs) {
      this.at(instruction, () => {
        for (const { name, rawDefault } of instruction.args) {
          const value = this.buildArg(name) ?? (rawDefault === undefined ? undefined : expandWord(rawDefault, this.globalArgs, dockerfile.escape));
          if (value === undefined) this.globalArgs.delete(name);
          else this.globalArgs.set(name, value);
        }
      });
    }
  }

  /** The stage `--target` names, or the last. */
  targetStage(): Stage {
    const { stages } = this.dockerfile;
    if (this.options.target === undefined) return stages[stages.length - 1]!;
    const stage = this.findStage(this.options.target, stages.length);
    if (stage === undefined) throw new BuildError(`target stage "${this.options.target}" could not be found`);
    return stage;
  }

  /** A stage by name or index among the first `before` stages. */
  findStage(name: string, before: number): Stage | undefined {
    const stages = this.dockerfile.stages.slice(0, before);
    if (/^\d+$/.test(name)) return stages[Number(name)];
    return stages.find((stage) => stage.from.stageName === name.toLowerCase());
  }

  /** A stage's result, built once however many stages need it. */
  stage(stage: Stage): Promise<StageResult> {
    let result = this.stages.get(stage.index);
    if (result === undefined) {
      result = new StageBuild(this, stage).run();
      this.stages.set(stage.index, result);
    }
    return result;
  }

  /** The value of a build argument given on the command line, marking it used. */
  buildArg(name: string): string | undefined {
    if (!this.options.buildArgs.has(name)) return undefined;
    this.usedArgs.add(name);
    return this.options.buildArgs.get(name) ?? process.env[name];
  }

  /** Proxy settings given as build arguments: usable by RUN without an ARG. */
  proxyArgs(): Array<[string, string]> {
    return PROXY_ARGS.flatMap((name): Array<[string, string]> => {
      const value = this.buildArg(name);
      return value === undefined ? [] : [[name, value]];
    });
  }

  globalArg(name: string): string | undefined {
    return this.globalArgs.get(name);
  }

  globalScope(): ReadonlyMap<string, string> {
    return this.globalArgs;
  }

  warnUnusedArgs(): void {
    const unused = [...this.options.buildArgs.keys()].filter((name) => !this.usedArgs.has(name) && !PROXY_ARGS.includes(name) && !this.globalArgs.has(name));
    if (unused.length > 0) this.options.progress.warn(`One or more build-args [${unused.sort().join(' ')}] were not consumed`);
  }

  /** Runs `work` for an instruction; failures name its Dockerfile lines. */
  at<T>(where: Located, work: () => T): T {
    try {
      return work();
    } catch (err) {
      throw located(err, where);
    }
  }

  /** The "[internal] load build context" vertex, before the first step that reads the context. */
  loadContext(): void {
    if (this.contextLoaded || this.buildContext.dir === undefined) return;
    this.contextLoaded = true;
    const vertex = this.options.progress.vertex('[internal] load build context');
    vertex.log(`transferring context: ${decimalSize(this.buildContext.size)} done`);
    vertex.done();
  }

  /** Resolves a base image: stored, or pulled (always with --pull). */
  async image(name: string, platform: string | undefined): Promise<{ state: BuildState; display: string }> {
    const ref = parseReference(name);
    const display = referenceString(ref);
    const { context } = this;
    let image = this.options.pull ? undefined : findImage(context.db(), context.paths, name);
    if (image === undefined) {
      const pulled = await pullImage(context, ref, platform === undefined ? {} : { platform });
      image = findImage(context.db(), context.paths, pulled.id);
      if (image === undefined) throw new WhaleboxError(`${familiarString(ref)} was removed while the build used it`, 1);
    }
    return { state: { key: image.id, config: image.config, layers: imageLayers(context.db(), context.paths, image) }, display };
  }
}

/** Wraps a failure with the lines of the instruction it happened in (the innermost wins). */
function located(err: unknown, where: Located): unknown {
  if (err instanceof BuildError && err.where !== undefined) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BuildError(message, { line: where.line, endLine: where.endLine });
}

/** What a stage leaves: its image, and the ARG values a stage FROM it inherits. */
interface StageResult {
  readonly state: BuildState;
  readonly args: ReadonlyMap<string, string>;
}

/** One stage, instruction by instruction. */
class StageBuild {
  private state!: BuildState;
  /** What the stage's base is called in progress output and on its containers. */
  private display = 'scratch';
  /** ARG values in scope (not in the image). */
  private readonly args = new Map<string, string>();
  private cmdSet = false;
  private step = 0;
  private steps = 0;
  private readonly label: string;

  constructor(
    private readonly build: Build,
    private readonly stage: Stage,
  ) {
    const multiStage = build.dockerfile.stages.length > 1;
    this.label = multiStage ? `${this.name} ` : '';
  }

  get name(): string {
    return this.stage.from.stageName ?? `stage-${this.stage.index}`;
  }

  async run(): Promise<StageResult> {
    const fromImage = await this.from();
    const triggers = this.state.config.config?.OnBuild ?? [];
    // BuildKit numbers the FROM of an image, the ONBUILD triggers and every step that makes a layer.
    this.steps = (fromImage ? 1 : 0) + triggers.length + this.stage.instructions.filter(isLayerInstruction).length;
    if (fromImage) this.vertex(`FROM ${this.display}`).cached();
    if (triggers.length > 0) {
      // Triggers run once, in the first build FROM the image; its children do not inherit them.
      const config = structuredClone(this.state.config);
      delete config.config!.OnBuild;
      this.state = { key: stepKey(this.state.key, 'onbuild-consumed'), config, layers: this.state.layers };
      for (const trigger of triggers) {
        const instruction = this.build.at(this.stage.from, () => parseTrigger(trigger, this.build.dockerfile.escape, this.stage.from.line));
        await this.dispatch(instruction, 'ONBUILD ');
      }
    }
    for (const instruction of this.stage.instructions) await this.dispatch(instruction, '');
    return { state: this.state, args: this.args };
  }

  /** Sets the base state: an earlier stage, scratch, or an image (then returns true). */
  private async from(): Promise<boolean> {
    const { from } = this.stage;
    const escape = this.build.dockerfile.escape;
    const name = this.build.at(from, () => expandWord(from.rawImage, this.build.globalScope(), escape));
    const platform = from.rawPlatform === undefined ? this.build.platform : this.build.at(from, () => expandWord(from.rawPlatform!, this.build.globalScope(), escape));
    const parent = this.build.findStage(name, this.stage.index);
    if (parent !== undefined) {
      const result = await this.build.stage(parent);
      this.state = result.state;
      for (const [arg, value] of result.args) this.args.set(arg, value);
      this.display = parent.from.stageName ?? `stage-${parent.index}`;
      return false;
    }
    if (name.toLowerCase() === 'scratch') {
      const [os = 'linux', architecture = goArchitecture(), variant] = platform.split('/');
      const config: ImageConfig = { architecture, os, ...(variant ? { variant } : {}), config: { Env: [DEFAULT_PATH] }, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
      this.state = { key: `scratch:${platform}`, config, layers: [] };
      return false;
    }
    try {
      const { state, display } = await this.build.image(name, from.rawPlatform === undefined ? this.build.options.platform : platform);
      this.state = state;
      this.display = display;
    } catch (err) {
      throw located(err, from);
    }
    return true;
  }

  /** A vertex for the next numbered step: `[stage 2/4] RUN …`. */
  private vertex(text: string): Vertex {
    return this.build.options.progress.vertex(`[${this.label}${++this.step}/${this.steps}] ${text}`);
  }

  private expand(): Expand {
    const scope = new Map(this.args);
    for (const entry of this.state.config.config?.Env ?? []) {
      const eq = entry.indexOf('=');
      scope.set(eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? '' : entry.slice(eq + 1));
    }
    const escape = this.build.dockerfile.escape;
    return { word: (raw) => expandWord(raw, scope, escape), words: (raw) => expandWords(raw, scope, escape) };
  }

  private async dispatch(instruction: Instruction, prefix: string): Promise<void> {
    if (this.build.options.signal.aborted) throw located(new WhaleboxError(CANCELED, 1), instruction);
    switch (instruction.kind) {
      case 'FROM':
        throw located(new WhaleboxError('FROM inside a stage', 1), instruction);
      case 'ARG':
        this.build.at(instruction, () => this.declareArgs(instruction.args));
        return;
      case 'RUN':
        return this.layer(instruction, prefix, () => this.planRun(instruction));
      case 'COPY':
      case 'ADD':
        return this.layer(instruction, prefix, () => this.planCopy(instruction));
      case 'WORKDIR':
        // As BuildKit: the directory is made (owned by USER), in a layer of its own, unless it is /.
        if (this.workdirAfter(instruction) !== '/') return this.layer(instruction, prefix, async () => this.planWorkdir(instruction));
        this.build.at(instruction, () => this.configStep(instruction));
        return;
      default:
        if (isConfigInstruction(instruction)) this.build.at(instruction, () => this.configStep(instruction));
    }
  }

  private declareArgs(args: ReadonlyArray<{ readonly name: string; readonly rawDefault?: string }>): void {
    for (const { name, rawDefault } of args) {
      const value = this.build.buildArg(name) ?? (rawDefault === undefined ? this.build.globalArg(name) : this.expand().word(rawDefault));
      if (value === undefined) this.args.delete(name);
      else this.args.set(name, value);
    }
  }

  /** A config-only step: cached too, so that an unchanged rebuild keeps every history time. */
  private configStep(instruction: Parameters<typeof applyConfigInstruction>[1]): void {
    const run = applyConfigInstruction(this.state.config.config ?? {}, instruction, this.expand(), this.cmdSet);
    if (instruction.kind === 'CMD') this.cmdSet = true;
    const author = instruction.kind === 'MAINTAINER' ? this.expand().word(instruction.rawValue) : this.state.config.author;
    const key = stepKey(this.state.key, ['config', instruction.text, run, author]);
    const db = this.build.context.db();
    const cached = this.build.options.noCache ? undefined : cachedState(db, this.build.context.paths, key);
    if (cached !== undefined) {
      this.state = cached;
      return;
    }
    const config = withHistory({ ...this.state.config, ...(author === undefined ? {} : { author }), config: run }, instruction.text, undefined);
    this.state = { key, config, layers: this.state.layers };
    recordState(db, this.build.context.paths, this.state);
  }

  /** A step that makes a layer: planned (its cache key), then looked up in the cache, else run. */
  private async layer(instruction: RunInstruction | CopyInstruction | WordInstruction, prefix: string, plan: () => Promise<LayerPlan>): Promise<void> {
    const { context, options } = this.build;
    let vertex: Vertex | undefined;
    const text = `${prefix}${instruction.text}`;
    try {
      // Planned first: a COPY --from builds its source stage, whose steps then show before it.
      const { descriptor, createdBy, execute, run } = await plan();
      if ((instruction.kind === 'COPY' || instruction.kind === 'ADD') && instruction.rawFrom === undefined) this.build.loadContext();
      vertex = this.vertex(text);
      const key = stepKey(this.state.key, descriptor);
      const cached = options.noCache ? undefined : cachedState(context.db(), context.paths, key);
      if (cached !== undefined) {
        this.state = cached;
        vertex.cached();
        return;
      }
      const layer = await execute(vertex);
      options.signal.throwIfAborted();
      const empty = layer.diffId === EMPTY_LAYER_DIFF_ID;
      const layers = empty ? this.state.layers : [...this.state.layers, layer];
      const config = run === undefined ? this.state.config : { ...this.state.config, config: run };
      this.state = { key, config: withHistory(config, createdBy, empty ? undefined : layer), layers };
      recordState(context.db(), context.paths, this.state);
      vertex.done();
    } catch (err) {
      const failure = options.signal.aborted ? new WhaleboxError(CANCELED, 1) : err;
      vertex ??= this.vertex(text);
      vertex.fail(failure instanceof Error ? failure.message : String(failure));
      throw located(failure, instruction);
    }
  }

  private async planRun(instruction: RunInstruction): Promise<LayerPlan> {
    const run = this.state.config.config ?? {};
    // A RUN that is one heredoc starting with #! runs it as a script file (BuildKit mounts it at /dev/pipes/NAME).
    const [heredoc] = instruction.heredocs;
    const script =
      heredoc && instruction.heredocs.length === 1 && 'shell' in instruction.command && instruction.command.shell === heredoc.content && heredoc.content.startsWith('#!')
        ? { path: `/dev/pipes/${heredoc.name}`, content: heredoc.content }
        : undefined;
    const argv = script ? [script.path] : commandArgs(instruction.command, run);
    // Build arguments reach RUN as environment, below the image's own (ENV wins over ARG).
    const envNames = new Set((run.Env ?? []).map((entry) => entry.split('=', 1)[0]));
    const argEnv = [...this.args].filter(([name]) => !envNames.has(name)).map(([name, value]) => `${name}=${value}`).sort();
    const network = runNetwork(instruction.rawNetwork === undefined ? this.build.options.network : this.expand().word(instruction.rawNetwork));
    const prefix = argEnv.length > 0 ? `|${argEnv.length} ${argEnv.join(' ')} ` : '';
    // Proxy settings reach RUN without an ARG, and stay out of the cache key and the history (BuildKit's rule).
    const proxies = this.build.proxyArgs().filter(([name]) => !envNames.has(name) && !this.args.has(name)).map(([name, value]) => `${name}=${value}`);
    return {
      descriptor: ['RUN', argv, argEnv, network, script?.content],
      createdBy: `RUN ${prefix}${argv.join(' ')} # buildkit`,
      execute: (vertex) =>
        runStep(this.build.context, this.state, this.display, {
          argv,
          env: [...argEnv, ...proxies],
          network,
          output: (chunk) => vertex.output(chunk),
          signal: this.build.options.signal,
          ...(script ? { script } : {}),
        }),
    };
  }

  private workdirAfter(instruction: WordInstruction): string {
    return this.build.at(instruction, () => applyConfigInstruction(this.state.config.config ?? {}, instruction, this.expand(), this.cmdSet).WorkingDir ?? '/');
  }

  private planWorkdir(instruction: WordInstruction): LayerPlan {
    const run = applyConfigInstruction(this.state.config.config ?? {}, instruction, this.expand(), this.cmdSet);
    const path = run.WorkingDir ?? '/';
    return {
      descriptor: ['WORKDIR', path, run],
      createdBy: `WORKDIR ${path}`,
      run,
      execute: () => makeDirectory(this.build.context, this.state, this.display, path, run.User ?? ''),
    };
  }

  private async planCopy(instruction: CopyInstruction): Promise<LayerPlan> {
    const { context, buildContext } = this.build;
    const resolveFrom = async (name: string): Promise<BuildState> => {
      const stage = this.build.findStage(name, this.build.dockerfile.stages.length);
      // Only earlier stages, as BuildKit: stages then never wait on each other in a circle.
      if (stage !== undefined && stage.index >= this.stage.index) {
        throw new WhaleboxError(`cannot copy from stage "${name}", it needs to be defined before current stage "${this.name}"`, 1);
      }
      if (stage !== undefined) return (await this.build.stage(stage)).state;
      return (await this.build.image(name, this.build.options.platform)).state;
    };
    const workdir = this.state.config.config?.WorkingDir ?? '/';
    const plan = await planCopy(context, buildContext, instruction, this.expand(), workdir, resolveFrom, this.display, this.build.options.signal);
    return {
      descriptor: plan.descriptor,
      createdBy: `${instruction.text} # buildkit`,
      execute: () => plan.execute(this.state),
    };
  }
}

interface LayerPlan {
  readonly descriptor: unknown;
  readonly createdBy: string;
  /** The run config after the step, when the step changes it. */
  readonly run?: ImageRunConfig;
  execute(vertex: Vertex): Promise<StoredLayer>;
}

function isLayerInstruction(instruction: Instruction): boolean {
  return instruction.kind === 'RUN' || instruction.kind === 'COPY' || instruction.kind === 'ADD' || instruction.kind === 'WORKDIR';
}

/** Sizes as BuildKit's progress prints them: `838B`, `2.05kB`, `1.2MB`. */
function decimalSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : Number(value.toPrecision(3))}${units[unit]}`;
}

/** RUN --network and build --network: BuildKit's `default` is the bridge here. */
function runNetwork(value: string): string {
  if (value === 'default' || value === 'bridge') return 'bridge';
  if (value === 'none' || value === 'host') return value;
  throw new WhaleboxError(`network mode ${JSON.stringify(value)} not supported by buildkit (use default, none or host)`, 1);
}

/** A step's history entry (and its layer's diff ID), as BuildKit writes them. */
function withHistory(config: ImageConfig, createdBy: string, layer: StoredLayer | undefined): ImageConfig {
  const created = rfc3339(new Date());
  return {
    ...config,
    created,
    rootfs: { type: 'layers', diff_ids: [...config.rootfs.diff_ids, ...(layer ? [layer.diffId] : [])] },
    history: [...(config.history ?? []), { created, created_by: createdBy, comment: HISTORY_COMMENT, ...(layer ? {} : { empty_layer: true }) }],
  };
}

