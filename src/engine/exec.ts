import { join } from 'node:path';
import { WhaleboxError } from '../util/errors.js';
import { allCapabilities, DOCKER_DEFAULT_CAPABILITIES } from '../runtime/capabilities.js';
import type { Process, Spec } from '../runtime/oci-spec.js';
import { execInBundle } from '../runtime/runtime.js';
import { ownsProcess } from '../runtime/processes.js';
import { findImage } from '../image/image-store.js';
import type { Context } from './context.js';
import { bundleDir, refreshContainer, resolveContainer } from './containers.js';
import { resolveUser } from './image-user.js';
import { requireBundle } from './lifecycle.js';
import { startFailure } from './start-failure.js';

export interface ExecOptions {
  readonly command: string[];
  readonly interactive: boolean;
  readonly tty: boolean;
  readonly detach: boolean;
  readonly env: string[];
  readonly workdir?: string;
  readonly user?: string;
  readonly privileged: boolean;
}

/** The process to run: the container's own settings, with what `exec` asked for on top. */
function execProcess(context: Context, id: string, imageId: string, spec: Spec, options: ExecOptions): Process {
  const env = new Map(spec.process.env.map((e) => [e.split('=', 1)[0]!, e]));
  if (options.tty) env.set('TERM', 'TERM=xterm');
  for (const entry of options.env) env.set(entry.split('=', 1)[0]!, entry);
  let user = spec.process.user;
  if (options.user !== undefined) {
    // Names resolve against the container's files as they are now: the image, then its writes.
    const layers = [...(findImage(context.db(), context.paths, imageId)?.layerDirs ?? []), join(bundleDir(context, id), 'diff')];
    const resolved = resolveUser(layers, options.user);
    user = { ...user, uid: resolved.uid, gid: resolved.gid, additionalGids: resolved.additionalGids };
  }
  const caps = options.privileged ? allCapabilities() : [...(spec.process.capabilities?.bounding ?? DOCKER_DEFAULT_CAPABILITIES)];
  if (options.workdir !== undefined && !options.workdir.startsWith('/')) {
    throw new WhaleboxError(`the working directory '${options.workdir}' is invalid, it needs to be an absolute path`);
  }
  return {
    ...spec.process,
    terminal: options.tty,
    args: options.command,
    env: [...env.values()],
    cwd: options.workdir ?? spec.process.cwd,
    user,
    capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [] },
  };
}

/** Docker's exec: returns the process's exit status (0 at once for -d). */
export async function execInContainer(context: Context, reference: string, options: ExecOptions): Promise<number> {
  const row = await refreshContainer(context, resolveContainer(context, reference));
  if (row.status === 'paused') throw new WhaleboxError(`container ${row.id} is paused, unpause the container before exec`, 1);
  // The PID must still be the container's: a reused one would lead into a host process.
  if (row.status !== 'running' || row.pid === null || !ownsProcess(row.id, row.pid)) {
    throw new WhaleboxError(`container ${row.id} is not running`, 1);
  }
  const bundle = requireBundle(context, row.id);
  const process = execProcess(context, row.id, row.imageId, bundle.spec, options);
  const result = await execInBundle(bundle, row.pid, process, {
    mode: options.detach ? 'detach' : 'foreground',
    stdin: options.interactive,
    // The container's filter, which `exec --privileged` goes without.
    seccomp: options.privileged ? undefined : bundle.spec.linux.seccomp,
    seccompCache: context.paths.seccompCache,
  });
  if (!result.started) throw startFailure(result);
  if (options.detach) return 0;
  if (!result.exit) throw new WhaleboxError(`exec: the process's monitor ended without its status (${result.status})`);
  return result.exit.signal ? 128 + result.exit.signal : result.exit.code;
}
