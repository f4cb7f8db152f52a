import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { WhaleboxError } from '../util/errors.js';

interface CommitFlags {
  author?: string;
  change?: string[];
  message?: string;
  pause: boolean;
}

export function define(command: Command, context: () => Context): void {
  command
    .description("Create a new image from a container's changes")
    .usage('[OPTIONS] CONTAINER [REPOSITORY[:TAG]]')
    .argument('<container>')
    .argument('[reference]')
    .option('-a, --author <author>', 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    .option('-c, --change <instruction>', 'Apply Dockerfile instruction to the created image', (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .option('-m, --message <message>', 'Commit message')
    // Docker's boolean flag: `-p`, `--pause=false`.
    .option('-p, --pause [bool]', 'Pause container during commit', parseBool, true)
    .action(async (container: string, reference: string | undefined, flags: CommitFlags) => {
      const { commitContainer } = await import('../engine/commit.js');
      const id = await commitContainer(context(), container, reference, {
        author: flags.author,
        message: flags.message,
        changes: flags.change,
        pause: flags.pause,
      });
      process.stdout.write(`${id}\n`);
    });
}

function parseBool(value: string): boolean {
  if (/^(1|t|true)$/i.test(value)) return true;
  if (/^(0|f|false)$/i.test(value)) return false;
  throw new WhaleboxError(`invalid argument "${value}" for "-p, --pause" flag: strconv.ParseBool: parsing "${value}": invalid syntax`);
}
