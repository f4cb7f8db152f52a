import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { parseFilters } from '../engine/filters.js';
import { parseLogTime } from '../engine/logs.js';
import { define as defineBuild } from './build.js';
import { confirm } from './confirm.js';
import { humanSize } from './format.js';

/** `whalebox builder`: `build`, and `prune` for the build cache. */
export function defineBuilder(command: Command, context: () => Context): void {
  command.description('Manage builds');
  defineBuild(command.command('build'), context);
  command
    .command('prune')
    .description('Remove build cache')
    .option('-a, --all', 'Remove all build cache (the default here: every entry is unreferenced by images)')
    .option('--filter <filter>', "Provide filter values (e.g. 'until=24h')", (v: string, p: string[]) => [...p, v], [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (flags: { filter: string[]; force?: boolean }) => {
      const until = untilFilter(flags.filter);
      if (!flags.force && !confirm('WARNING! This will remove all dangling build cache.')) return;
      const { pruneBuildCache } = await import('../engine/build/build-cache.js');
      const { entries, reclaimed } = pruneBuildCache(context(), until);
      const list = entries.length > 0 ? `Deleted build cache objects:\n${entries.join('\n')}\n\n` : '';
      process.stdout.write(`${list}Total reclaimed space: ${humanSize(reclaimed)}\n`);
    });
}

/** `--filter until=…` (a duration or a time, as `logs --until`), the newest one if several. */
function untilFilter(filterArgs: readonly string[]): number | undefined {
  const value = parseFilters(filterArgs, ['until']).get('until')?.at(-1);
  return value === undefined ? undefined : Number(parseLogTime(value) / 1_000_000n);
}
