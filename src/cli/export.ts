import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { checkOutput, writeArchive } from './archive-output.js';

export function define(command: Command, context: () => Context): void {
  command
    .description("Export a container's filesystem as a tar archive")
    .usage('[OPTIONS] CONTAINER')
    .argument('<container>')
    .option('-o, --output <file>', 'Write to a file, instead of STDOUT')
    .action(async (container: string, flags: { output?: string }) => {
      checkOutput(flags.output);
      // Loaded on use: the layer walker and tar writer are dead weight for every other command.
      const { exportContainer } = await import('../engine/archive/export.js');
      await writeArchive(exportContainer(context(), container), flags.output);
    });
}
