import { constants } from 'node:os';
import { rmSync } from 'node:fs';
import { WhaleboxError } from '../util/errors.js';
import { exitFilePath, openBundleCgroup, readBundle, readExitFile, runBundle, type Bundle } from '../runtime/runtime.js';
import type { ContainerRow } from '../store/containers.js';
import type { Context } from './context.js';
import { bundleDir, cleanupContainer, containerTable, markRunning, parseConfig, refreshContainer, removeContainer } from './containers.js';
import { VALID_NAME } from './names.js';
import { ownsProcess } from '../runtime/processes.js';
import { startFailure } from './start-failure.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `TERM`, `SIGTERM` or `15` → the signal number; anything else is an error. */
export function parseSignal(value: string): number {
  const upper = value.toUpperCase();
  const number = /^\d+$/.test(value)
    ? Number(value)
    : constants.signals[(upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals];
  if (!number || number > 64) throw new WhaleboxError(`invalid signal: ${value}`);
  return number;
}

/** The command line that cleans up after a container when its shim is the last to know. */
export function exitCommand(context: Context, id: string): string[] {
  return [process.execPath, process.argv[1]!, '--root', context.paths.root, '--run-root', context.paths.runRoot, 'container', 'cleanup', id];
}

/**
 * Starts an existing container in the background under its shim (run -d, start, restart,
 * restart policies). Resolves once its command runs; throws with Docker's message otherwise.
 */
export async function startDetached(context: Context, id: string): Promise<void> {
  const bundle = requireBundle(context, id);
  rmSync(exitFilePath(bundle.dir), { force: true });
  const result = await runBundle(
    bundle,
    {
      mode: 'detach',
      exitCommand: exitCommand(context, id),
      onPid: (pid, shimPid) => markRunning(context, id, pid, shimPid),
    },
  );
  if (!result.started) {
    const failure = startFailure(result);
    await cleanupContainer(context, id, failure.message);
    throw failure;
  }
}

/** The restart policy's restart: counted, and delayed like Docker's (100 ms, doubling). */
export async function restartContainer(context: Context, id: string): Promise<void> {
  const table = containerTable(context);
  const row = table.get(id);
  if (!row) return;
  await sleep(Math.min(100 * 2 ** row.restartCount, 10_000));
  table.update(id, { restartCount: row.restartCount + 1 });
  await startDetached(context, id);
}

/** Sends a signal to the container's PID 1. A stopped container is Docker's error. */
function signalContainer(row: ContainerRow, signal: number): void {
  if (row.status !== 'running' && row.status !== 'paused') {
    throw new WhaleboxError(`cannot kill container: ${row.id.slice(0, 12)}: container ${row.id} is not running`, 1);
  }
  if (row.pid !== null && ownsProcess(row.id, row.pid)) process.kill(row.pid, signal);
}

/** Polls until the container is no longer running, refreshing from the host; false on timeout. */
export async function waitForExit(context: Context, id: string, timeoutMs = Infinity): Promise<ContainerRow | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = containerTable(context).get(id);
    if (!row) return undefined;
    if (row.status !== 'running' && row.status !== 'paused') return row;
    // The exit file appears before the shim's exit command records it: clean up at once.
    if (readExitFile(bundleDir(context, id))) {
      await cleanupContainer(context, id);
      continue;
    }
    const fresh = await refreshContainer(context, row);
    if (fresh.status !== 'running' && fresh.status !== 'paused') return fresh;
    if (Date.now() >= deadline) return fresh;
    await sleep(50);
  }
}

