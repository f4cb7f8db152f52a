import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { diskUsage, type DiskUsage } from '../engine/disk-usage.js';
import { shortId } from '../engine/image-lookup.js';
import { familiarName, parseReference } from '../image/reference.js';
import { formatTable, humanDuration, humanSize } from './format.js';
import { containerEntry } from './ps.js';

/** go-units HumanSize, which `system df` uses: 4 significant digits. */
const size = (bytes: number): string => humanSize(bytes, 4);

/** Docker's RECLAIMABLE cell: the size, and its share of the total in whole percent. */
function reclaimable(bytes: number, total: number): string {
  return total > 0 ? `${size(bytes)} (${Math.trunc((bytes * 100) / total)}%)` : size(bytes);
}

function summary(usage: DiskUsage): string {
  const containersSize = usage.containers.reduce((total, c) => total + c.sizeRw, 0);
  const idle = usage.containers.filter((c) => !c.active).reduce((total, c) => total + c.sizeRw, 0);
  return formatTable([
    ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
    [
      'Images',
      String(usage.images.length),
      String(usage.images.filter((image) => image.containers > 0).length),
      size(usage.layersSize),
      reclaimable(usage.imagesReclaimable, usage.layersSize),
    ],
    ['Containers', String(usage.containers.length), String(usage.containers.filter((c) => c.active).length), size(containersSize), reclaimable(idle, containersSize)],
    ['Local Volumes', '0', '0', '0B', '0B'],
    ['Build Cache', String(usage.buildCache.entries), '0', size(usage.buildCache.size), size(usage.buildCache.size)],
  ]);
}

/** `system df -v`: a table per type, images by their first tag, as the docker CLI prints it. */
function verbose(context: Context, usage: DiskUsage): string {
  const now = Date.now();
  const images = usage.images.map((image) => {
    const ref = image.references[0] === undefined ? undefined : parseReference(image.references[0]);
    return [
      ref ? familiarName(ref) : '<none>',
      ref?.tag ?? '<none>',
      shortId(image.id),
      `${humanDuration(now - Date.parse(image.created))} ago`,
      humanSize(image.size),
      size(image.sharedSize),
      size(image.size - image.sharedSize),
      String(image.containers),
    ];
  });
  const containers = usage.containers.map(({ row }) => {
    const entry = containerEntry(context, row, { size: true, trunc: true }, now);
    return [entry.ID, entry.Image, entry.Command, '0', entry.Size, entry.RunningFor, entry.Status, entry.Names];
  });
  return [
    'Images space usage:\n\n',
    formatTable([['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'], ...images]),
    '\nContainers space usage:\n\n',
    formatTable([['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'], ...containers]),
    '\nLocal Volumes space usage:\n\n',
    formatTable([['VOLUME NAME', 'LINKS', 'SIZE']]),
    '\nBuild cache usage: 0B\n\n',
    formatTable([['CACHE ID', 'CACHE TYPE', 'SIZE', 'CREATED', 'LAST USED', 'USAGE', 'SHARED']]),
  ].join('');
}

export function define(command: Command, context: () => Context): void {
  command
    .description('Show whalebox disk usage')
    .option('-v, --verbose', 'Show detailed information on space usage')
    .action(async (flags: { verbose?: boolean }) => {
      const usage = await diskUsage(context());
      process.stdout.write(flags.verbose ? verbose(context(), usage) : summary(usage));
    });
}
