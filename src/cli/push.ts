import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { familiarName, parseNormalized, parseReference } from '../image/reference.js';
import { ProgressLines } from './progress.js';

interface PushFlags {
  allTags?: boolean;
  quiet?: boolean;
}

export function define(command: Command, context: () => Context): void {
  command
    .description('Upload an image to a registry')
    .usage('[OPTIONS] NAME[:TAG]')
    .argument('<name>')
    .option('-a, --all-tags', 'Push all tags of an image to the repository')
    .option('-q, --quiet', 'Suppress verbose output')
    .action(async (name: string, flags: PushFlags) => {
      const { pushImage } = await import('../engine/push.js');
      const { listImages } = await import('../engine/images.js');
      const { WhaleboxError } = await import('../util/errors.js');
      const ctx = context();
      const named = parseNormalized(name);
      if (named.digest !== undefined) throw new WhaleboxError('cannot push a digest reference', 1);
      if (flags.allTags && named.tag !== undefined) throw new WhaleboxError('tag can\'t be used with --all-tags/-a', 1);
      const tags = flags.allTags
        ? listImages(ctx, name).flatMap((image) => image.references.map((reference) => parseReference(reference).tag!))
        : [parseReference(name).tag!];
      if (tags.length === 0) throw new WhaleboxError(`An image does not exist locally with the tag: ${familiarName(named)}`, 1);
      const out = new ProgressLines();
      if (!flags.quiet) out.line(`The push refers to repository [${named.domain}/${named.path}]`);
      for (const tag of tags.sort()) {
        const result = await pushImage(ctx, { ...named, tag }, flags.quiet ? undefined : (event) => out.status(event.id, event.status));
        if (flags.quiet) process.stdout.write(`${named.domain}/${named.path}:${tag}\n`);
        else out.line(`${result.tag}: digest: ${result.digest} size: ${result.size}`);
      }
    });
}
