/**
 * What runs in containers and what it uses: Docker's `stats` (CPU, memory, network and block
 * I/O, PIDs, computed as the Docker daemon and CLI compute them) and `top`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { WhaleboxError } from '../util/errors.js';
import type { Cgroup, CgroupStats } from '../runtime/cgroups/index.js';
import { openBundleCgroup, readBundle } from '../runtime/runtime.js';
import type { ContainerRow } from '../store/containers.js';
import type { Context } from './context.js';
import { bundleDir, containerTable, parseConfig, refreshContainer, resolveContainer } from './containers.js';

/** A container's usage as `docker stats` shows it, in numbers (bytes, percent). */
export interface ContainerStats {
  readonly id: string;
  readonly name: string;
  /** CPU time over the last interval, as a share of one CPU (200 = two CPUs busy). */
  readonly cpuPercent: number;
  readonly memoryUsage: number;
  /** The container's memory limit, or the host's memory when it has none (or a larger one). */
  readonly memoryLimit: number;
  readonly memoryPercent: number;
  readonly netRx: number;
  readonly netTx: number;
  readonly blockRead: number;
  readonly blockWrite: number;
  readonly pids: number;
}

/**
 * The containers a `stats` call follows: those named (ID → the reference as given, which
 * Docker shows as the Container field), or every running one (every one with `all`).
 */
export type StatsSelection = { readonly named: ReadonlyMap<string, string> } | { readonly all: boolean };

const isRunning = (row: ContainerRow): boolean => row.status === 'running' || row.status === 'paused';

/**
 * Resolves the containers named on the command line once, as Docker does: every name that
 * matches nothing is reported together (status 1); a container named twice is shown once.
 */
export function selectContainers(context: Context, references: readonly string[], all: boolean): StatsSelection {
  if (references.length === 0) return { all };
  const named = new Map<string, string>();
  const errors: string[] = [];
  for (const reference of references) {
    try {
      const { id } = resolveContainer(context, reference);
      if (!named.has(id)) named.set(id, reference);
    } catch (err) {
      if (!(err instanceof WhaleboxError)) throw err;
      errors.push(err.message);
    }
  }
  if (errors.length > 0) throw new WhaleboxError(errors.join('\n'), 1);
  return { named };
}

/**
 * The selected containers as they are now (their state brought up to date with the host).
 * Named ones stay while they exist, even stopped (they read as zeros); without names, only
 * running ones unless `all`, so containers that stop drop out and new ones join.
 */
export async function selectedContainers(context: Context, selection: StatsSelection): Promise<ContainerRow[]> {
  const table = containerTable(context);
  const rows = 'named' in selection ? [...selection.named.keys()].map((id) => table.get(id)) : table.list();
  const current: ContainerRow[] = [];
  for (const row of rows) {
    if (!row) continue;
    const fresh = await refreshContainer(context, row);
    if (!table.get(fresh.id)) continue; // --rm removed it meanwhile
    if ('named' in selection || selection.all || isRunning(fresh)) current.push(fresh);
  }
  return current;
}

/** One reading of a running container's counters. */
interface Reading {
  readonly cgroup: CgroupStats;
  readonly netRx: number;
  readonly netTx: number;
}

/** The host's CPU time and online CPUs, as the Docker daemon reads them from /proc/stat. */
interface HostCpu {
  readonly nanos: number;
  readonly onlineCpus: number;
}

/** USER_HZ: the unit of /proc/stat, 100 on every Linux architecture Node.js runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * The `cpu` line of /proc/stat: user, nice, system, idle, iowait, irq and softirq summed (the
 * seven fields Docker adds; steal and guest are left out), in nanoseconds; and the `cpuN`
 * lines counted, which are the online CPUs.
 */
export function parseProcStat(text: string): HostCpu {
  let nanos = 0;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    const fields = line.split(/\s+/);
    if (fields[0] === 'cpu') {
      const ticks = fields.slice(1, 8).reduce((sum, field) => sum + Number(field), 0);
      nanos = (ticks * 1e9) / CLOCK_TICKS_PER_SECOND;
    } else if (/^cpu\d+$/.test(fields[0]!)) {
      onlineCpus++;
    }
  }
  return { nanos, onlineCpus };
}

/**
 * Received and transmitted bytes summed over the interfaces of a /proc/PID/net/dev text,
 * except the loopback: Docker counts the container's network interfaces, and lo is not one.
 */
export function parseNetDev(text: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim() === 'lo') continue;
    const fields = line.slice(colon + 1).trim().split(/\s+/);
    if (fields.length < 9) continue;
    rx += Number(fields[0]);
    tx += Number(fields[8]);
  }
  return { rx, tx };
}

/** MemTotal of /proc/meminfo, in bytes. */
export function parseMemTotal(text: string): number {
  const match = /^MemTotal:\s+(\d+) kB$/m.exec(text);
  return match ? Number(match[1]) * 1024 : 0;
}

function readProc(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // the process ended meanwhile
  }
}

/**
 * Reads the counters of containers, and turns two readings of one container into
 * `docker stats` numbers. Keeps each container's cgroup handle and its previous reading.
 */
export class StatsCollector {
  private readonly cgroups = new Map<string, Cgroup>();
  private readonly previous = new Map<string, { reading: Reading; host: HostCpu }>();
  private readonly hostMemory = parseMemTotal(readProc('/proc/meminfo'));

  constructor(private readonly context: Context) {}

