import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { removeImage, type DeleteRecord } from '../engine/image-remove.js';
import { WhaleboxError } from '../util/errors.js';

/** `Untagged: busybox:latest` or `Deleted: sha256:…`, as `docker rmi` prints its records. */
export function recordLine(record: DeleteRecord): string {
  return 'untagged' in record ? `Untagged: ${record.untagged}` : `Deleted: ${record.deleted}`;
}

export function define(command: Command, context: () => Context): void {
  command
    .description('Remove one or more images')
    .usage('[OPTIONS] IMAGE [IMAGE...]')
    .argument('<image...>')
    .option('-f, --force', 'Force removal of the image')
    // Accepted for Docker's scripts: images here have no parent images to prune.
    .option('--no-prune', 'Do not delete untagged parents')
    .action(async (images: string[], flags: { force?: boolean }) => {
      // As the docker CLI: every image is tried; an error fails the command, except that
      // with --force an image that does not exist is only reported.
      let failed = false;
      for (const image of images) {
        try {
          const records = await removeImage(context(), image, flags.force ?? false);
          process.stdout.write(records.map((record) => `${recordLine(record)}\n`).join(''));
        } catch (err) {
          if (!(err instanceof WhaleboxError)) throw err;
          process.stderr.write(`whalebox: ${err.message}\n`);
          if (!flags.force || !err.message.startsWith('No such image: ')) failed = true;
        }
      }
      if (failed) process.exitCode = 1;
    });
}
