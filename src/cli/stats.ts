import type { Command } from 'commander';
import { WhaleboxError } from '../util/errors.js';
import type { Context } from '../engine/context.js';
import { type ContainerStats, selectContainers, selectedContainers, StatsCollector, type StatsSelection } from '../engine/stats.js';
import { bytesSize, formatTable, humanSize } from './format.js';
import { compileFormat, type CompiledFormat } from './go-template.js';

interface StatsFlags {
  all?: boolean;
  /** False with --no-stream. */
  stream: boolean;
  /** False with --no-trunc. */
  trunc: boolean;
  format?: string;
}

/** One row as `--format` sees it: Docker's field names, already formatted. */
interface StatsEntry {
  Container: string;
  Name: string;
  ID: string;
  CPUPerc: string;
  MemUsage: string;
  MemPerc: string;
  NetIO: string;
  BlockIO: string;
  PIDs: string;
}

const HEADERS: Record<string, string> = {
  Container: 'CONTAINER',
  Name: 'NAME',
  ID: 'CONTAINER ID',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

const DEFAULT_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

/** How often the numbers are read, and the interval CPU % is measured over. */
const INTERVAL_MS = 1000;

const percent = (value: number): string => `${value.toFixed(2)}%`;

/** `container` is what Docker's Container field shows: the name as given, else the short ID. */
function entry(stats: ContainerStats, container: string, trunc: boolean): StatsEntry {
  return {
    Container: container,
    Name: stats.name || '--',
    ID: trunc ? stats.id.slice(0, 12) : stats.id,
    CPUPerc: percent(stats.cpuPercent),
    MemUsage: `${bytesSize(stats.memoryUsage)} / ${bytesSize(stats.memoryLimit)}`,
    MemPerc: percent(stats.memoryPercent),
    NetIO: `${humanSize(stats.netRx)} / ${humanSize(stats.netTx)}`,
    BlockIO: `${humanSize(stats.blockRead)} / ${humanSize(stats.blockWrite)}`,
    PIDs: String(stats.pids),
  };
}

function render(format: CompiledFormat | 'json', entries: readonly StatsEntry[]): string {
  if (format === 'json') return entries.map((e) => `${JSON.stringify(e)}\n`).join('');
  const lines = entries.map((e) => format.render(e));
  if (!format.table) return lines.map((line) => `${line}\n`).join('');
  return formatTable([format.header(HEADERS), ...lines].map((line) => line.split('\t')));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function define(command: Command, context: () => Context): void {
  command
    .description('Display a live stream of container(s) resource usage statistics')
    .usage('[OPTIONS] [CONTAINER...]')
    .argument('[container...]')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('--format <format>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
    .option('--no-stream', 'Disable streaming stats and only pull the first result')
    .option('--no-trunc', 'Do not truncate output')
    .action(async (containers: string[], flags: StatsFlags) => {
      const format = flags.format === 'json' ? 'json' : compileFormat(flags.format && flags.format !== 'table' ? flags.format : DEFAULT_FORMAT);
      let selection: StatsSelection;
      try {
        selection = selectContainers(context(), containers, flags.all ?? false);
      } catch (err) {
        if (!(err instanceof WhaleboxError)) throw err;
        // One line per container not found, each as an error of its own.
        for (const line of err.message.split('\n')) process.stderr.write(`whalebox: ${line}\n`);
        process.exitCode = err.exitCode;
        return;
      }
      const collector = new StatsCollector(context());
      // A reader such as `head` may go away: that ends the stream, quietly.
      process.stdout.on('error', () => process.exit(0));
      // The first reading only starts the CPU interval, as Docker's pre-read does.
      let rows = await selectedContainers(context(), selection);
      collector.collect(rows);
      for (;;) {
        if (flags.stream || rows.length > 0) await sleep(INTERVAL_MS);
        rows = await selectedContainers(context(), selection);
        const entries = collector.collect(rows).map((s) => entry(s, ('named' in selection && selection.named.get(s.id)) || s.id.slice(0, 12), flags.trunc));
        const clear = flags.stream && process.stdout.isTTY ? '\x1b[2J\x1b[H' : '';
        process.stdout.write(clear + render(format, entries));
        // Like Docker: named containers that are all gone leave nothing to follow.
        if (!flags.stream || ('named' in selection && rows.length === 0)) return;
      }
    });
}
