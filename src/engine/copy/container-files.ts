import { spawn } from 'node:child_process';
import { constants, openSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { OVERLAY_ANNOTATION, OVERLAY_LOWER_BASE_ANNOTATION } from '../../runtime/plan.js';
import { ownsProcess } from '../../runtime/processes.js';
import { readBundle, type Bundle } from '../../runtime/runtime.js';
import { WhaleboxError } from '../../util/errors.js';
import { bundleDir, refreshContainer, resolveContainer } from '../containers.js';
import type { Context } from '../context.js';
import { failure } from './errors.js';
import { NotFound, O_PATH, Tree } from './tree.js';

/**
 * How the container's files are reached. A running container's are behind `/proc/PID/root`
 * (its init's root, in its mount namespace: volumes and the /etc binds included); a stopped
 * container's overlay is mounted by a throwaway `unshare --mount` helper inside a private mount
 * namespace of its own, and reached the same way, through `/proc/HELPER/root/<bundle>/rootfs`;
 * the mount dies with that namespace, so nothing is ever mounted on the host (DESIGN.md).
 */

export interface ContainerFiles {
  readonly tree: Tree;
  /** Who owns what is copied in without -a: the container's user and primary group. */
  readonly user: { readonly uid: number; readonly gid: number };
  /** Bind mounts: where they are in the container, and whether read-only. */
  readonly binds: ReadonlyArray<{ readonly path: string; readonly readonly: boolean }>;
  readonly readonlyRootfs: boolean;
}

/** The mount points of PID's mount namespace, as paths under its root (mountinfo field 5). */
function mountPoints(pid: number): string[] {
  return readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
}

/**
 * Mounts a stopped container's overlay on its bundle's `rootfs` inside a new private mount
 * namespace held by a helper process; the parent reaches it through `/proc/HELPER/root`. The
 * helper waits on its stdin: when the copy ends, or this process dies, it exits and the kernel
 * takes the namespace and the mount with it.
 */
async function mountStoppedRoot(bundle: Bundle): Promise<{ path: string; release: () => Promise<void> }> {
  const overlay = bundle.spec.annotations?.[OVERLAY_ANNOTATION];
  if (!overlay) throw new WhaleboxError(`container ${bundle.id} has no root filesystem (no ${OVERLAY_ANNOTATION} annotation)`, 1);
  const mountPoint = join(bundle.dir, 'rootfs');
  const script = 'mount -t overlay overlay -o "$1" "$2" || exit 1; echo ready; read -r _';
  const helper = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', overlay, mountPoint], {
    stdio: ['pipe', 'pipe', 'pipe'],
    // The overlay names its lower dirs relative to the layers directory (short names).
    cwd: bundle.spec.annotations?.[OVERLAY_LOWER_BASE_ANNOTATION],
  });
  const exited = new Promise<void>((resolve) => helper.once('close', () => resolve()));
  const release = async (): Promise<void> => {
    helper.stdin.end();
    await exited;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      let errors = '';
      helper.stdout.on('data', (data: Buffer) => {
        output += data.toString();
        if (output.includes('ready\n')) resolve();
      });
      helper.stderr.on('data', (data: Buffer) => (errors += data.toString()));
      helper.once('error', reject);
      helper.once('exit', (code) => {
        reject(new WhaleboxError(`cannot mount the filesystem of container ${bundle.id}: ${errors.trim() || `exit status ${code}`}`, 1));
      });
    });
  } catch (err) {
    await release();
    throw err;
  }
  return { path: `/proc/${helper.pid}/root${mountPoint}`, release };
}

/**
 * Opens a container's files for the duration of `action`: a running container's through its
 * init, a stopped one's on a private mount (with its bind mounts emulated by the walker).
 */
export async function withContainer<T>(context: Context, reference: string, action: (files: ContainerFiles) => Promise<T>): Promise<T> {
  const row = await refreshContainer(context, resolveContainer(context, reference));
  const bundle = readBundle(row.id, bundleDir(context, row.id));
  if (!bundle) throw new WhaleboxError(`container ${row.id} has no bundle (config.json) any more`, 1);
  const pid = row.status === 'running' || row.status === 'paused' ? row.pid : null;
  const stopped = pid === null ? await mountStoppedRoot(bundle) : undefined;
  let tree: Tree | undefined;
  try {
    const binds: Array<{ path: string; readonly: boolean }> = [];
    try {
      tree = new Tree(openSync(stopped?.path ?? `/proc/${pid}/root`, O_PATH | constants.O_DIRECTORY), (path) => `${reference}:${path}`);
      // Checked after the open: the descriptor is then known to be this container's root.
      if (pid !== null && !ownsProcess(row.id, pid)) throw new WhaleboxError(`container ${row.id} is not running any more`, 1);
      for (const mount of bundle.spec.mounts) {
        if (mount.type !== 'bind' || mount.source === undefined) continue;
        const path = mountPath(tree, mount.destination);
        binds.push({ path, readonly: mount.options?.includes('ro') ?? false });
        if (stopped) tree.mount(path, mount.source);
      }
      for (const path of pid === null ? [] : mountPoints(pid)) {
        tree.mountPoints.add(path);
        if (path !== '/' && !binds.some((bind) => bind.path === path)) tree.opaque.add(path);
      }
    } catch (err) {
      throw failure(`cannot open the filesystem of container ${reference}`, err);
    }
    const user = { uid: bundle.spec.process.user.uid, gid: bundle.spec.process.user.gid };
    return await action({ tree, user, binds, readonlyRootfs: bundle.spec.root.readonly ?? false });
  } finally {
    tree?.close();
    await stopped?.release();
  }
}

/**
 * Where the shim mounted a bind: its destination resolved in the container (binds are set up
 * in mount order, so earlier ones count); as written when a parent is missing.
 */
function mountPath(tree: Tree, destination: string): string {
  try {
    const location = tree.resolve(destination, { followLast: true });
    tree.release(location.parent, location.node);
    return location.node?.path ?? posix.join(location.parent.path, location.name);
  } catch (err) {
    if (err instanceof NotFound) return posix.normalize(destination);
    throw err;
  }
}
