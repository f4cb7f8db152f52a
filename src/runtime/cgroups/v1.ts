/**
 * The cgroup v1 driver: one directory per hierarchy (cpu, memory, ..., name=systemd), plus the
 * cgroup2 of a hybrid host (/sys/fs/cgroup/unified), which tracks processes and offers
 * cgroup.kill. Hierarchies come from /proc/self/mountinfo, not from assumed names.
 */
import { rmdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { errnoCode, WhaleboxError } from '../../util/errors.js';
import type { Cgroup, CgroupDriver, CgroupFsMount, CgroupStats, DriverOptions } from './cgroup.js';
import {
  checkName,
  checkParent,
  counter,
  DEFAULT_PARENT,
  keyedValue,
  killUntilEmpty,
  makeDir,
  readOptional,
  readPids,
  removeDir,
  removeIfEmpty,
  sleep,
  treePids,
  usageWithoutCache,
  writeCgroupFile,
  writeRaw,
} from './files.js';
import { type CgroupResources, type CgroupWrite, controllerOf, controllerPurpose, limitWrites } from './limits.js';
import { setFrozenV2 } from './v2.js';

/** A mounted cgroup hierarchy. */
export interface CgroupHierarchy {
  readonly version: 1 | 2;
  /** Absolute mount point, e.g. `/sys/fs/cgroup/memory`. */
  readonly mountPoint: string;
  /** v1: its controllers and `name=` as mounted (`['cpu', 'cpuacct']`, `['name=systemd']`); v2: []. */
  readonly controllers: readonly string[];
}

/** Super options of a v1 cgroup mount that are not controllers. */
const NOT_CONTROLLERS = new Set(['rw', 'ro', 'clone_children', 'noprefix', 'xattr', 'cpuset_v2_mode', 'favordynmods', 'nofavordynmods', 'none', 'all']);

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The cgroup and cgroup2 mounts in a /proc/PID/mountinfo text, in order; a later mount on the same point hides an earlier one. */
export function parseCgroupMounts(mountinfo: string): CgroupHierarchy[] {
  const byPoint = new Map<string, CgroupHierarchy>();
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const [fstype, , superOptions = ''] = line.slice(sep + 3).split(' ');
    const mountPoint = pre[4];
    if (mountPoint === undefined) continue;
    const point = unescapeMountPath(mountPoint);
    byPoint.delete(point);
    if (fstype === 'cgroup2') byPoint.set(point, { version: 2, mountPoint: point, controllers: [] });
    if (fstype === 'cgroup') {
      const controllers = superOptions.split(',').filter((o) => o !== '' && !NOT_CONTROLLERS.has(o) && !o.startsWith('release_agent='));
      byPoint.set(point, { version: 1, mountPoint: point, controllers });
    }
  }
  return [...byPoint.values()];
}

/** One mount per hierarchy, preferring mount points under `mountRoot` when one is mounted twice. */
export function selectHierarchies(all: readonly CgroupHierarchy[], mountRoot: string): CgroupHierarchy[] {
  const under = (h: CgroupHierarchy): boolean => h.mountPoint.startsWith(`${mountRoot.replace(/\/$/, '')}/`);
  const chosen = new Map<string, CgroupHierarchy>();
  for (const h of all) {
    const key = h.version === 2 ? 'cgroup2' : [...h.controllers].sort().join(',');
    const seen = chosen.get(key);
    if (!seen || (!under(seen) && under(h))) chosen.set(key, h);
  }
  return all.filter((h) => [...chosen.values()].includes(h));
}

const CPUSET_FILES = ['cpuset.cpus', 'cpuset.mems'];

/**
 * memory.limit_in_bytes of an unlimited v1 cgroup is PAGE_COUNTER_MAX pages in bytes
 * (9223372036854771712 with 4 KiB pages, other values with larger pages): anything this big.
 */
const V1_UNLIMITED = 2 ** 62;

/** Read and Write bytes summed over the devices of a blkio.throttle.io_service_bytes(_recursive) text. */
function blkioBytes(text: string | undefined): { blockRead: number; blockWrite: number } {
  let blockRead = 0;
  let blockWrite = 0;
  for (const line of (text ?? '').split('\n')) {
    const [, op, value] = line.split(' ');
    if (op === 'Read') blockRead += Number(value);
    if (op === 'Write') blockWrite += Number(value);
  }
  return { blockRead, blockWrite };
}

export class CgroupV1Driver implements CgroupDriver {
  readonly version = 1 as const;
  private readonly parent: readonly string[];
  private readonly mountRoot: string;

  constructor(
    readonly hierarchies: readonly CgroupHierarchy[],
    options: DriverOptions & { mountRoot?: string } = {},
  ) {
    this.parent = checkParent(options.parent ?? DEFAULT_PARENT);
    this.mountRoot = options.mountRoot ?? '/sys/fs/cgroup';
  }

