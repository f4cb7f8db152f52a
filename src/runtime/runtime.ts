import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectCgroupDriver } from './cgroups/index.js';
import { launch, type LaunchResult } from './launcher.js';
import type { Spec } from './oci-spec.js';
import { buildPlan } from './plan.js';

/** An OCI bundle: a directory holding config.json and the root filesystem. */
export interface Bundle {
  readonly id: string;
  readonly dir: string;
  readonly spec: Spec;
}

export interface RunOptions {
  readonly stdin: 'inherit' | 'ignore';
  /** Run by the shim when nobody is left to hear the exit report (the CLI was killed). */
  readonly exitCommand?: readonly string[];
  readonly onPid?: (pid: number) => void;
}

export function exitFilePath(bundleDir: string): string {
  return join(bundleDir, 'exit');
}

/** Creates the cgroup and runs the container until its PID 1 exits. */
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
  });
  return launch({ plan, stdin: options.stdin, onPid: options.onPid });
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
