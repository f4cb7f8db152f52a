import { WhaleboxError } from '../util/errors.js';
import { describeErrno, type LaunchResult } from '../runtime/launcher.js';
import { runBundle } from '../runtime/runtime.js';
import type { Context } from './context.js';
import type { ContainerConfig } from './container-config.js';
import { cleanupContainer, createContainer, markRunning, removeContainer } from './containers.js';

const ENOENT = 2;

export interface ForegroundOptions {
  /** The command that cleans up after this container if the CLI itself is killed. */
  readonly exitCommand: (id: string) => string[];
  /** Receives the shim's step timeline (--trace). */
  readonly trace?: (line: string) => void;
}

/** Why a container could not start, in Docker's words where Docker has them. */
function startFailure(result: LaunchResult): WhaleboxError {
  if (result.fatal) {
    return new WhaleboxError(`whalebox-shim failed to ${result.fatal.stage}: ${describeErrno(result.fatal.errno)}`);
  }
  const failed = result.failed;
  if (!failed) return new WhaleboxError(`the container's init process ended before starting (status ${result.status})`);
  if (failed.record.op === 'exec') {
    const command = String(failed.record.args[1]);
    if (failed.errno === ENOENT) {
      return command.includes('/')
        ? new WhaleboxError(`exec: "${command}": stat ${command}: no such file or directory`, 127)
        : new WhaleboxError(`exec: "${command}": executable file not found in $PATH`, 127);
    }
    return new WhaleboxError(`exec: "${command}": ${describeErrno(failed.errno)}`, 126);
  }
  return new WhaleboxError(`failed to start the container: ${failed.record.describe}: ${describeErrno(failed.errno)}`);
}

function printTrace(result: LaunchResult, trace: (line: string) => void): void {
  for (const step of result.steps) {
    const ms = (step.micros / 1000).toFixed(3).padStart(8);
    trace(`${ms} ms  ${step.errno ? 'FAILED ' : ''}${step.record.op.padEnd(12)} ${step.record.describe}`);
  }
  trace(`${result.wallMs.toFixed(3).padStart(8)} ms  total (shim spawn to exit)`);
}

/** `run` without -d: the container's stdio is the CLI's; returns the container's status. */
export async function runForeground(context: Context, config: ContainerConfig, options: ForegroundOptions): Promise<number> {
  const { record, bundle } = createContainer(context, config);
  let result: LaunchResult;
  try {
    result = await runBundle(bundle, {
      stdin: config.interactive ? 'inherit' : 'ignore',
      exitCommand: options.exitCommand(record.id),
      onPid: (pid) => markRunning(context, record.id, pid),
    });
  } catch (err) {
    await cleanupContainer(context, record.id, String(err));
    throw err;
  }
  if (options.trace) printTrace(result, options.trace);
  if (!result.started) {
    const failure = startFailure(result);
    // A container that never ran its command leaves nothing behind.
    await cleanupContainer(context, record.id, failure.message);
    removeContainer(context, record.id);
    throw failure;
  }
  const outcome = await cleanupContainer(context, record.id);
  const status = outcome.exitCode ?? result.status;
  if (outcome.oomKilled && status === 137) {
    process.stderr.write(`whalebox: container ${record.id.slice(0, 12)} was killed: out of memory (memory limit reached)\n`);
  }
  return status;
}
