import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredLayer } from '../../image/image-store.js';
import { runBundle, type Bundle } from '../../runtime/runtime.js';
import { scratchName } from '../../store/scratch.js';
import { WhaleboxError } from '../../util/errors.js';
import { storeUpperLayer } from '../commit.js';
import { defaultContainerConfig, type ContainerConfig } from '../container-config.js';
import { cleanupContainer, createContainer, markRunning, newRunToken, removeContainer, type ContainerRecord } from '../containers.js';
import type { Context } from '../context.js';
import { exitCommand } from '../lifecycle.js';
import { networkBeforeStart } from '../networking.js';
import { startFailure } from '../start-failure.js';
import { buildContainerName } from '../names.js';
import { stateImage, type BuildState } from './build-cache.js';

/**
 * The intermediate containers of a build, as Docker's: a RUN runs in one made from the state
 * so far, a COPY writes into one that never starts; either's upper dir becomes the step's
 * layer, and the container is removed whatever happens.
 */

/** What a RUN step runs, beyond what the state's config says (user, working dir, env). */
export interface RunSpec {
  readonly argv: readonly string[];
  /** Build arguments in scope, passed as environment (not kept in the image). */
  readonly env: readonly string[];
  /** bridge, none or host. */
  readonly network: string;
  readonly output: (chunk: Buffer) => void;
  /** Aborts the build: the step's container is killed at once. */
  readonly signal: AbortSignal;
  /** A file the step runs (a heredoc script), bound read-only into the container at `path`. */
  readonly script?: { readonly path: string; readonly content: string };
}

function stepConfig(display: string, overrides: Partial<ContainerConfig>): ContainerConfig {
  return {
    ...defaultContainerConfig(display),
    name: buildContainerName(),
    // BuildKit's name for the host a step runs on.
    hostname: 'buildkitsandbox',
    // A RUN says which network it wants; a COPY's container needs none (no address to allocate).
    network: 'none',
    entrypoint: '',
    // A COPY's container never starts, but a container needs a command: Docker's classic no-op.
    cmd: ['/bin/sh', '-c', '#(nop)'],
    ...overrides,
  };
}

/** Runs `work` with a container made from `state` (created, not started), removed afterwards. */
export async function withStateContainer<T>(
  context: Context,
  state: BuildState,
  display: string,
  overrides: Partial<ContainerConfig>,
  work: (record: ContainerRecord, bundle: Bundle) => Promise<T>,
): Promise<T> {
  const { record, bundle } = createContainer(context, stepConfig(display, overrides), stateImage(context.paths, state));
  try {
    return await work(record, bundle);
  } finally {
    await cleanupContainer(context, record.id).catch(() => undefined);
    removeContainer(context, record.id);
  }
}

/** `work` on a container of `state`, whose upper dir then becomes a layer on top of the state's. */
export function layerStep(
  context: Context,
  state: BuildState,
  display: string,
  overrides: Partial<ContainerConfig>,
  work: (record: ContainerRecord, bundle: Bundle) => Promise<void>,
): Promise<StoredLayer> {
  return withStateContainer(context, state, display, overrides, async (record, bundle) => {
    await work(record, bundle);
    return storeUpperLayer(context, join(bundle.dir, 'diff'), state.layers.at(-1)?.chainId);
  });
}

/** A RUN step: the command runs to its end; a non-zero status fails the step, as BuildKit reports it. */
export async function runStep(context: Context, state: BuildState, display: string, spec: RunSpec): Promise<StoredLayer> {
  const script = spec.script === undefined ? undefined : join(context.paths.root, scratchName('tmp-build-'));
  if (script !== undefined) writeFileSync(script, spec.script!.content, { mode: 0o755 });
  const volumes = script === undefined ? [] : [{ source: script, destination: spec.script!.path, readonly: true }];
  const overrides = { cmd: [...spec.argv], env: [...spec.env], network: spec.network, volumes };
  try {
    return await layerStep(context, state, display, overrides, async (record, bundle) => {
      const token = newRunToken();
      const ready = await networkBeforeStart(context, record.name, record.config, bundle);
      const result = await runBundle(ready, {
        mode: 'foreground',
        exitCommand: exitCommand(context, record.id, token),
        onPid: (pid, shimPid) => markRunning(context, record.id, { pid, shimPid, token }),
        output: (_stream, chunk) => spec.output(chunk),
        signal: spec.signal,
        seccompCache: context.paths.seccompCache,
      });
      spec.signal.throwIfAborted();
      if (!result.started) throw startFailure(result);
      const outcome = await cleanupContainer(context, record.id, { run: token });
      const status = outcome.exitCode ?? result.status ?? 125;
      if (status !== 0) {
        throw new WhaleboxError(`process "${spec.argv.join(' ')}" did not complete successfully: exit code: ${status}`, 1);
      }
    });
  } finally {
    if (script !== undefined) rmSync(script, { force: true });
  }
}
