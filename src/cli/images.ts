import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { familiarName, parseReference } from '../image/reference.js';
import { formatTable, humanDuration, humanSize } from './format.js';

interface ImagesFlags {
  quiet?: boolean;
  /** False with --no-trunc. */
  trunc: boolean;
}

export function register(program: Command, context: () => Context): void {
  program
    .command('images')
    .description('List images')
    .usage('[OPTIONS] [REPOSITORY[:TAG]]')
    .argument('[repository]', 'only images of this repository (and tag)')
    .option('-q, --quiet', 'Only show image IDs')
    .option('--no-trunc', "Don't truncate output")
    .action(async (repository: string | undefined, flags: ImagesFlags) => {
      const { listImages } = await import('../engine/images.js');
      const images = listImages(context(), repository);
      const displayId = (id: string): string => (flags.trunc ? id.slice('sha256:'.length, 'sha256:'.length + 12) : id);
      if (flags.quiet) {
        process.stdout.write(images.map((image) => `${displayId(image.id)}\n`).join(''));
        return;
      }
      const now = Date.now();
      const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
      for (const image of images) {
        const columns = [displayId(image.id), `${humanDuration(now - Date.parse(image.created))} ago`, humanSize(image.size)];
        if (image.references.length === 0) rows.push(['<none>', '<none>', ...columns]);
        for (const reference of image.references) {
          const ref = parseReference(reference);
          rows.push([familiarName(ref), ref.tag ?? '<none>', ...columns]);
        }
      }
      process.stdout.write(formatTable(rows));
    });
}