  /**
   * Each container's usage now. CPU % is over the time since the previous call, and 0 for a
   * container seen for the first time; a container that is not running reads as zeros.
   */
  collect(rows: readonly ContainerRow[]): ContainerStats[] {
    const host = parseProcStat(readProc('/proc/stat'));
    return rows.map((row) => {
      const reading = isRunning(row) ? this.read(row) : undefined;
      if (!reading) {
        this.previous.delete(row.id);
        return { id: row.id, name: row.name, cpuPercent: 0, memoryUsage: 0, memoryLimit: 0, memoryPercent: 0, netRx: 0, netTx: 0, blockRead: 0, blockWrite: 0, pids: 0 };
      }
      const before = this.previous.get(row.id);
      this.previous.set(row.id, { reading, host });
      const { cgroup } = reading;
      const cpuDelta = before ? cgroup.cpuNanos - before.reading.cgroup.cpuNanos : 0;
      const systemDelta = before ? host.nanos - before.host.nanos : 0;
      const memoryLimit = Math.min(cgroup.memoryLimit ?? Infinity, this.hostMemory);
      return {
        id: row.id,
        name: row.name,
        cpuPercent: cpuDelta > 0 && systemDelta > 0 ? (cpuDelta / systemDelta) * host.onlineCpus * 100 : 0,
        memoryUsage: cgroup.memoryUsage,
        memoryLimit,
        memoryPercent: memoryLimit > 0 ? (cgroup.memoryUsage / memoryLimit) * 100 : 0,
        netRx: reading.netRx,
        netTx: reading.netTx,
        blockRead: cgroup.blockRead,
        blockWrite: cgroup.blockWrite,
        pids: cgroup.pids,
      };
    });
  }

  private read(row: ContainerRow): Reading | undefined {
    let cgroup = this.cgroups.get(row.id);
    if (!cgroup) {
      const bundle = readBundle(row.id, bundleDir(this.context, row.id));
      if (!bundle) return undefined;
      cgroup = openBundleCgroup(bundle);
      this.cgroups.set(row.id, cgroup);
    }
    // A host-network container has no interfaces of its own: Docker shows no traffic for it.
    const net = row.pid === null || parseConfig(row).network === 'host' ? { rx: 0, tx: 0 } : parseNetDev(readProc(`/proc/${row.pid}/net/dev`));
    return { cgroup: cgroup.stats(), netRx: net.rx, netTx: net.tx };
  }
}

/** A container's processes as `ps` lists them: its header fields, and one row per process. */
export interface ProcessList {
  readonly titles: string[];
  readonly processes: string[][];
}

/** Go's strings.Fields with ASCII white space only, as the Docker daemon splits ps output. */
const fields = (line: string): string[] => line.split(/[\t\n\v\f\r ]+/).filter((f) => f !== '');

/**
 * Keeps the header of a `ps` output and the rows of the processes in `pids`, found through the
 * PID column; the last column (the command) keeps its spaces. A thread row (`ps -m`, PID "-")
 * stays with the process above it.
 */
export function parsePsOutput(output: string, pids: readonly number[]): ProcessList {
  const [header = '', ...lines] = output.split('\n');
  const titles = fields(header);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new WhaleboxError("Couldn't find PID field in ps output", 1);
  const wanted = new Set(pids);
  const processes: string[][] = [];
  let keep = false;
  for (const line of lines) {
    if (line === '') continue;
    const row = fields(line);
    const pid = row[pidIndex];
    if (pid !== '-') {
      if (pid === undefined || !/^\d+$/.test(pid)) throw new WhaleboxError(`Unexpected pid '${pid ?? ''}' in ps output`, 1);
      keep = wanted.has(Number(pid));
    }
    if (keep) processes.push([...row.slice(0, titles.length - 1), row.slice(titles.length - 1).join(' ')]);
  }
  return { titles, processes };
}

/**
 * Docker's top: the host's `ps` with the given options (default `-ef`), narrowed to the
 * processes in the container's cgroup. A running or paused container only.
 */
export async function containerTop(context: Context, reference: string, psArgs: readonly string[]): Promise<ProcessList> {
  const args = psArgs.length > 0 ? [...psArgs] : ['-ef'];
  // Renaming another column to PID (`-o user=PID`) would make the wrong column look like the PIDs.
  for (const [, key, value] of ` ${args.join(' ')}`.matchAll(/\s+([^\s]*)=\s*(PID[^\s]*)/g)) {
    if (key !== 'pid') throw new WhaleboxError(`specifying "${key}=${value}" is not allowed`, 1);
  }
  const row = await refreshContainer(context, resolveContainer(context, reference));
  const bundle = isRunning(row) ? readBundle(row.id, bundleDir(context, row.id)) : undefined;
  if (!bundle) throw new WhaleboxError(`container ${row.id} is not running`, 1);
  const pids = openBundleCgroup(bundle).pids();
  // `-q PIDS` makes ps read only those processes; some options (such as f) refuse it, so
  // like Docker retry with the options alone and filter the whole list.
  let ps = spawnSync('ps', pids.length > 0 ? [...args, '-q', pids.join(',')] : args, { encoding: 'utf8' });
  if (ps.status !== 0) ps = spawnSync('ps', args, { encoding: 'utf8' });
  if (ps.error) throw new WhaleboxError(`ps: ${ps.error.message}`, 1);
  if (ps.status !== 0) throw new WhaleboxError(`ps: ${ps.stderr.split('\n')[0] || `exit status ${ps.status}`}`, 1);
  return parsePsOutput(ps.stdout, pids);
}
