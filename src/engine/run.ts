import type { LaunchResult } from '../runtime/launcher.js';
import { runBundle } from '../runtime/runtime.js';
import type { Context } from './context.js';
import type { ContainerConfig } from './container-config.js';
import { cleanupContainer, createContainer, markRunning, newRunToken, removeContainer } from './containers.js';
import { exitCommand, startDetached } from './lifecycle.js';
import { networkBeforeStart } from './networking.js';
import { startFailure } from './start-failure.js';

export interface RunOptions {
  /** Receives the shim's step timeline (--trace). */
  readonly trace?: (line: string) => void;
}

function printTrace(result: LaunchResult, trace: (line: string) => void): void {
  for (const step of result.steps) {
    const ms = (step.micros / 1000).toFixed(3).padStart(8);
    trace(`${ms} ms  ${step.errno ? 'FAILED ' : ''}${step.record.op.padEnd(12)} ${step.record.describe}`);
  }
  trace(`${result.wallMs.toFixed(3).padStart(8)} ms  total (shim spawn to ${result.status === undefined ? 'start' : 'exit'})`);
}

/** `run -d`: starts the container under its shim and returns its ID once the command runs. */
export async function runDetached(context: Context, config: ContainerConfig): Promise<string> {
  const { record } = createContainer(context, config);
  try {
    await startDetached(context, record.id);
  } catch (err) {
    removeContainer(context, record.id);
    throw err;
  }
  return record.id;
}

/** `run` without -d: the container's stdio is the CLI's; returns the container's status. */
export async function runForeground(context: Context, config: ContainerConfig, options: RunOptions): Promise<number> {
  const { record, bundle } = createContainer(context, config);
  // This CLI owns the run's end (the exit command runs only if the CLI dies first).
  const token = newRunToken();
  let result: LaunchResult;
  try {
    const ready = await networkBeforeStart(context, record.name, record.config, bundle);
    result = await runBundle(ready, {
      mode: 'foreground',
      stdin: config.interactive,
      exitCommand: exitCommand(context, record.id, token),
      onPid: (pid, shimPid) => markRunning(context, record.id, { pid, shimPid, token }),
      seccompCache: context.paths.seccompCache,
    });
  } catch (err) {
    await cleanupContainer(context, record.id, { error: String(err) });
    removeContainer(context, record.id);
    throw err;
  }
  if (options.trace) printTrace(result, options.trace);
  if (!result.started) {
    const failure = startFailure(result);
    // A container that never ran its command leaves nothing behind.
    await cleanupContainer(context, record.id, { error: failure.message });
    removeContainer(context, record.id);
    throw failure;
  }
  const outcome = await cleanupContainer(context, record.id, { run: token });
  const status = outcome.exitCode ?? result.status ?? 125;
  if (outcome.oomKilled && status === 137) {
    process.stderr.write(`whalebox: container ${record.id.slice(0, 12)} was killed: out of memory (memory limit reached)\n`);
  }
  return status;
}
