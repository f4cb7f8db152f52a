import { constants } from 'node:os';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { WhaleboxError } from '../util/errors.js';
import { deleteBundle, exitFilePath, openBundleCgroup, readBundle, readExitFile, runBundle, type Bundle } from '../runtime/runtime.js';
import type { ContainerRow } from '../store/containers.js';
import type { Context } from './context.js';
import { bundleDir, cleanupContainer, containerTable, markRunning, newRunToken, parseConfig, refreshContainer, removeContainer } from './containers.js';
import { VALID_NAME } from './names.js';
import { ownsProcess } from '../runtime/processes.js';
import { startFailure } from './start-failure.js';
import { networkAfterEnd, networkBeforeStart } from './networking.js';

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

/** The command line that cleans up after one run of a container when its shim is the last to know. */
export function exitCommand(context: Context, id: string, run: string): string[] {
  return [process.execPath, process.argv[1]!, '--root', context.paths.root, '--run-root', context.paths.runRoot, 'container', 'cleanup', '--run', run, id];
}

/**
 * Starts an existing container in the background under its shim (run -d, start, restart,
 * restart policies). Resolves once its command runs; throws with Docker's message otherwise.
 */
export async function startDetached(context: Context, id: string): Promise<void> {
  const bundle = requireBundle(context, id);
  rmSync(exitFilePath(bundle.dir), { force: true });
  // A --rm container's overlay is `volatile`, which marks its workdir against reuse after a
  // host crash. After a clean end (restart of a --rm container) the upper dir is whole, and a
  // crashed --rm container is removed, never restarted: the mark can go.
  rmSync(join(bundle.dir, 'work', 'work', 'incompat'), { recursive: true, force: true });
  const token = newRunToken();
  const row = containerTable(context).get(id);
  let result;
  try {
    const ready = row ? await networkBeforeStart(context, row.name, parseConfig(row), bundle) : bundle;
    result = await runBundle(ready, {
      mode: 'detach',
      exitCommand: exitCommand(context, id, token),
      onPid: (pid, shimPid) => markRunning(context, id, { pid, shimPid, token }),
      seccompCache: context.paths.seccompCache,
    });
  } catch (err) {
    // The record may be gone (rm -f meanwhile): the cgroup is released from the bundle in hand.
    await deleteBundle(bundle);
    // Read again: the start recorded the ports it published, which the teardown removes.
    const fresh = containerTable(context).get(id) ?? row;
    if (fresh) await networkAfterEnd(context, id, parseConfig(fresh));
    throw err;
  }
  if (!result.started) {
    const failure = startFailure(result);
    await cleanupContainer(context, id, { error: failure.message });
    await deleteBundle(bundle);
    throw failure;
  }
}

/** The restart policy's restart: counted, and delayed like Docker's (100 ms, doubling). */
export async function restartContainer(context: Context, id: string): Promise<void> {
  const table = containerTable(context);
  const row = table.get(id);
  if (!row) return;
  await sleep(Math.min(100 * 2 ** row.restartCount, 10_000));
  // A stop, kill or rm during the delay wins over the policy.
  const now = table.get(id);
  if (!now || now.stopRequested || now.status !== 'exited') return;
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

export interface Ended {
  /** The record once the run ended; undefined when it was removed (--rm, rm). */
  readonly row?: ContainerRow;
  /** How the run ended, as the shim recorded it (kept even when --rm removed the record). */
  readonly exitCode?: number;
}

/**
 * Polls until the current run has ended and its end is recorded (by the shim's exit command,
 * or by a refresh when the shim died); `running` in the result means the timeout came first.
 */
export async function waitForExit(context: Context, id: string, timeoutMs = Infinity): Promise<Ended> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | undefined;
  for (;;) {
    const exit = readExitFile(bundleDir(context, id));
    if (exit) exitCode = exit.signal ? 128 + exit.signal : exit.code;
    const row = containerTable(context).get(id);
    if (!row) return { exitCode };
    const fresh = await refreshContainer(context, row);
    if (fresh.status !== 'running' && fresh.status !== 'paused') return { row: fresh, exitCode: fresh.exitCode ?? exitCode };
    if (Date.now() >= deadline) return { row: fresh, exitCode };
    await sleep(50);
  }
}

const isRunning = (row?: ContainerRow): boolean => row?.status === 'running' || row?.status === 'paused';

/** Docker's stop: the stop signal, then SIGKILL after the timeout (negative: wait forever). */
export async function stopContainer(context: Context, row: ContainerRow, timeoutSeconds?: number): Promise<void> {
  // Even a container between restarts stays stopped: the policy reads this flag.
  containerTable(context).update(row.id, { stopRequested: true });
  const current = await refreshContainer(context, row);
  if (!isRunning(current)) return;
  const config = parseConfig(current);
  const timeout = timeoutSeconds ?? config.stopTimeout ?? 10;
  signalContainer(current, parseSignal(config.stopSignal ?? 'SIGTERM'));
  await thawAfterSignal(context, current);
  const after = await waitForExit(context, row.id, timeout < 0 ? Infinity : timeout * 1000);
  if (isRunning(after.row)) {
    signalContainer(after.row!, constants.signals.SIGKILL);
    await waitForExit(context, row.id);
  }
}

/** A frozen process acts on no signal, not even SIGKILL: thaw it so that it can (as Docker does). */
async function thawAfterSignal(context: Context, row: ContainerRow): Promise<void> {
  if (row.status === 'paused') await unpauseContainer(context, row);
}

/** Docker's kill: a signal (KILL by default); counts as a manual stop for restart policies. */
export async function killContainer(context: Context, row: ContainerRow, signal: number): Promise<void> {
  containerTable(context).update(row.id, { stopRequested: true });
  const current = await refreshContainer(context, row);
  signalContainer(current, signal);
  if (signal === constants.signals.SIGKILL) {
    await thawAfterSignal(context, current);
    await waitForExit(context, row.id);
  }
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

/**
 * Docker's restart: stop, then start. A --rm container survives it: auto-removal is off while
 * it is stopped, as Docker turns AutoRemove off for a restart.
 */
export async function restartByUser(context: Context, row: ContainerRow, timeoutSeconds?: number): Promise<void> {
  const config = parseConfig(row);
  const table = containerTable(context);
  if (config.autoRemove) table.update(row.id, { config: JSON.stringify({ ...config, autoRemove: false }) });
  try {
    await stopContainer(context, row, timeoutSeconds);
    const stopped = table.get(row.id);
    if (stopped) await startContainer(context, stopped);
  } finally {
    if (config.autoRemove && table.get(row.id)) table.update(row.id, { config: JSON.stringify(config) });
  }
}
