/**
 * The cgroup layer: one `Cgroup` interface, a v1 and a v2 driver, chosen by probing the host.
 * See docs/DESIGN.md point 6: most hosts are pure cgroup v2; ours are the v1 hybrid layout.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WhaleboxError } from '../../util/errors.js';
import { strerror } from './files.js';
import type { CgroupResources } from './limits.js';
import { CgroupV1Driver, parseCgroupMounts, selectHierarchies } from './v1.js';
import { CgroupV2Driver } from './v2.js';

/** One container's cgroup, in every hierarchy the host has. */
export interface Cgroup {
  readonly version: 1 | 2;
  /** The cgroup's path inside each hierarchy, e.g. `/whalebox/<id>`. */
  readonly path: string;
  /** Its directories (absolute), one per hierarchy. */
  readonly dirs: readonly string[];
  /** Its cgroup.procs files (absolute), one per hierarchy: who is in it. */
  readonly procsFiles: readonly string[];
  /**
   * How a new, single-threaded container init enters it cheaply: it writes "0" to each v1
   * `tasks` file (moving one thread skips the cgroup_threadgroup_rwsem write lock and the RCU
   * grace period it costs, ~10 ms here) and is cloned straight into the cgroup2 directory
   * (clone3 with CLONE_INTO_CGROUP), if the host has one.
   */
  readonly entry: { readonly tasks: readonly string[]; readonly cloneInto?: string };
  /** Whether the kernel's OOM killer killed a process in it (false when it is gone). */
  oomKilled(): boolean;
  /** The processes in it (empty when it is gone). */
  pids(): number[];
  /** Its resource usage now (`docker stats`); counters the host does not provide read as 0. */
  stats(): CgroupStats;
  /** Freezes every process; resolves once the kernel reports the cgroup frozen. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /**
   * SIGKILLs everything in it (v2 and hybrid: cgroup.kill; else each PID until none is left; a
   * frozen v1 cgroup is thawed so its tasks can die). Returns when it is empty or after ~1 s.
   */
  kill(): void;
  /**
   * Removes it in every hierarchy, then the parent directory if that is now empty. Idempotent;
   * kills nothing (kill first). Retries EBUSY for about a second, then throws WhaleboxError.
   */
  remove(): Promise<void>;
}

/** Resource usage of a cgroup, with the numbers `docker stats` shows. */
export interface CgroupStats {
  /** CPU time its processes used, in nanoseconds. */
  readonly cpuNanos: number;
  /**
   * Memory in use, as Docker counts it: the charge minus the inactive file cache, which the
   * kernel reclaims first (v1 usage_in_bytes − total_inactive_file, v2 memory.current − inactive_file).
   */
  readonly memoryUsage: number;
  /** The memory limit in bytes; undefined when unlimited. */
  readonly memoryLimit: number | undefined;
  /** Tasks in it (pids.current). */
  readonly pids: number;
  /** Bytes read from and written to block devices. */
  readonly blockRead: number;
  readonly blockWrite: number;
}

/** A filesystem the container sees under /sys/fs/cgroup, mounted in this order. */
export interface CgroupFsMount {
  readonly fstype: 'tmpfs' | 'cgroup' | 'cgroup2';
  /** Absolute path in the container, e.g. `/sys/fs/cgroup/memory`. */
  readonly target: string;
  /** Mount data: `mode=755` (tmpfs), the hierarchy's controllers (`cpu,cpuacct`, `name=systemd`), or '' (cgroup2). */
  readonly data: string;
}

export interface CgroupDriver {
  readonly version: 1 | 2;
  /**
   * Creates `<parent>/<name>` in every hierarchy and applies the limits. On failure removes
   * what it created and throws WhaleboxError naming the file and the cause.
   */
  create(name: string, resources: CgroupResources | undefined): Cgroup;
  /** An existing cgroup (or one that is already gone), e.g. to clean up after a crash. */
  open(name: string): Cgroup;
  /**
   * What the container should see at /sys/fs/cgroup (to mount after joining the cgroups and
   * unsharing the cgroup namespace, so each hierarchy's root is the container's own cgroup).
   * v2: one cgroup2; v1: a tmpfs, then one mount per hierarchy. A combined hierarchy such as
   * `cpu,cpuacct` is also mounted at `cpu` and `cpuacct`, where a v1 host has symlinks.
   */
  containerMounts(): CgroupFsMount[];
}

export interface DriverOptions {
  /** The directory under each hierarchy's root that holds the containers' cgroups. */
  parent?: string;
  /** Where to read the mount table (tests). */
  mountinfo?: string;
}

export { DEFAULT_PARENT } from './files.js';

/**
 * Probes the host: cgroup v2 if `<mountRoot>/cgroup.controllers` exists, otherwise v1 with the
 * hierarchies (and a hybrid cgroup2, if any) that /proc/self/mountinfo lists.
 */
export function detectCgroupDriver(mountRoot = '/sys/fs/cgroup', options: DriverOptions = {}): CgroupDriver {
  if (existsSync(join(mountRoot, 'cgroup.controllers'))) return new CgroupV2Driver(mountRoot, options);
  const mountinfo = options.mountinfo ?? '/proc/self/mountinfo';
  let text: string;
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch (err) {
    throw new WhaleboxError(`cgroup: reading ${mountinfo}: ${strerror(err)}`);
  }
  const hierarchies = selectHierarchies(parseCgroupMounts(text), mountRoot);
  if (!hierarchies.some((h) => h.version === 1)) {
    throw new WhaleboxError(`cgroup: no cgroup v2 at ${mountRoot} (no cgroup.controllers) and no cgroup v1 hierarchy in ${mountinfo}`);
  }
  return new CgroupV1Driver(hierarchies, { ...options, mountRoot });
}
