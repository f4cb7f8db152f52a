/** The cgroup v2 driver: one directory in the unified hierarchy. */
import { rmdirSync } from 'node:fs';
import { join } from 'node:path';
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
  readCgroupFile,
  readOptional,
  readPids,
  readWords,
  removeDir,
  removeIfEmpty,
  sleep,
  treePids,
  usageWithoutCache,
  writeCgroupFile,
  writeRaw,
} from './files.js';
import { type CgroupResources, controllerOf, controllerPurpose, limitWrites } from './limits.js';

/** Enabled for every container when the parent offers them, so usage can be read (stats). */
const ACCOUNTING = ['cpu', 'io', 'memory', 'pids'];

export class CgroupV2Driver implements CgroupDriver {
  readonly version = 2 as const;
  private readonly parent: readonly string[];

  constructor(
    readonly mountRoot: string,
    options: DriverOptions = {},
  ) {
    this.parent = checkParent(options.parent ?? DEFAULT_PARENT);
  }

  open(name: string): CgroupV2 {
    checkName(name, 'cgroup name');
    return new CgroupV2(this.mountRoot, this.parent, name);
  }

  create(name: string, resources: CgroupResources | undefined): CgroupV2 {
    const writes = limitWrites(2, resources);
    const required = new Set(writes.map((w) => controllerOf(2, w.file)));
    const cgroup = this.open(name);
    let created = false;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          let level = this.mountRoot;
          enableControllers(level, required);
          for (const part of this.parent) {
            level = join(level, part);
            makeDir(level);
            enableControllers(level, required);
          }
          if (makeDir(cgroup.dir)) created = true;
          else if (readPids(join(cgroup.dir, 'cgroup.procs')).length > 0) {
            throw new WhaleboxError(`cgroup: ${cgroup.dir} already exists and holds processes`);
          }
          break;
        } catch (err) {
          // A concurrent remove() took the empty parent away: build it again.
          if (errnoCode(err) !== 'ENOENT' || attempt >= 5) throw err;
        }
      }
      for (const w of writes) {
        try {
          writeCgroupFile(join(cgroup.dir, w.file), w.value);
        } catch (err) {
          if (!(w.optional && errnoCode(err) === 'ENOENT')) throw err;
        }
      }
    } catch (err) {
      if (created) {
        try {
          rmdirSync(cgroup.dir);
        } catch {
          // Best effort: the error that brought us here is the one to report.
        }
      }
      removeIfEmpty(join(this.mountRoot, ...this.parent));
      throw err;
    }
    return cgroup;
  }

  containerMounts(): CgroupFsMount[] {
    return [{ fstype: 'cgroup2', target: '/sys/fs/cgroup', data: '' }];
  }
}

/**
 * Makes the controllers the limits need (and the accounting ones, when offered) available to
 * the children of `dir` through its cgroup.subtree_control.
 */
function enableControllers(dir: string, required: ReadonlySet<string>): void {
  const available = new Set(readCgroupFile(join(dir, 'cgroup.controllers')).split(' ').filter((c) => c !== ''));
  for (const c of required) {
    if (!available.has(c)) {
      const offered = [...available].join(' ') || 'none';
      throw new WhaleboxError(`cgroup: ${controllerPurpose(c)} needs the ${c} controller, which ${dir} does not offer (cgroup.controllers: ${offered})`);
    }
  }
  const file = join(dir, 'cgroup.subtree_control');
  const enabled = readWords(file);
  const missing = [...required].filter((c) => !enabled.has(c));
  if (missing.length > 0) writeCgroupFile(file, missing.map((c) => `+${c}`).join(' '));
  for (const c of ACCOUNTING) {
    if (!available.has(c) || enabled.has(c) || required.has(c)) continue;
    try {
      writeRaw(file, `+${c}`);
    } catch {
      // Only accounting: a container without it still runs.
    }
  }
}

/** rbytes and wbytes summed over the devices of an io.stat text (`8:0 rbytes=N wbytes=N rios=N …`). */
function ioStatBytes(text: string | undefined): { blockRead: number; blockWrite: number } {
  let blockRead = 0;
  let blockWrite = 0;
  for (const field of (text ?? '').split(/\s+/)) {
    const [key, value] = field.split('=');
    if (key === 'rbytes') blockRead += Number(value);
    if (key === 'wbytes') blockWrite += Number(value);
  }
  return { blockRead, blockWrite };
}

/** Writes cgroup.freeze and waits until cgroup.events reports the state (5 s at most). */
export async function setFrozenV2(dir: string, frozen: boolean): Promise<void> {
  const want = frozen ? 1 : 0;
  writeCgroupFile(join(dir, 'cgroup.freeze'), String(want));
  const deadline = Date.now() + 5000;
  for (let i = 0; ; i++) {
    const state = keyedValue(readOptional(join(dir, 'cgroup.events')), 'frozen');
    if (state === want) return;
    if (state === undefined) throw new WhaleboxError(`cgroup: ${dir} no longer exists`);
    if (Date.now() > deadline) {
      if (frozen) {
        try {
          writeRaw(join(dir, 'cgroup.freeze'), '0');
        } catch {
          // The error below says what matters.
        }
      }
      throw new WhaleboxError(`cgroup: ${frozen ? 'freezing' : 'thawing'} ${dir} timed out (cgroup.events says frozen ${state})`);
    }
    await sleep(i < 10 ? 1 : 10);
  }
}

export class CgroupV2 implements Cgroup {
  readonly version = 2 as const;
  readonly path: string;
  readonly dir: string;
  readonly dirs: readonly string[];
  readonly procsFiles: readonly string[];
  readonly entry: Cgroup['entry'];

  constructor(
    private readonly mountRoot: string,
    private readonly parent: readonly string[],
    name: string,
  ) {
    this.path = `/${[...parent, name].join('/')}`;
    this.dir = join(mountRoot, this.path);
    this.dirs = [this.dir];
    this.procsFiles = [join(this.dir, 'cgroup.procs')];
    this.entry = { tasks: [], cloneInto: this.dir };
  }

  oomKilled(): boolean {
    return (keyedValue(readOptional(join(this.dir, 'memory.events')), 'oom_kill') ?? 0) > 0;
  }

  pids(): number[] {
    return [...new Set(treePids(this.dir))].sort((a, b) => a - b);
  }

  stats(): CgroupStats {
    const read = (file: string): string | undefined => readOptional(join(this.dir, file));
    const max = read('memory.max');
    return {
      cpuNanos: (keyedValue(read('cpu.stat'), 'usage_usec') ?? 0) * 1000,
      memoryUsage: usageWithoutCache(counter(read('memory.current')), read('memory.stat'), 'inactive_file'),
      memoryLimit: max === undefined || max === 'max' ? undefined : Number(max),
      pids: counter(read('pids.current')),
      ...ioStatBytes(read('io.stat')),
    };
  }

  freeze(): Promise<void> {
    return setFrozenV2(this.dir, true);
  }

  thaw(): Promise<void> {
    return setFrozenV2(this.dir, false);
  }

  kill(): void {
    try {
      writeRaw(join(this.dir, 'cgroup.kill'), '1'); // atomic, forks and descendants included (Linux 5.14+)
    } catch {
      // Gone, or an older kernel: the loop below does it.
    }
    killUntilEmpty(this.dirs);
  }

  async remove(): Promise<void> {
    await removeDir(this.dir, Date.now() + 1000).finally(() => removeIfEmpty(join(this.mountRoot, ...this.parent)));
  }
}
