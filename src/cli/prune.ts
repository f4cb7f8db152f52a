import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { pruneBuildCache } from '../engine/build/build-cache.js';
import { pruneImages } from '../engine/image-prune.js';
import { pruneContainers, removeOrphans, resetStore } from '../engine/prune.js';
import { WhaleboxError } from '../util/errors.js';
import { confirm } from './confirm.js';
import { define as defineDiskUsage } from './df.js';
import { humanSize } from './format.js';
import { recordLine } from './rmi.js';
import { pruneNetworks } from '../network/network-filters.js';

/** Docker's prune lists image records in lower case: `untagged: …`, `deleted: …`. */
function imageLines(records: Parameters<typeof recordLine>[0][]): string[] {
  return records.map((record) => recordLine(record).replace(/^./, (c) => c.toLowerCase()));
}

/** Docker's prune report: what went under a title (when anything did), then the space freed. */
function printReport(title: string, deleted: readonly string[], reclaimed: number): void {
  printSections([[title, deleted]], reclaimed);
}

/** Docker's prune report: a titled list per kind of thing removed (none when empty), then the total. */
function printSections(sections: ReadonlyArray<[title: string, deleted: readonly string[]]>, reclaimed: number): void {
  const lists = sections.map(([title, deleted]) => (deleted.length ? `${title}:\n${deleted.join('\n')}\n\n` : '')).join('');
  process.stdout.write(`${lists}Total reclaimed space: ${humanSize(reclaimed)}\n`);
}

export function defineContainerPrune(command: Command, context: () => Context): void {
  command
    .description('Remove all stopped containers')
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (flags: { force?: boolean }) => {
      if (!flags.force && !confirm('WARNING! This will remove all stopped containers.')) return;
      const { deleted, reclaimed } = await pruneContainers(context());
      printReport('Deleted Containers', deleted, reclaimed);
    });
}

export function defineImagePrune(command: Command, context: () => Context): void {
  command
    .description('Remove unused images')
    .option('-a, --all', 'Remove all unused images, not just dangling ones')
    .option('--filter <filter>', "Provide filter values (e.g. 'until=<timestamp>')", (v: string, p: string[]) => [...p, v], [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .action((flags: { all?: boolean; filter: string[]; force?: boolean }) => {
      const warning = flags.all
        ? 'WARNING! This will remove all images without at least one container associated to them.'
        : 'WARNING! This will remove all dangling images.';
      if (!flags.force && !confirm(warning)) return;
      const { records, reclaimed } = pruneImages(context(), flags.all ?? false, flags.filter);
      printReport('Deleted Images', imageLines(records), reclaimed);
    });
}

export function defineSystem(command: Command, context: () => Context): void {
  command.description('Manage whalebox');
  defineDiskUsage(command.command('df'), context);
  command
    .command('prune')
    .description('Remove unused data: stopped containers, unused networks, dangling images, build cache, and what crashes left behind')
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (flags: { force?: boolean }) => {
      const warning =
        'WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n  - unused build cache\n  - what interrupted commands left in the store';
      if (!flags.force && !confirm(warning)) return;
      const containers = await pruneContainers(context());
      const networks = await pruneNetworks(context(), []);
      const images = pruneImages(context(), false, []);
      const cache = pruneBuildCache(context());
      removeOrphans(context());
      printSections(
        [
          ['Deleted Containers', containers.deleted],
          ['Deleted Networks', networks],
          ['Deleted Images', imageLines(images.records)],
          ['Deleted build cache objects', cache.entries],
        ],
        containers.reclaimed + images.reclaimed + cache.reclaimed,
      );
    });
  command
    .command('reset')
    .description('Remove everything whalebox created: containers (killed), images, the store')
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (flags: { force?: boolean }) => {
      const ctx = context();
      if (!flags.force && !confirm(`WARNING! This will kill every container and delete ${ctx.paths.root} and ${ctx.paths.runRoot}.`)) {
        throw new WhaleboxError('reset cancelled', 1);
      }
      await resetStore(ctx);
    });
}
