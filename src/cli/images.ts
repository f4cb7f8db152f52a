import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { listImages, type ListedImage } from '../engine/image-list.js';
import { shortId } from '../engine/image-lookup.js';
import { familiarName } from '../image/reference.js';
import { goTime, humanDuration, humanSize, printEntries } from './format.js';

interface ImagesFlags {
  all?: boolean;
  quiet?: boolean;
  digests?: boolean;
  /** False with --no-trunc. */
  trunc: boolean;
  filter: string[];
  format?: string;
}

const HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
};

/**
 * The rows of one image, as the docker CLI makes them (imageFormatTaggedAndDigest): a row per
 * tag, per digest of its repository when digests are wanted, and a row per repository known
 * only by digest; `<none>` for an image without names.
 */
function imageRows(image: ListedImage, needDigest: boolean, showDigests: boolean): Array<[repository: string, tag: string, digest: string]> {
  if (image.tags.length + image.digests.length === 0) return [['<none>', '<none>', '<none>']];
  const group = (refs: ListedImage['tags'], value: (ref: ListedImage['tags'][number]) => string): Map<string, string[]> => {
    const groups = new Map<string, string[]>();
    for (const ref of refs) groups.set(familiarName(ref), [...(groups.get(familiarName(ref)) ?? []), value(ref)]);
    return groups;
  };
  const tags = group(image.tags, (ref) => ref.tag!);
  const digests = group(image.digests, (ref) => ref.digest!);
  const rows: Array<[string, string, string]> = [];
  for (const [repository, repoTags] of tags) {
    const repoDigests = needDigest ? (digests.get(repository) ?? []) : [];
    digests.delete(repository);
    for (const tag of repoTags) {
      if (repoDigests.length === 0) rows.push([repository, tag, '<none>']);
      for (const digest of repoDigests) rows.push([repository, tag, digest]);
    }
  }
  for (const [repository, repoDigests] of digests) {
    if (showDigests) for (const digest of repoDigests) rows.push([repository, '<none>', digest]);
    else rows.push([repository, '<none>', '']);
  }
  return rows;
}

export function define(command: Command, context: () => Context): void {
  command
    .description('List images')
    .usage('[OPTIONS] [REPOSITORY[:TAG]]')
    .argument('[repository]', 'only images of this repository (and tag)')
    .option('-a, --all', 'Show all images (default hides intermediate images)')
    .option('--digests', 'Show digests')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', (v: string, p: string[]) => [...p, v], [])
    .option('--format <format>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only show image IDs')
    .action((repository: string | undefined, flags: ImagesFlags) => {
      const images = listImages(context(), flags.filter, repository);
      const columns = ['Repository', 'Tag', ...(flags.digests ? ['Digest'] : []), 'ID', 'CreatedSince', 'Size'];
      // As in Docker, -q applies to the default format only.
      const defaultTable = flags.quiet ? '{{.ID}}' : `table ${columns.map((c) => `{{.${c}}}`).join('\t')}`;
      let format = flags.format && flags.format !== 'table' ? flags.format : defaultTable;
      if (format.startsWith('table') && flags.digests && !format.includes('{{.Digest}}')) format += '\t{{.Digest}}';
      const needDigest = Boolean(flags.digests) || format.includes('{{.Digest}}');
      const now = Date.now();
      // One entry per row, as Docker prints them: an image with two tags shows twice, even with -q.
      const entries = images.flatMap((image) =>
        imageRows(image, needDigest, Boolean(flags.digests)).map(([repository, tag, digest]) => ({
          Containers: 'N/A',
          CreatedAt: goTime(image.created),
          CreatedSince: `${humanDuration(now - Date.parse(image.created))} ago`,
          Digest: digest,
          ID: flags.trunc ? shortId(image.id) : image.id,
          Repository: repository,
          SharedSize: 'N/A',
          Size: humanSize(image.size),
          Tag: tag,
          UniqueSize: 'N/A',
          VirtualSize: humanSize(image.size, 4),
        })),
      );
      printEntries(entries, format, defaultTable, HEADERS);
    });
}
