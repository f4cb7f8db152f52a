import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { parseLogTime } from '../engine/logs.js';
import { WhaleboxError } from '../util/errors.js';
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

/** `--filter until=…` (a duration or a time, as `logs --until`); no other filter is known. */
function untilFilter(filters: readonly string[]): number | undefined {
  let until: number | undefined;
  for (const filter of filters) {
    const [key, value = ''] = filter.split(/=(.*)/s);
    if (key !== 'until') throw new WhaleboxError(`invalid filter '${key}'`, 1);
    until = Number(parseLogTime(value) / 1_000_000n);
  }
  return until;
}
