import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { parseLabels } from '../engine/container-config.js';
import { WhaleboxError } from '../util/errors.js';
import { errorSummary, PlainProgress, QuietProgress } from './build-progress.js';

interface BuildFlags {
  tag: string[];
  file?: string;
  buildArg: string[];
  target?: string;
  cache: boolean;
  pull?: boolean;
  label: string[];
  network: string;
  quiet?: boolean;
  iidfile?: string;
  platform?: string;
  progress: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const INTERRUPTS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function define(command: Command, context: () => Context): void {
  command
    .description('Build an image from a Dockerfile')
    .usage('[OPTIONS] PATH | -')
    .argument('<context>', "the build context: a directory, or '-' for a tar (or a Dockerfile) on stdin")
    .option('-t, --tag <name>', 'Name and optionally a tag in the "name:tag" format', collect, [])
    .option('-f, --file <path>', "Name of the Dockerfile (default: \"PATH/Dockerfile\"); '-' reads it from stdin")
    .option('--build-arg <arg>', 'Set build-time variables', collect, [])
    .option('--target <stage>', 'Set the target build stage to build')
    .option('--no-cache', 'Do not use cache when building the image')
    .option('--pull', 'Always attempt to pull a newer version of the image')
    .option('--label <label>', 'Set metadata for an image', collect, [])
    .option('--network <mode>', 'Set the networking mode for the RUN instructions during build (default, none, host)', 'default')
    .option('-q, --quiet', 'Suppress the build output and print image ID on success')
    .option('--iidfile <file>', 'Write the image ID to the file')
    .option('--platform <platform>', 'Set target platform for build')
    .option('--progress <type>', 'Set type of progress output (auto, plain, quiet)', 'auto')
    .action(async (source: string, flags: BuildFlags) => {
      // Loaded on use: the builder and its parser are dead weight for every other command.
      const { buildImage, BuildError } = await import('../engine/build/builder.js');
      const { openBuildContext } = await import('../engine/build/build-context.js');
      const quiet = flags.quiet || flags.progress === 'quiet';
      if (!['auto', 'plain', 'tty', 'quiet'].includes(flags.progress)) throw new WhaleboxError(`invalid progress type: ${flags.progress}`, 1);
      const progress = quiet ? new QuietProgress() : new PlainProgress((text) => process.stderr.write(text));
      const buildContext = await openBuildContext(context().paths, source, { ...(flags.file ? { dockerfile: flags.file } : {}), stdin: process.stdin });
      // Ctrl-C cancels: the running step's container dies, the build cleans up and fails. A
      // second one leaves at once.
      const cancel = new AbortController();
      const interrupt = (): void => {
        if (cancel.signal.aborted) process.exit(130);
        cancel.abort();
      };
      for (const name of INTERRUPTS) process.on(name, interrupt);
      try {
        const id = await buildImage(context(), buildContext, {
          tags: flags.tag,
          buildArgs: parseBuildArgs(flags.buildArg),
          ...(flags.target ? { target: flags.target } : {}),
          noCache: !flags.cache,
          pull: flags.pull ?? false,
          labels: parseLabels(flags.label),
          network: flags.network,
          ...(flags.platform ? { platform: flags.platform } : {}),
          progress,
          signal: cancel.signal,
        });
        if (flags.iidfile) writeFileSync(flags.iidfile, id);
        if (quiet) process.stdout.write(`${id}\n`);
      } catch (err) {
        if (!(err instanceof BuildError)) throw err;
        const failure = progress instanceof PlainProgress ? progress.failure : undefined;
        process.stderr.write(errorSummary(err.message, buildContext.dockerfileName, buildContext.dockerfile, err.where, failure));
        process.exitCode = err.exitCode;
      } finally {
        for (const name of INTERRUPTS) process.off(name, interrupt);
        await buildContext.release();
      }
    });
}

/** `--build-arg K=V`, or `K` alone for the value of K in the environment (if set). */
function parseBuildArgs(entries: readonly string[]): Map<string, string | undefined> {
  const args = new Map<string, string | undefined>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (name === '') throw new WhaleboxError(`invalid build-arg ${JSON.stringify(entry)}: empty name`, 1);
    args.set(name, eq < 0 ? undefined : entry.slice(eq + 1));
  }
  return args;
}
