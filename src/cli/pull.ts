import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import {
  familiarName,
  familiarString,
  parseNormalized,
  parseReference,
  referenceString,
  repositoryName,
  type ImageReference,
} from '../image/reference.js';
import { ProgressLines } from './progress.js';

interface PullFlags {
  allTags?: boolean;
  quiet?: boolean;
  platform?: string;
}

export function define(command: Command, context: () => Context): void {
  command
    .description('Download an image from a registry')
    .usage('[OPTIONS] NAME[:TAG|@DIGEST]')
    .argument('<name>')
    .option('-a, --all-tags', 'Download all tagged images in the repository')
    .option('-q, --quiet', 'Suppress verbose output')
    .option('--platform <platform>', 'Set platform if server is multi-platform capable')
    .action(async (name: string, flags: PullFlags) => {
      const { listRemoteTags } = await import('../engine/pull.js');
      const { WhaleboxError } = await import('../util/errors.js');
      const ctx = context();
      const named = parseNormalized(name);
      let refs: ImageReference[];
      if (flags.allTags) {
        if (named.tag !== undefined || named.digest !== undefined) throw new WhaleboxError('tag can\'t be used with --all-tags/-a', 1);
        refs = (await listRemoteTags(ctx, named)).map((tag) => ({ ...named, tag }));
      } else {
        if (named.tag === undefined && named.digest === undefined && !flags.quiet) process.stdout.write('Using default tag: latest\n');
        refs = [parseReference(name)];
      }
      const out = flags.quiet ? undefined : new ProgressLines();
      for (const ref of refs) await pullWithProgress(ctx, ref, flags.platform, out, !flags.allTags);
      if (flags.allTags) out?.line(`Status: Downloaded newer images for ${familiarName(named)}`);
      // The one line that -q keeps: what was pulled, fully qualified.
      process.stdout.write(`${flags.allTags ? repositoryName(named) : referenceString(refs[0]!)}\n`);
    });
}

/**
 * Pulls one reference, printing docker pull's lines to `out` (none without it): the layers'
 * progress, then, when `summary`, the digest and the status.
 */
export async function pullWithProgress(context: Context, ref: ImageReference, platform: string | undefined, out: ProgressLines | undefined, summary = true): Promise<void> {
  const { pullImage } = await import('../engine/pull.js');
  const result = await pullImage(context, ref, {
    platform,
    onEvent:
      out &&
      ((event) => {
        // As docker pull: the first line once the registry has the manifest.
        if (event.kind === 'resolved') out.line(`${ref.digest ?? ref.tag}: Pulling from ${ref.path}`);
        else if (event.kind === 'layer') out.status(event.id, event.status);
        else out.progress(event.id, 'Downloading', event.current, event.total);
      }),
  });
  if (out && summary) {
    out.line(`Digest: ${result.digest}`);
    const shown = familiarString(ref);
    out.line(result.downloaded ? `Status: Downloaded newer image for ${shown}` : `Status: Image is up to date for ${shown}`);
  }
}
