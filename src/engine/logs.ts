import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { WhaleboxError } from '../util/errors.js';
import { logFilePath, readExitFile } from '../runtime/runtime.js';
import type { Context } from './context.js';
import { bundleDir, containerTable } from './containers.js';

/** One chunk of output as the shim logged it (CRI "k8s-file": `<time> <stream> <F|P> <text>`). */
export interface LogEntry {
  /** RFC 3339 with nanoseconds, as written. */
  readonly time: string;
  readonly stream: 'stdout' | 'stderr';
  /** The text, with its newline when the chunk ended a line (tag F). */
  readonly text: string;
}

export function parseLogLine(line: string): LogEntry | undefined {
  const match = /^(\S+) (stdout|stderr) ([FP]) ?(.*)$/s.exec(line);
  if (!match) return undefined;
  return { time: match[1]!, stream: match[2] as LogEntry['stream'], text: match[3] === 'F' ? `${match[4]}\n` : match[4]! };
}

/** Nanoseconds since the epoch of an RFC 3339 timestamp with up to 9 fractional digits. */
export function timeNanos(time: string): bigint {
  const match = /^(.*?)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!match) return BigInt(Date.parse(time)) * 1_000_000n;
  return BigInt(Date.parse(`${match[1]}${match[3]}`)) * 1_000_000n + BigInt((match[2] ?? '').padEnd(9, '0'));
}

/**
 * Docker's --since/--until values: RFC 3339 times, Unix timestamps (with fraction), or a
 * duration before now such as `10m`, `1h30m`, `42s`.
 */
export function parseLogTime(value: string, now = Date.now()): bigint {
  if (/^\d+(\.\d{1,9})?$/.test(value)) {
    const [seconds, fraction = ''] = value.split('.');
    return BigInt(seconds!) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0'));
  }
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(value)) {
    let ms = 0;
    for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(amount) * units[unit!]!;
    return BigInt(Math.round(now - ms)) * 1_000_000n;
  }
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new WhaleboxError(`invalid value for "since"/"until": ${value} (use RFC 3339, a Unix time, or a duration like 10m)`);
  return timeNanos(value);
}

export interface LogOptions {
  readonly follow: boolean;
  /** Whole lines from the end; undefined for all. */
  readonly tail?: number;
  readonly since?: bigint;
  readonly until?: bigint;
  readonly write: (entry: LogEntry) => void;
}

/** Reads whatever complete lines the file has past `offset`; returns them and the new offset. */
function readFrom(file: string, offset: number): { lines: string[]; offset: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return { lines: [], offset };
  }
  try {
    const size = statSync(file).size;
    if (size <= offset) return { lines: [], offset };
    const buffer = Buffer.allocUnsafe(size - offset);
    const read = readSync(fd, buffer, 0, buffer.length, offset);
    const text = buffer.toString('utf8', 0, read);
    const end = text.lastIndexOf('\n') + 1;
    return { lines: text.slice(0, end).split('\n').slice(0, -1), offset: offset + Buffer.byteLength(text.slice(0, end)) };
  } finally {
    closeSync(fd);
  }
}

/** Keeps the entries of the last `count` lines (a line is P chunks ending in an F chunk). */
function tailEntries(entries: LogEntry[], count: number): LogEntry[] {
  let lines = 0;
  for (let i = entries.length - 1; i >= 0; i--) {
    if (entries[i]!.text.endsWith('\n') && lines++ === count) return entries.slice(i + 1);
  }
  return entries;
}

/** Docker's `logs`: the container's output, optionally followed until it exits. */
export async function containerLogs(context: Context, id: string, options: LogOptions): Promise<void> {
  const dir = bundleDir(context, id);
  const file = logFilePath(dir);
  const pass = (entry: LogEntry): boolean => {
    const at = timeNanos(entry.time);
    return (options.since === undefined || at >= options.since) && (options.until === undefined || at <= options.until);
  };
  let { lines, offset } = readFrom(file, 0);
  let entries = lines.map(parseLogLine).filter((e): e is LogEntry => e !== undefined && pass(e));
  if (options.tail !== undefined) entries = tailEntries(entries, options.tail);
  entries.forEach(options.write);
  if (!options.follow) return;
  const running = (): boolean => {
    const row = containerTable(context).get(id);
    return row !== undefined && (row.status === 'running' || row.status === 'paused') && !readExitFile(dir);
  };
  for (;;) {
    // Read the status before the file: output written before the exit is then never missed.
    const stillRunning = running();
    ({ lines, offset } = readFrom(file, offset));
    for (const entry of lines.map(parseLogLine)) if (entry && pass(entry)) options.write(entry);
    if (!stillRunning) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