  open(name: string): CgroupV1 {
    checkName(name, 'cgroup name');
    return new CgroupV1(this.hierarchies, this.parent, name);
  }

  create(name: string, resources: CgroupResources | undefined): CgroupV1 {
    const writes = limitWrites(1, resources);
    for (const controller of new Set(writes.map((w) => controllerOf(1, w.file)))) {
      if (!this.hierarchies.some((h) => h.controllers.includes(controller))) {
        throw new WhaleboxError(`cgroup: ${controllerPurpose(controller)} was requested, but this host has no cgroup v1 ${controller} hierarchy mounted`);
      }
    }
    const cgroup = this.open(name);
    const created: string[] = [];
    try {
      for (const h of this.hierarchies) this.prepare(h, cgroup, writes, created);
      for (const w of writes) {
        const controller = controllerOf(1, w.file);
        const path = join(cgroup.dirOf(controller)!, w.file.slice(controller.length + 1));
        try {
          writeCgroupFile(path, w.value);
        } catch (err) {
          if (!(w.optional && errnoCode(err) === 'ENOENT')) throw err;
        }
      }
    } catch (err) {
      for (const dir of created.reverse()) {
        try {
          rmdirSync(dir);
        } catch {
          // Best effort: the error that brought us here is the one to report.
        }
      }
      for (const h of this.hierarchies) removeIfEmpty(join(h.mountPoint, ...this.parent));
      throw err;
    }
    return cgroup;
  }

  /**
   * Creates the parent directories and the cgroup in one hierarchy. A cpuset cgroup gets
   * cpuset.cpus and cpuset.mems from its parent (empty ones make joining fail with ENOSPC).
   * Retries when a concurrent remove() took the empty parent away meanwhile (ENOENT).
   */
  private prepare(h: CgroupHierarchy, cgroup: CgroupV1, writes: readonly CgroupWrite[], created: string[]): void {
    const cpuset = h.version === 1 && h.controllers.includes('cpuset');
    const dir = join(h.mountPoint, cgroup.path);
    for (let attempt = 1; ; attempt++) {
      try {
        let above = h.mountPoint;
        for (const part of this.parent) {
          const level = join(above, part);
          makeDir(level);
          if (cpuset) fillCpuset(level, above, []);
          above = level;
        }
        if (makeDir(dir)) created.push(dir);
        else if (readPids(join(dir, 'cgroup.procs')).length > 0) {
          throw new WhaleboxError(`cgroup: ${dir} already exists and holds processes`);
        }
        if (cpuset) fillCpuset(dir, above, writes.filter((w) => w.file.startsWith('cpuset/')).map((w) => w.file.slice('cpuset/'.length)));
        return;
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT' || attempt >= 5) throw err;
      }
    }
  }

  containerMounts(): CgroupFsMount[] {
    const mounts: CgroupFsMount[] = [{ fstype: 'tmpfs', target: '/sys/fs/cgroup', data: 'mode=755' }];
    const entries: [string, CgroupHierarchy][] = [];
    for (const h of this.hierarchies) {
      const rel = relative(this.mountRoot, h.mountPoint);
      if (rel !== '' && !rel.startsWith('..') && !rel.includes('/')) entries.push([rel, h]);
    }
    const taken = new Set(entries.map(([rel]) => rel));
    const mount = (rel: string, h: CgroupHierarchy): void => {
      mounts.push(h.version === 1
        ? { fstype: 'cgroup', target: `/sys/fs/cgroup/${rel}`, data: h.controllers.join(',') }
        : { fstype: 'cgroup2', target: `/sys/fs/cgroup/${rel}`, data: '' });
    };
    for (const [rel, h] of entries) mount(rel, h);
    // `cpu,cpuacct` is reached as `cpu` and `cpuacct` too (symlinks on the host; mounts here).
    for (const [rel, h] of entries) {
      if (!rel.includes(',')) continue;
      for (const alias of rel.split(',')) {
        if (taken.has(alias) || alias === '') continue;
        taken.add(alias);
        mount(alias, h);
      }
    }
    return mounts;
  }
}

/** Fills empty cpuset files of `dir` from `parentDir`, except those listed in `skip`. */
function fillCpuset(dir: string, parentDir: string, skip: readonly string[]): void {
  for (const file of CPUSET_FILES) {
    if (skip.includes(file)) continue;
    const current = readOptional(join(dir, file));
    if (current !== '') continue; // set already, or a kernel without the file
    writeCgroupFile(join(dir, file), readOptional(join(parentDir, file)) ?? '');
  }
}

export class CgroupV1 implements Cgroup {
  readonly version = 1 as const;
  readonly path: string;
  readonly dirs: readonly string[];
  readonly procsFiles: readonly string[];
  readonly entry: Cgroup['entry'];

