import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { familiarString } from '../image/reference.js';
import { WhaleboxError } from '../util/errors.js';

interface LoadFlags {
  input?: string;
  quiet?: boolean;
}

export function define(command: Command, context: () => Context): void {
  command
    .description('Load an image from a tar archive or STDIN')
    .usage('[OPTIONS]')
    .option('-i, --input <file>', 'Read from tar archive file, instead of STDIN')
    // There is no progress output to suppress; the names loaded are printed either way, as by Docker.
    .option('-q, --quiet', 'Suppress the load output')
    .action(async (flags: LoadFlags) => {
      if (flags.input === undefined && process.stdin.isTTY) throw new WhaleboxError('requested load from stdin, but stdin is empty', 1);
      const [{ loadImages }, { openSource }] = await Promise.all([import('../engine/archive/load.js'), import('../engine/images.js')]);
      let input;
      try {
        input = openSource(flags.input ?? '-');
      } catch (err) {
        throw err instanceof WhaleboxError ? new WhaleboxError(err.message, 1) : err;
      }
      await loadImages(context(), input, ({ id, references }) => {
        const lines = references.length > 0 ? references.map((reference) => `Loaded image: ${familiarString(reference)}`) : [`Loaded image ID: ${id}`];
        process.stdout.write(`${lines.join('\n')}\n`);
      });
    });
}
