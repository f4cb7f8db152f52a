import type { Command } from 'commander';
import type { Context } from '../engine/context.js';

interface ImportFlags {
  change?: string[];
  message?: string;
}

export function register(program: Command, context: () => Context): void {
  program
    .command('import')
    .description('Import the contents from a tarball to create a filesystem image')
    .usage('[OPTIONS] file|- [REPOSITORY[:TAG]]')
    .argument('<file>', "a tar (plain or gzip) of the root filesystem, or '-' for stdin")
    .argument('[reference]', 'the repository and tag to give the image')
    .option('-c, --change <instruction>', 'Apply Dockerfile instruction to the created image', collect)
    .option('-m, --message <message>', 'Set commit message for imported image')
    .action(async (file: string, reference: string | undefined, flags: ImportFlags) => {
      // Loaded on use: the unpacker and tar-stream are dead weight for every other command.
      const { importImage } = await import('../engine/images.js');
      const id = await importImage(context(), file, reference, { changes: flags.change, message: flags.message });
      process.stdout.write(`${id}\n`);
    });
}

/** Repeatable option; no default, so that help shows none. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
