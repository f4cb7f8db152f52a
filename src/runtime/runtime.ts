import { readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { detectCgroupDriver, type Cgroup, type CgroupDriver } from './cgroups/index.js';
import { launch, type LaunchOptions, type LaunchResult } from './launcher.js';
import type { LinuxSeccomp, Process, Spec } from './oci-spec.js';
import { buildExecPlan, buildPlan } from './plan.js';

/** An OCI bundle: a directory holding config.json and the root filesystem. */
export interface Bundle {
  readonly id: string;
  readonly dir: string;
  readonly spec: Spec;
}

export interface RunOptions {
  readonly mode: LaunchOptions['mode'];
  readonly stdin?: boolean;
  /** Run by the shim when nobody is left to hear the exit report (detached, or the CLI died). */
  readonly exitCommand?: readonly string[];
  readonly onPid?: LaunchOptions['onPid'];
  readonly output?: LaunchOptions['output'];
  /** The container dies with the caller, and when `signal` aborts (a build's step). */
  readonly signal?: AbortSignal;
  /** Where compiled seccomp filters are kept, shared by the containers of a run root. */
  readonly seccompCache?: string;
}

/** Probing reads the mount table (about 1 ms): once per parent and process is enough. */
const drivers = new Map<string, CgroupDriver>();

/** The container's cgroup, where its spec says (linux.cgroupsPath: `parent/name`). */
function bundleCgroup(bundle: Bundle): { driver: CgroupDriver; name: string } {
  const path = bundle.spec.linux.cgroupsPath ?? `whalebox/${bundle.id}`;
  const parent = posix.dirname(path);
  let driver = drivers.get(parent);
  if (!driver) drivers.set(parent, (driver = detectCgroupDriver(undefined, parent === '.' ? {} : { parent })));
  return { driver, name: posix.basename(path) };
}

/** The container's cgroup handle (freeze, stats, pids). */
export function openBundleCgroup(bundle: Bundle): Cgroup {
  const { driver, name } = bundleCgroup(bundle);
  return driver.open(name);
}

/** The bundle in a directory, if its config.json is there. */
export function readBundle(id: string, dir: string): Bundle | undefined {
  try {
    return { id, dir, spec: JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Spec };
  } catch {
    return undefined;
  }
}

export function exitFilePath(bundleDir: string): string {
  return join(bundleDir, 'exit');
}

/** The container's output of a detached run, CRI "k8s-file" lines. */
export function logFilePath(bundleDir: string): string {
  return join(bundleDir, 'container.log');
}

/** Creates the cgroup and starts the container: until PID 1 exits, or until it started (detach). */
export async function runBundle(bundle: Bundle, options: RunOptions): Promise<LaunchResult> {
  const { driver, name } = bundleCgroup(bundle);
  const cgroup = driver.create(name, bundle.spec.linux.resources);
  const plan = buildPlan({
    spec: bundle.spec,
    bundleDir: bundle.dir,
    cgroupEntry: cgroup.entry,
    cgroupMounts: driver.containerMounts(),
    exitFile: exitFilePath(bundle.dir),
    exitCommand: options.exitCommand,
    logFile: logFilePath(bundle.dir),
    detach: options.mode === 'detach',
    dieWithCaller: options.signal !== undefined,
    seccompCache: options.seccompCache,
  });
  return launch({ plan, mode: options.mode, stdin: options.stdin, onPid: options.onPid, output: options.output, signal: options.signal });
}

/** When the shim recorded the exit (ms since the epoch), if it did. */
export function exitFileTime(bundleDir: string): number | undefined {
  return statSync(exitFilePath(bundleDir), { throwIfNoEntry: false })?.mtimeMs;
}

/** The exit status the shim recorded, if it got that far. */
export function readExitFile(bundleDir: string): { code: number; signal: number } | undefined {
  try {
    const [code, signal] = readFileSync(exitFilePath(bundleDir), 'utf8').trim().split(' ').map(Number);
    return { code: code!, signal: signal! };
  } catch {
    return undefined;
  }
}

/**
 * Releases what the runtime holds for a container: kills what is left in its cgroup and removes
 * it. Idempotent. Tells whether the kernel's OOM killer struck in it.
 */
export async function deleteBundle(bundle: Bundle): Promise<{ oomKilled: boolean }> {
  const cgroup = openBundleCgroup(bundle);
  const oomKilled = cgroup.oomKilled();
  cgroup.kill();
  await cgroup.remove();
  return { oomKilled };
}

/** Runs one more process in a running container whose init is `pid` (`exec`). */
export function execInBundle(
  bundle: Bundle,
  pid: number,
  process: Process,
  options: Pick<RunOptions, 'mode' | 'stdin' | 'seccompCache'> & { readonly seccomp?: LinuxSeccomp },
): Promise<LaunchResult> {
  const { tasks, cloneInto } = openBundleCgroup(bundle).entry;
  // Not clone-into-cgroup: after joining the container's cgroup namespace, a cgroup2 mounted
  // with nsdelegate refuses it; a write to cgroup.procs works everywhere.
  const cgroupFiles = [...tasks, ...(cloneInto ? [join(cloneInto, 'cgroup.procs')] : [])];
  return launch({ plan: buildExecPlan({ pid, process, cgroupFiles, seccomp: options.seccomp, seccompCache: options.seccompCache }), mode: options.mode, stdin: options.stdin });
}
