import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { resolveContainer } from '../engine/containers.js';
import { containerLogs, parseLogTime, type LogEntry } from '../engine/logs.js';
import { parseInteger } from '../util/units.js';

/** stdout chunks to stdout, stderr chunks to stderr, optionally after their timestamp. */
export function writeLogEntry(entry: LogEntry, timestamps: boolean): void {
  const out = entry.stream === 'stdout' ? process.stdout : process.stderr;
  out.write(timestamps ? `${entry.time} ${entry.text}` : entry.text);
}

export function define(command: Command, context: () => Context): void {
  command
    .description('Fetch the logs of a container')
    .argument('<container>')
    .option('-f, --follow', 'Follow log output')
    .option('-n, --tail <lines>', 'Number of lines to show from the end of the logs', 'all')
    .option('--since <time>', 'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)')
    .option('--until <time>', 'Show logs before a timestamp or relative time')
    .option('-t, --timestamps', 'Show timestamps')
    .action(async (container: string, flags: { follow?: boolean; tail: string; since?: string; until?: string; timestamps?: boolean }) => {
      const row = resolveContainer(context(), container);
      await containerLogs(context(), row.id, {
        follow: flags.follow ?? false,
        tail: flags.tail === 'all' ? undefined : parseInteger('--tail', flags.tail, 0),
        since: flags.since === undefined ? undefined : parseLogTime(flags.since),
        until: flags.until === undefined ? undefined : parseLogTime(flags.until),
        write: (entry) => writeLogEntry(entry, flags.timestamps ?? false),
      });
    });
}
