import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname as hostHostname } from 'node:os';
import { join } from 'node:path';
import { WhaleboxError } from '../util/errors.js';
import { findImage } from '../image/image-store.js';
import { deleteBundle, readExitFile, type Bundle } from '../runtime/runtime.js';
import type { Context } from './context.js';
import type { ContainerConfig } from './container-config.js';
import { resolveUser } from './image-user.js';
import { generateId, generateName, VALID_NAME } from './names.js';
import { buildSpec } from './spec.js';

export type ContainerStatus = 'created' | 'running' | 'exited' | 'dead';

export interface ContainerRecord {
  readonly id: string;
  readonly name: string;
  readonly imageId: string;
  readonly imageRef: string;
  readonly config: ContainerConfig;
  readonly status: ContainerStatus;
}

export function bundleDir(context: Context, id: string): string {
  return join(context.paths.containers, id);
}

/** Docker's /etc/hosts for a container without a network address of its own. */
const HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
  '',
].join('\n');

/** The host's resolv.conf without loopback resolvers, which mean nothing inside a container. */
function resolvConf(network: ContainerConfig['network']): string {
  let host = '';
  try {
    host = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    // No resolver configured on the host.
  }
  if (network === 'host') return host;
  const lines = host.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1\s*$)/.test(l));
  if (!lines.some((l) => /^\s*nameserver\s/.test(l))) lines.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  return `${lines.filter(Boolean).join('\n')}\n`;
}

function hostsFile(network: ContainerConfig['network']): string {
  if (network !== 'host') return HOSTS;
  try {
    return readFileSync('/etc/hosts', 'utf8');
  } catch {
    return HOSTS;
  }
}

/**
 * Records a new container and lays out its bundle: config.json, the /etc files it gets, and the
 * overlay's upper, work and mount-point directories.
 */
export function createContainer(context: Context, config: ContainerConfig): { record: ContainerRecord; bundle: Bundle } {
  const db = context.db();
  const image = findImage(db, context.paths, config.image);
  if (!image) throw new WhaleboxError(`Unable to find image '${config.image}' locally`);
  if (config.name !== undefined && !VALID_NAME.test(config.name)) {
    throw new WhaleboxError(`Invalid container name (${config.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  const id = generateId();
  const name = config.name?.replace(/^\//, '') ?? generateName();
  const hostname = config.hostname ?? (config.network === 'host' ? hostHostname() : id.slice(0, 12));
  const imageConfig = image.config.config ?? {};
  const user = resolveUser(image.layerDirs, config.user ?? imageConfig.User ?? '');
  const dir = bundleDir(context, id);
  const spec = buildSpec({ id, config, image: imageConfig, layerDirs: image.layerDirs, user, bundleDir: dir, hostname });
  // Docker creates a missing bind source as a directory; an existing file stays a file.
  for (const volume of config.volumes) {
    if (!existsSync(volume.source)) mkdirSync(volume.source, { recursive: true });
  }

  const insert = db.prepare(
    `INSERT INTO containers (id, name, image_id, image_ref, created, config, status) VALUES (?, ?, ?, ?, ?, ?, 'created')`,
  );
  try {
    insert.run(id, name, image.id, config.image, new Date().toISOString(), JSON.stringify(config));
  } catch (err) {
    if (String(err).includes('UNIQUE constraint failed: containers.name')) {
      const owner = db.prepare('SELECT id FROM containers WHERE name = ?').pluck().get(name) as string;
      throw new WhaleboxError(
        `Conflict. The container name "/${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    throw err;
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The upper dir's mode is the container root's: it must let every user in.
    for (const sub of ['diff', 'work', 'rootfs']) mkdirSync(join(dir, sub), { mode: sub === 'work' ? 0o700 : 0o755 });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
    writeFileSync(join(dir, 'hostname'), `${hostname}\n`);
    writeFileSync(join(dir, 'hosts'), hostsFile(config.network));
    writeFileSync(join(dir, 'resolv.conf'), resolvConf(config.network));
  } catch (err) {
    removeContainer(context, id);
    throw err;
  }
  return {
    record: { id, name, imageId: image.id, imageRef: config.image, config, status: 'created' },
    bundle: { id, dir, spec },
  };
}

export function markRunning(context: Context, id: string, pid: number): void {
  context
    .db()
    .prepare(`UPDATE containers SET status = 'running', pid = ?, started_at = ? WHERE id = ?`)
    .run(pid, new Date().toISOString(), id);
}

/** Forgets a container and deletes its bundle (its cgroup must be gone already). */
export function removeContainer(context: Context, id: string): void {
  context.db().prepare('DELETE FROM containers WHERE id = ?').run(id);
  rmSync(bundleDir(context, id), { recursive: true, force: true, maxRetries: 5 });
}

export interface Outcome {
  /** The status PID 1 ended with (exit code, or 128+signal), when it ran. */
  readonly exitCode?: number;
  readonly oomKilled: boolean;
}

/**
 * The one cleanup path, after a normal exit, a failed start, or a crash (the shim's exit
 * command runs it): releases the cgroup, records how the container ended, and applies --rm.
 * Safe to run twice.
 */
export async function cleanupContainer(context: Context, id: string, error?: string): Promise<Outcome> {
  const db = context.db();
  const row = db.prepare('SELECT config, status FROM containers WHERE id = ?').get(id) as
    | { config: string; status: ContainerStatus }
    | undefined;
  const { oomKilled } = await deleteBundle(id);
  const exit = readExitFile(bundleDir(context, id));
  const exitCode = exit ? (exit.signal ? 128 + exit.signal : exit.code) : undefined;
  if (!row) return { exitCode, oomKilled };
  const config = JSON.parse(row.config) as ContainerConfig;
  if (config.autoRemove) {
    removeContainer(context, id);
  } else if (row.status === 'running' || row.status === 'created') {
    db.prepare(
      `UPDATE containers SET status = ?, pid = NULL, exit_code = ?, oom_killed = ?, error = ?, finished_at = ? WHERE id = ?`,
    ).run(row.status === 'running' ? 'exited' : 'created', exitCode ?? null, oomKilled ? 1 : 0, error ?? null, new Date().toISOString(), id);
  }
  return { exitCode, oomKilled };
}