  constructor(
    private readonly hierarchies: readonly CgroupHierarchy[],
    private readonly parent: readonly string[],
    name: string,
  ) {
    this.path = `/${[...parent, name].join('/')}`;
    this.dirs = hierarchies.map((h) => join(h.mountPoint, this.path));
    this.procsFiles = this.dirs.map((d) => join(d, 'cgroup.procs'));
    this.entry = {
      tasks: this.dirs.filter((_, i) => hierarchies[i]!.version === 1).map((d) => join(d, 'tasks')),
      cloneInto: this.dirs.find((_, i) => hierarchies[i]!.version === 2),
    };
  }

  /** The directory in the hierarchy holding `controller`. */
  dirOf(controller: string): string | undefined {
    const i = this.hierarchies.findIndex((h) => h.version === 1 && h.controllers.includes(controller));
    return i < 0 ? undefined : this.dirs[i];
  }

  /** The directory in the hybrid cgroup2 hierarchy, if the host has one. */
  private unifiedDir(): string | undefined {
    const i = this.hierarchies.findIndex((h) => h.version === 2);
    return i < 0 ? undefined : this.dirs[i];
  }

  oomKilled(): boolean {
    const memory = this.dirOf('memory');
    return memory !== undefined && (keyedValue(readOptional(join(memory, 'memory.oom_control')), 'oom_kill') ?? 0) > 0;
  }

  pids(): number[] {
    return [...new Set(this.dirs.flatMap(treePids))].sort((a, b) => a - b);
  }

  stats(): CgroupStats {
    const read = (controller: string, file: string): string | undefined => {
      const dir = this.dirOf(controller);
      return dir === undefined ? undefined : readOptional(join(dir, file));
    };
    const limit = Number(read('memory', 'memory.limit_in_bytes') ?? V1_UNLIMITED);
    return {
      cpuNanos: counter(read('cpuacct', 'cpuacct.usage')),
      memoryUsage: usageWithoutCache(counter(read('memory', 'memory.usage_in_bytes')), read('memory', 'memory.stat'), 'total_inactive_file'),
      memoryLimit: limit >= V1_UNLIMITED ? undefined : limit,
      pids: counter(read('pids', 'pids.current')),
      ...blkioBytes(read('blkio', 'blkio.throttle.io_service_bytes_recursive')),
    };
  }

  freeze(): Promise<void> {
    return this.setFrozen(true);
  }

  thaw(): Promise<void> {
    return this.setFrozen(false);
  }

  private async setFrozen(frozen: boolean): Promise<void> {
    const freezer = this.dirOf('freezer');
    if (freezer) return setFreezerState(freezer, frozen ? 'FROZEN' : 'THAWED');
    const unified = this.unifiedDir();
    if (unified) return setFrozenV2(unified, frozen);
    throw new WhaleboxError('cgroup: cannot freeze: this host has no cgroup v1 freezer hierarchy mounted');
  }

  kill(): void {
    const unified = this.unifiedDir();
    if (unified) {
      try {
        writeRaw(join(unified, 'cgroup.kill'), '1'); // atomic, forks included (Linux 5.14+)
      } catch {
        // Gone, or an older kernel: the loop below does it.
      }
    }
    const freezer = this.dirOf('freezer');
    killUntilEmpty(this.dirs, () => {
      if (!freezer) return;
      try {
        if (readOptional(join(freezer, 'freezer.state')) !== 'THAWED') writeRaw(join(freezer, 'freezer.state'), 'THAWED');
      } catch {
        // Gone meanwhile.
      }
    });
  }

  async remove(): Promise<void> {
    const deadline = Date.now() + 1000;
    let failure: unknown;
    for (const dir of this.dirs) {
      try {
        await removeDir(dir, deadline);
      } catch (err) {
        failure ??= err;
      }
    }
    for (const h of this.hierarchies) removeIfEmpty(join(h.mountPoint, ...this.parent));
    if (failure) throw failure;
  }
}

/**
 * Writes freezer.state and waits until the kernel reports it. A v1 freeze can stall in
 * FREEZING, so the request is repeated; after 5 s a freeze is undone and reported.
 */
async function setFreezerState(dir: string, target: 'FROZEN' | 'THAWED'): Promise<void> {
  const file = join(dir, 'freezer.state');
  const deadline = Date.now() + 5000;
  for (let i = 0; ; i++) {
    if (i % 20 === 0) writeCgroupFile(file, target);
    const state = readOptional(file);
    if (state === target) return;
    if (state === undefined) throw new WhaleboxError(`cgroup: ${dir} no longer exists`);
    if (Date.now() > deadline) {
      if (target === 'FROZEN') {
        try {
          writeRaw(file, 'THAWED');
        } catch {
          // The error below says what matters.
        }
      }
      throw new WhaleboxError(`cgroup: ${target === 'FROZEN' ? 'freezing' : 'thawing'} ${dir} timed out (freezer.state is ${state})`);
    }
    await sleep(i < 10 ? 1 : 10);
  }
}
