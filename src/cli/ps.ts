import { isBuildInProgress } from '../engine/names.js';
import type { Command } from 'commander';
import { join } from 'node:path';
import { WhaleboxError } from '../util/errors.js';
import { parseInteger } from '../util/units.js';
import type { Context } from '../engine/context.js';
import { bundleDir, containerTable, parseConfig, refreshContainer } from '../engine/containers.js';
import { commandLine, treeSize } from '../engine/container-view.js';
import { findImage } from '../image/image-store.js';
import { exposedPorts, formatPorts } from '../network/ports.js';
import type { ContainerRow } from '../store/containers.js';
import { ellipsis, goTime, humanDuration, humanSize, printEntries } from './format.js';

interface PsFlags {
  all?: boolean;
  quiet?: boolean;
  last?: string;
  latest?: boolean;
  size?: boolean;
  /** commander turns --no-trunc into trunc: false */
  trunc?: boolean;
  filter: string[];
  format?: string;
}

/** One row as `--format` sees it: Docker's field names, already formatted. */
interface PsEntry {
  ID: string;
  Image: string;
  Command: string;
  CreatedAt: string;
  RunningFor: string;
  Ports: string;
  State: string;
  Status: string;
  Size: string;
  Names: string;
  Labels: string;
  Mounts: string;
}

const HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
};

/** Docker's STATUS column. */
function statusText(row: ContainerRow, now: number): string {
  const since = (iso: string | null) => humanDuration(now - Date.parse(iso ?? new Date(now).toISOString()));
  switch (row.status) {
    case 'running':
      return `Up ${since(row.startedAt)}`;
    case 'paused':
      return `Up ${since(row.startedAt)} (Paused)`;
    case 'exited':
      return `Exited (${row.exitCode ?? 0}) ${since(row.finishedAt)} ago`;
    case 'dead':
      return 'Dead';
    default:
      return 'Created';
  }
}

type Filter = (row: ContainerRow) => boolean;

function parseFilters(context: Context, filters: readonly string[]): Filter[] {
  return filters.map((filter) => {
    const eq = filter.indexOf('=');
    const key = filter.slice(0, eq);
    const value = filter.slice(eq + 1);
    switch (eq < 0 ? '' : key) {
      case 'status': {
        const states = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
        if (!states.includes(value)) throw new WhaleboxError(`invalid filter 'status=${value}'`);
        return (row) => row.status === value;
      }
      case 'name':
        return (row) => new RegExp(value).test(row.name);
      case 'id':
        return (row) => row.id.startsWith(value);
      case 'label': {
        const [name, wanted] = value.split(/=(.*)/s);
        return (row) => {
          const labels = parseConfig(row).labels ?? {};
          return name! in labels && (wanted === undefined || labels[name!] === wanted);
        };
      }
      case 'ancestor': {
        const image = findImage(context.db(), context.paths, value);
        return (row) => row.imageRef === value || row.imageId === image?.id;
      }
      default:
        throw new WhaleboxError(`invalid filter '${filter}'`);
    }
  });
}

/** A container as `ps` lists it; `system df -v` lists them too. */
export function containerEntry(context: Context, row: ContainerRow, flags: Pick<PsFlags, 'size' | 'trunc'>, now: number): PsEntry {
  const config = parseConfig(row);
  const command = commandLine(config);
  const size = flags.size
    ? `${humanSize(treeSize(join(bundleDir(context, row.id), 'diff')))} (virtual ${humanSize(findImage(context.db(), context.paths, row.imageId)?.size ?? 0)})`
    : '';
  return {
    ID: flags.trunc === false ? row.id : row.id.slice(0, 12),
    Image: row.imageRef,
    Command: JSON.stringify(flags.trunc === false ? command : ellipsis(command, 20)),
    CreatedAt: goTime(row.created),
    RunningFor: `${humanDuration(now - Date.parse(row.created))} ago`,
    // Published ports exist while the container runs (they are chosen at each start).
    Ports: formatPorts(row.status === 'running' || row.status === 'paused' ? (config.ports ?? []) : [], exposedPorts(undefined, config.expose ?? [])),
    State: row.status,
    Status: statusText(row, now),
    Size: size,
    Names: row.name,
    Labels: Object.entries(config.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    Mounts: config.volumes.map((v) => v.source).join(','),
  };
}

async function listContainers(context: Context, flags: PsFlags): Promise<PsEntry[]> {
  const filters = parseFilters(context, flags.filter);
  const last = flags.last === undefined ? -1 : parseInteger('--last', flags.last, -1);
  // Docker: -n -1 (the default) means every container.
  const limit = flags.latest ? 1 : last < 0 ? undefined : last;
  const all = flags.all || limit !== undefined || flags.filter.some((f) => f.startsWith('status='));
  const now = Date.now();
  const rows: ContainerRow[] = [];
  for (const stored of containerTable(context).list()) {
    if (isBuildInProgress(stored.name)) continue;
    const row = await refreshContainer(context, stored);
    if (!containerTable(context).get(row.id)) continue;
    if (!all && row.status !== 'running' && row.status !== 'paused') continue;
    if (filters.every((matches) => matches(row))) rows.push(row);
  }
  return rows.slice(0, limit ?? rows.length).map((row) => containerEntry(context, row, flags, now));
}

export function define(command: Command, context: () => Context): void {
  command
    .description('List containers')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('-q, --quiet', 'Only display container IDs')
    .option('-n, --last <int>', 'Show n last created containers (includes all states)')
    .option('-l, --latest', 'Show the latest created container (includes all states)')
    .option('-s, --size', 'Display total file sizes')
    .option('--no-trunc', "Don't truncate output")
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', (v: string, p: string[]) => [...p, v], [])
    .option('--format <format>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
    .action(async (flags: PsFlags) => {
      const entries = await listContainers(context(), flags);
      if (flags.quiet) {
        process.stdout.write(entries.map((e) => `${e.ID}\n`).join(''));
        return;
      }
      const columns = ['ID', 'Image', 'Command', 'RunningFor', 'Status', 'Ports', 'Names', ...(flags.size ? ['Size'] : [])];
      printEntries(entries, flags.format, `table ${columns.map((c) => `{{.${c}}}`).join('\t')}`, HEADERS);
    });
}
