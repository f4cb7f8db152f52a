/** Small file helpers for cgroupfs: writes without O_CREAT, errno texts, bounded retries. */
import { type Dirent, closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { errnoCode, WhaleboxError } from '../../util/errors.js';

const STRERROR: Record<string, string> = {
  EACCES: 'Permission denied',
  EAGAIN: 'Resource temporarily unavailable',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  EINVAL: 'Invalid argument',
  EIO: 'Input/output error',
  ENODEV: 'No such device',
  ENOENT: 'No such file or directory',
  ENOMEM: 'Cannot allocate memory',
  ENOSPC: 'No space left on device',
  ENOTDIR: 'Not a directory',
  ENOTEMPTY: 'Directory not empty',
  ENOTSUP: 'Operation not supported',
  EOPNOTSUPP: 'Operation not supported',
  EPERM: 'Operation not permitted',
  ERANGE: 'Numerical result out of range',
  EROFS: 'Read-only file system',
  ESRCH: 'No such process',
};

/** The C library's text for a Node.js system error ("Device or resource busy"). */
export function strerror(err: unknown): string {
  const code = errnoCode(err);
  if (code) return STRERROR[code] ?? code;
  return err instanceof Error ? err.message : String(err);
}

export const DEFAULT_PARENT = 'whalebox';

/** A WhaleboxError that keeps the errno code (`errnoCode()` sees it), so callers can retry races. */
export function cgroupError(message: string, cause: unknown): WhaleboxError {
  const err = new WhaleboxError(`cgroup: ${message}: ${strerror(cause)}`);
  const code = errnoCode(cause);
  return code ? Object.assign(err, { code }) : err;
}

/** Writes `value` with one write(2), without creating the file (cgroupfs files exist or not). */
export function writeRaw(path: string, value: string): void {
  const fd = openSync(path, constants.O_WRONLY);
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

/** writeRaw, failing with "cgroup: writing VALUE to FILE: CAUSE". */
export function writeCgroupFile(path: string, value: string): void {
  try {
    writeRaw(path, value);
  } catch (err) {
    throw cgroupError(`writing ${value} to ${basename(path)}`, err);
  }
}

/** The file's content without the trailing newline. */
export function readCgroupFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').trimEnd();
  } catch (err) {
    throw cgroupError(`reading ${path}`, err);
  }
}

/** The file's content without the trailing newline; undefined when it does not exist. */
export function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trimEnd();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENODEV') return undefined;
    throw cgroupError(`reading ${path}`, err);
  }
}

/** The number in a one-value file such as pids.current; 0 when the file is missing (no such controller). */
export function counter(text: string | undefined): number {
  const value = Number(text ?? 0);
  return Number.isFinite(value) ? value : 0;
}

/**
 * Memory in use as Docker counts it: the charge minus the inactive file cache (the memory.stat
 * key `inactiveKey`), which the kernel reclaims first. The charge alone when the cache looks
 * larger, as the two counters are not read at the same instant.
 */
export function usageWithoutCache(usage: number, memoryStat: string | undefined, inactiveKey: string): number {
  const inactive = keyedValue(memoryStat, inactiveKey);
  return inactive !== undefined && inactive < usage ? usage - inactive : usage;
}

/** mkdir; true when it created the directory, false when it was there already. */
export function makeDir(dir: string): boolean {
  try {
    mkdirSync(dir);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw cgroupError(`creating ${dir}`, err);
  }
}

/** The space-separated words of a file such as cgroup.controllers (none when it is missing). */
export function readWords(path: string): Set<string> {
  return new Set((readOptional(path) ?? '').split(/\s+/).filter((w) => w !== ''));
}

/** The value of `key N` in a flat keyed file (memory.events, memory.oom_control, cgroup.events). */
export function keyedValue(text: string | undefined, key: string): number | undefined {
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.split(' ');
    if (k === key && v !== undefined) return Number(v);
  }
  return undefined;
}

/** PIDs listed in a cgroup.procs file (none when the cgroup is gone). */
export function readPids(procsFile: string): number[] {
  const text = readOptional(procsFile) ?? '';
  return text === '' ? [] : text.split('\n').map(Number);
}

/** PIDs in a cgroup and in the cgroups below it (a v1 cgroup.procs lists only its own). */
export function treePids(dir: string): number[] {
  const pids = readPids(join(dir, 'cgroup.procs'));
  let entries: Dirent[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    // Gone meanwhile.
  }
  for (const e of entries) if (e.isDirectory()) pids.push(...treePids(join(dir, e.name)));
  return pids;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** A cgroup or parent name: one path component, never `.`/`..`, no control characters. */
export function checkName(name: string, what: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || /[\x00-\x1f]/.test(name)) {
    throw new WhaleboxError(`cgroup: invalid ${what} ${JSON.stringify(name)} (one path component, no "/" or "..")`);
  }
}

/** A parent path such as `whalebox` or `a/b`: components checked one by one. */
export function checkParent(parent: string): string[] {
  const parts = parent.split('/').filter((p) => p !== '');
  if (parts.length === 0) throw new WhaleboxError(`cgroup: invalid parent ${JSON.stringify(parent)}`);
  for (const p of parts) checkName(p, 'parent cgroup');
  return parts;
}

/**
 * Sends SIGKILL to every process in the cgroups `dirs` (and below them) until none is left, or
 * until about a second has passed (a task in uninterruptible sleep). `afterFirstRound` runs once
 * the first signals went out (v1: thaw a frozen cgroup, or its tasks cannot die).
 */
export function killUntilEmpty(dirs: readonly string[], afterFirstRound?: () => void): void {
  const deadline = Date.now() + 1000;
  for (let round = 0; ; round++) {
    const pids = new Set(dirs.flatMap(treePids));
    if (pids.size === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ESRCH: it went away on its own.
      }
    }
    if (round === 0) afterFirstRound?.();
    if (Date.now() > deadline) return;
    sleepSync(round < 10 ? 1 : 10);
  }
}

/**
 * rmdir a cgroup and any cgroups the container created below it, deepest first. Missing is
 * fine; EBUSY (tasks still exiting) is retried until `deadline`.
 */
export async function removeDir(dir: string, deadline: number): Promise<void> {
  let children: string[];
  try {
    children = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw cgroupError(`reading ${dir}`, err);
  }
  for (const child of children) await removeDir(join(dir, child), deadline);
  for (;;) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() > deadline) throw cgroupError(`removing ${dir}`, err);
      await sleep(10);
    }
  }
}

/** rmdir if empty; anything else (in use, not empty, gone) is left alone. */
export function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // ENOTEMPTY / EBUSY: another container uses it; ENOENT: already gone.
  }
}
