import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { pruneContainers, removeOrphans, resetStore } from '../engine/prune.js';
import { WhaleboxError } from '../util/errors.js';
import { confirm } from './confirm.js';
import { humanSize } from './format.js';

function printReport(deleted: readonly string[], reclaimed: number): void {
  const list = deleted.length ? `Deleted Containers:\n${deleted.join('\n')}\n\n` : '';
  process.stdout.write(`${list}Total reclaimed space: ${humanSize(reclaimed)}\n`);
}

export function defineContainerPrune(command: Command, context: () => Context): void {
  command
    .description('Remove all stopped containers')
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (flags: { force?: boolean }) => {
      if (!flags.force && !confirm('WARNING! This will remove all stopped containers.')) return;
      const { deleted, reclaimed } = await pruneContainers(context());
      printReport(deleted, reclaimed);
    });
}

export function defineSystem(command: Command, context: () => Context): void {
  command.description('Manage whalebox');
  command
    .command('prune')
    .description('Remove stopped containers and what crashes left behind')
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (flags: { force?: boolean }) => {
      if (!flags.force && !confirm('WARNING! This will remove:\n  - all stopped containers\n  - what interrupted commands left in the store')) return;
      const { deleted, reclaimed } = await pruneContainers(context());
      removeOrphans(context());
      printReport(deleted, reclaimed);
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
