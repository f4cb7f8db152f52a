import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { checkOutput, writeArchive } from './archive-output.js';

export function define(command: Command, context: () => Context): void {
  command
    .description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .usage('[OPTIONS] IMAGE [IMAGE...]')
    .argument('<images...>')
    .option('-o, --output <file>', 'Write to a file, instead of STDOUT')
    .action(async (images: string[], flags: { output?: string }) => {
      checkOutput(flags.output);
      const { saveImages } = await import('../engine/archive/save.js');
      await writeArchive(saveImages(context(), images), flags.output);
    });
}