/** Docker's stop: the stop signal, then SIGKILL after the timeout; no restart afterwards. */
export async function stopContainer(context: Context, row: ContainerRow, timeoutSeconds?: number): Promise<void> {
  const current = await refreshContainer(context, row);
  if (current.status !== 'running' && current.status !== 'paused') return;
  const config = parseConfig(current);
  containerTable(context).update(row.id, { stopRequested: true });
  const timeout = timeoutSeconds ?? config.stopTimeout ?? 10;
  signalContainer(current, parseSignal(config.stopSignal ?? 'SIGTERM'));
  // A frozen process acts on no signal: thaw it so that it can stop (Docker does the same).
  if (current.status === 'paused') await unpauseContainer(context, current);
  const after = await waitForExit(context, row.id, timeout * 1000);
  if (after && (after.status === 'running' || after.status === 'paused')) {
    signalContainer(after, constants.signals.SIGKILL);
    await waitForExit(context, row.id);
  }
}

/** Docker's kill: a signal (KILL by default); counts as a manual stop for restart policies. */
export async function killContainer(context: Context, row: ContainerRow, signal: number): Promise<void> {
  const current = await refreshContainer(context, row);
  if (current.status === 'running' || current.status === 'paused') containerTable(context).update(row.id, { stopRequested: true });
  signalContainer(current, signal);
  if (signal === constants.signals.SIGKILL) await waitForExit(context, row.id);
}

/** Docker's start: a running container is left alone; the restart count starts again. */
export async function startContainer(context: Context, row: ContainerRow): Promise<void> {
  const current = await refreshContainer(context, row);
  if (current.status === 'running' || current.status === 'paused') return;
  containerTable(context).update(row.id, { restartCount: 0, stopRequested: false });
  await startDetached(context, row.id);
}

/** Docker's rm: a running container only with force (SIGKILL first). */
export async function deleteContainer(context: Context, row: ContainerRow, force: boolean): Promise<void> {
  const current = await refreshContainer(context, row);
  if (current.status === 'running' || current.status === 'paused') {
    if (!force) {
      throw new WhaleboxError(
        `cannot remove container "/${row.name}": container is ${current.status}: stop the container before removing or force remove`,
        1,
      );
    }
    await killContainer(context, current, constants.signals.SIGKILL);
  }
  await cleanupContainer(context, row.id);
  removeContainer(context, row.id);
}

/** The container's bundle, or Docker-style status 1 when its directory is gone. */
export function requireBundle(context: Context, id: string): Bundle {
  const bundle = readBundle(id, bundleDir(context, id));
  if (!bundle) throw new WhaleboxError(`container ${id} has no bundle (config.json) any more`, 1);
  return bundle;
}

/** Docker's pause: every process of the container frozen (cgroup freezer, v1 or v2). */
export async function pauseContainer(context: Context, row: ContainerRow): Promise<void> {
  const current = await refreshContainer(context, row);
  if (current.status === 'paused') throw new WhaleboxError(`container ${row.id} is already paused`, 1);
  if (current.status !== 'running') throw new WhaleboxError(`container ${row.id} is not running`, 1);
  await openBundleCgroup(requireBundle(context, row.id)).freeze();
  containerTable(context).transition(row.id, ['running'], { status: 'paused' });
}

export async function unpauseContainer(context: Context, row: ContainerRow): Promise<void> {
  const current = await refreshContainer(context, row);
  if (current.status !== 'paused') throw new WhaleboxError(`container ${row.id} is not paused`, 1);
  await openBundleCgroup(requireBundle(context, row.id)).thaw();
  containerTable(context).transition(row.id, ['paused'], { status: 'running' });
}

/** Docker's rename: the new name must be valid and free. */
export function renameContainer(context: Context, row: ContainerRow, newName: string): void {
  const name = newName.replace(/^\//, '');
  if (!VALID_NAME.test(name)) throw new WhaleboxError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`, 1);
  if (name === row.name) throw new WhaleboxError('Renaming a container with the same name as its current name', 1);
  try {
    containerTable(context).update(row.id, { name });
  } catch (err) {
    if (!String(err).includes('UNIQUE constraint failed')) throw err;
    const owner = containerTable(context).find(name)[0]?.id ?? 'unknown';
    throw new WhaleboxError(`Conflict. The container name "/${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`, 1);
  }
}
