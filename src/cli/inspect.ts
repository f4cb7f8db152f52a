import type { Command } from 'commander';
import { WhaleboxError } from '../util/errors.js';
import type { Context } from '../engine/context.js';
import { refreshContainer, resolveContainer } from '../engine/containers.js';
import { inspectImage } from '../engine/image-inspect.js';
import { requireImage } from '../engine/image-lookup.js';
import { inspectContainer } from '../engine/inspect.js';
import { compileFormat } from './go-template.js';

type Kind = 'container' | 'image';

const INSPECTORS: Record<Kind, (context: Context, name: string) => Promise<Record<string, unknown>>> = {
  container: async (context, name) => inspectContainer(context, await refreshContainer(context, resolveContainer(context, name))),
  image: async (context, name) => inspectImage(requireImage(context, name)),
};

/**
 * Prints the objects as Docker does: a JSON array (or a template line each), then one error line
 * for each name that matched nothing, with status 1. Several kinds are tried in order, the next
 * only when nothing of the kind has that name (Docker's `inspect` without --type).
 */
async function inspectAll(context: Context, names: readonly string[], kinds: readonly Kind[], format?: string): Promise<void> {
  const found: Record<string, unknown>[] = [];
  const missing: string[] = [];
  for (const name of names) {
    let error: WhaleboxError | undefined;
    for (const kind of kinds) {
      try {
        found.push(await INSPECTORS[kind](context, name));
        error = undefined;
        break;
      } catch (err) {
        if (!(err instanceof WhaleboxError)) throw err;
        error = err;
        if (!err.message.startsWith('No such ')) break;
      }
    }
    if (error) missing.push(kinds.length > 1 && error.message.startsWith('No such ') ? `No such object: ${name}` : error.message);
  }
  if (format) {
    const compiled = compileFormat(format);
    process.stdout.write(found.map((item) => `${compiled.render(item)}\n`).join(''));
  } else {
    process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
  }
  for (const message of missing) process.stderr.write(`whalebox: ${message}\n`);
  if (missing.length) process.exitCode = 1;
}

/** `inspect` (containers, then images; --type picks one) and `container inspect` (containers). */
export function define(command: Command, context: () => Context): void {
  // The same definition serves both: the group's command is the containers-only one.
  const containersOnly = command.parent?.name() === 'container';
  command
    .description(containersOnly ? 'Display detailed information on one or more containers' : 'Return low-level information on whalebox objects')
    .argument(containersOnly ? '<container...>' : '<name...>')
    .option('-f, --format <template>', 'Format output using a custom template');
  if (!containersOnly) command.option('--type <type>', 'Only inspect objects of the given type (container or image)');
  command.action(async (names: string[], flags: { format?: string; type?: string }) => {
    if (flags.type !== undefined && flags.type !== 'container' && flags.type !== 'image') {
      throw new WhaleboxError(`"${flags.type}" is not a valid value for --type`, 1);
    }
    const kinds: Kind[] = containersOnly ? ['container'] : flags.type ? [flags.type as Kind] : ['container', 'image'];
    await inspectAll(context(), names, kinds, flags.format);
  });
}

/** `image inspect`. */
export function defineImageInspect(command: Command, context: () => Context): void {
  command
    .description('Display detailed information on one or more images')
    .argument('<image...>')
    .option('-f, --format <template>', 'Format output using a custom template')
    .action((names: string[], flags: { format?: string }) => inspectAll(context(), names, ['image'], flags.format));
}
