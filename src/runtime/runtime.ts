import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectCgroupDriver } from './cgroups/index.js';
import { launch, type LaunchOptions, type LaunchResult } from './launcher.js';
import type { Spec } from './oci-spec.js';
import { buildPlan } from './plan.js';

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
  const driver = detectCgroupDriver();
  const cgroup = driver.create(bundle.id, bundle.spec.linux.resources);
  const plan = buildPlan({
    spec: bundle.spec,
    bundleDir: bundle.dir,
    cgroupEntry: cgroup.entry,
    cgroupMounts: driver.containerMounts(),
    exitFile: exitFilePath(bundle.dir),
    exitCommand: options.exitCommand,
    logFile: options.mode === 'detach' ? logFilePath(bundle.dir) : undefined,
  });
  return launch({ plan, mode: options.mode, stdin: options.stdin, onPid: options.onPid });
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
export async function deleteBundle(id: string): Promise<{ oomKilled: boolean }> {
  const cgroup = detectCgroupDriver().open(id);
  const oomKilled = cgroup.oomKilled();
  cgroup.kill();
  await cgroup.remove();
  return { oomKilled };
}
