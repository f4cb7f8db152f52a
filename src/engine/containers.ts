import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname as hostHostname } from 'node:os';
import { join } from 'node:path';
import { WhaleboxError } from '../util/errors.js';
import { findImage, type ImageRecord } from '../image/image-store.js';
import { parseNetwork } from './container-config.js';
import { baseHostsFile } from '../network/container-network.js';
import { exposedPorts, publishAll, type PortSpec } from '../network/ports.js';
import { attachAtCreate, networkAfterEnd, releaseAtRemove } from './networking.js';
import { ensureLayerLinks } from '../image/layer-links.js';
import { deleteBundle, exitFileTime, readBundle, readExitFile, type Bundle } from '../runtime/runtime.js';
import { isSameProcessAlive, processStartTime } from '../runtime/processes.js';
import { limitWrites } from '../runtime/cgroups/index.js';
import { ContainerTable, type ContainerRow, type ContainerStatus } from '../store/containers.js';
import type { Context } from './context.js';
import { shouldRestart, type ContainerConfig } from './container-config.js';
import { resolveUser } from './image-user.js';
import { restartContainer } from './lifecycle.js';
import { generateId, generateName, VALID_NAME } from './names.js';
import { buildSpec, INIT_LAYER } from './spec.js';

export interface ContainerRecord {
  readonly id: string;
  readonly name: string;
  readonly imageId: string;
  readonly imageRef: string;
  readonly config: ContainerConfig;
  readonly status: ContainerStatus;
}

/** The table of containers (opened lazily with the database). */
export function containerTable(context: Context): ContainerTable {
  return new ContainerTable(context.db());
}

export function parseConfig(row: ContainerRow): ContainerConfig {
  // Records of older versions lack the network settings added since.
  const stored = JSON.parse(row.config) as Omit<ContainerConfig, 'networkAliases' | 'addHosts' | 'dns'> & Partial<ContainerConfig>;
  return { ...stored, networkAliases: stored.networkAliases ?? [], addHosts: stored.addHosts ?? [], dns: stored.dns ?? [], network: parseNetwork(stored.network) };
}

/**
 * A container by name, full ID or unique ID prefix; Docker's errors otherwise (status 1, as the
 * docker CLI exits for a daemon error outside `run`).
 */
export function resolveContainer(context: Context, reference: string, exitCode = 1): ContainerRow {
  const found = containerTable(context).find(reference);
  if (found.length === 0) throw new WhaleboxError(`No such container: ${reference}`, exitCode);
  if (found.length > 1) throw new WhaleboxError(`multiple containers found with provided prefix: ${reference}`, exitCode);
  return found[0]!;
}

export function bundleDir(context: Context, id: string): string {
  return join(context.paths.containers, id);
}

/**
 * Docker creates a missing bind source as a directory (an existing file stays a file). Never
 * inside /proc or /sys, whose entries are not the host's to create (and Node's recursive mkdir
 * can spin there).
 */
function createBindSource(source: string): void {
  if (existsSync(source)) return;
  if (/^\/(proc|sys)(\/|$)/.test(source)) throw new WhaleboxError(`invalid mount config: bind source path does not exist: ${source}`);
  try {
    mkdirSync(source, { recursive: true });
  } catch (err) {
    throw new WhaleboxError(`error while creating mount source path '${source}': ${(err as Error).message.replace(/^[A-Z]+: /, '')}`);
  }
}

/** Docker's /etc/hosts for a container without a network address of its own. */

/** The host's resolv.conf without loopback resolvers, which mean nothing inside a container. */
function resolvConf(network: ContainerConfig['network'], dns: readonly string[]): string {
  let host = '';
  try {
    host = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    // No resolver configured on the host.
  }
  if (network === 'host' && dns.length === 0) return host;
  // --dns replaces the host's servers, as in Docker; their search and options lines stay.
  const lines = host
    .split('\n')
    .filter((l) => !/^\s*nameserver\s+(127\.|::1\s*$)/.test(l) && !(dns.length > 0 && /^\s*nameserver\s/.test(l)));
  lines.push(...dns.map((server) => `nameserver ${server}`));
  if (!lines.some((l) => /^\s*nameserver\s/.test(l))) lines.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  return `${lines.filter(Boolean).join('\n')}\n`;
}

function hostsFile(network: ContainerConfig['network'], addHosts: readonly string[]): string {
  if (network !== 'host') return baseHostsFile(addHosts);
  try {
    return readFileSync('/etc/hosts', 'utf8');
  } catch {
    return baseHostsFile(addHosts);
  }
}

/** -p, and with -P every port the image or --expose exposes that -p did not publish. */
function publishedPorts(config: ContainerConfig, imageExposed: Record<string, object> | undefined): PortSpec[] {
  const published = [...(config.publish ?? [])];
  return config.publishAll ? [...published, ...publishAll(exposedPorts(imageExposed, config.expose ?? []), published)] : published;
}

/**
 * Records a new container and lays out its bundle: config.json, the /etc files it gets, and the
 * overlay's upper, work and mount-point directories.
 */
export function createContainer(
  context: Context,
  config: ContainerConfig,
  /** The image when the caller has it already (a build step's state); else `config.image` is looked up. */
  resolved?: ImageRecord,
): { record: ContainerRecord; bundle: Bundle } {
  const image = resolved ?? findImage(context.db(), context.paths, config.image);
  if (!image) throw new WhaleboxError(`Unable to find image '${config.image}' locally`);
  ensureLayerLinks(context.paths.layers, image.chainIds);
  if (config.name !== undefined && !VALID_NAME.test(config.name)) {
    throw new WhaleboxError(`Invalid container name (${config.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  const id = generateId();
  const hostname = config.hostname ?? (config.network === 'host' ? hostHostname() : id.slice(0, 12));
  const imageConfig = image.config.config ?? {};
  config = { ...config, stopSignal: config.stopSignal ?? imageConfig.StopSignal, publish: publishedPorts(config, imageConfig.ExposedPorts) };
  const user = resolveUser(image.layerDirs, config.user || imageConfig.User || '');
  const dir = bundleDir(context, id);
  const spec = buildSpec({ id, config, image: imageConfig, layerDirs: image.layerDirs, user, bundleDir: dir, hostname, cgroupParent: context.cgroupParent, seccompCache: context.paths.seccompCache });
  config = { ...config, process: spec.process.args };
  // Values the kernel would refuse are refused now, before anything exists to clean up.
  for (const version of [1, 2] as const) limitWrites(version, spec.linux.resources);
  for (const volume of config.volumes) createBindSource(volume.source);

  const name = insertWithName(context, config, { id, imageId: image.id, imageRef: config.image, created: new Date().toISOString(), config: JSON.stringify(config) });
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The upper dir's mode is the container root's: it must let every user in.
    for (const sub of ['diff', 'work', 'rootfs']) mkdirSync(join(dir, sub), { mode: sub === 'work' ? 0o700 : 0o755 });
    makeInitLayer(join(dir, INIT_LAYER));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
    writeFileSync(join(dir, 'hostname'), `${hostname}\n`);
    writeFileSync(join(dir, 'hosts'), hostsFile(config.network, config.addHosts));
    writeFileSync(join(dir, 'resolv.conf'), resolvConf(config.network, config.dns));
    attachAtCreate(context, id, config);
  } catch (err) {
    removeContainer(context, id);
    throw err;
  }
  return {
    record: { id, name, imageId: image.id, imageRef: config.image, config, status: 'created' },
    bundle: { id, dir, spec },
  };
}

/**
 * The init layer: the mount points of the runtime's own mounts (/etc/hosts and its siblings,
 * /proc, /sys, /dev) exist here, above the image, so mounting on them never creates anything
 * in the upper dir: `commit` of an unchanged container adds an empty layer, as in Docker.
 */
function makeInitLayer(init: string): void {
  for (const sub of ['etc', 'proc', 'sys', 'dev']) mkdirSync(join(init, sub), { recursive: true, mode: 0o755 });
  for (const file of ['hosts', 'hostname', 'resolv.conf']) writeFileSync(join(init, 'etc', file), '', { mode: 0o644 });
}

/**
 * Inserts the record under the asked name (Docker's conflict error if taken) or under a
 * generated one, drawing again on a collision as Docker's name generator does.
 */
function insertWithName(context: Context, config: ContainerConfig, row: Omit<Parameters<ContainerTable['insert']>[0], 'name'>): string {
  const table = containerTable(context);
  for (let attempt = 0; ; attempt++) {
    const name = config.name?.replace(/^\//, '') ?? generateName(attempt >= 3);
    try {
      table.insert({ ...row, name });
      return name;
    } catch (err) {
      if (!String(err).includes('UNIQUE constraint failed: containers.name')) throw err;
      if (config.name === undefined && attempt < 10) continue;
      const owner = table.find(name)[0]?.id ?? 'unknown';
      throw new WhaleboxError(
        `Conflict. The container name "/${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
  }
}

/** Records that a container's init runs, which shim watches it, and the run's token. */
export function markRunning(context: Context, id: string, run: RunIdentity): void {
  const marked = containerTable(context).transition(id, ['created', 'exited'], {
    status: 'running',
    pid: run.pid,
    shimPid: run.shimPid,
    shimStart: processStartTime(run.shimPid) ?? null,
    runId: run.token,
    startedAt: new Date().toISOString(),
    finishedAt: null,
    exitCode: null,
    oomKilled: false,
    error: null,
  });
  // Removed (rm -f) while starting: an unrecorded container must not run (the launcher kills it).
  if (!marked) throw new WhaleboxError(`container ${id} was removed or started by someone else while starting`, 1);
}

export interface RunIdentity {
  readonly pid: number;
  readonly shimPid: number;
  readonly token: string;
}

/** A token for one run of a container (start, restart): 16 hex characters. */
export function newRunToken(): string {
  return generateId().slice(0, 16);
}

/** Forgets a container and deletes its bundle (its cgroup must be gone already). */
export function removeContainer(context: Context, id: string): void {
  releaseAtRemove(context, id);
  containerTable(context).delete(id);
  rmSync(bundleDir(context, id), { recursive: true, force: true, maxRetries: 5 });
}

export interface Outcome {
  /** The status PID 1 ended with (exit code, or 128+signal), when it ran. */
  readonly exitCode?: number;
  readonly oomKilled: boolean;
}

export interface CleanupOptions {
  /**
   * The run this cleanup is for (the shim's exit command, or the CLI of a foreground run): only
   * that run's end is recorded (a later run of the same container is left alone), and only
   * then is the restart policy applied. Without it (prune, rm, a crashed shim), whatever run
   * is recorded is ended, and nothing restarts.
   */
  readonly run?: string;
  readonly error?: string;
}

/**
 * The one cleanup path, after a normal exit, a failed start, or a crash: records how the run
 * ended (claiming the record in one transaction, so concurrent cleanups act once), releases
 * the cgroup, then applies --rm or the restart policy. Safe to run twice and concurrently.
 */
export async function cleanupContainer(context: Context, id: string, options: CleanupOptions = {}): Promise<Outcome> {
  const table = containerTable(context);
  const dir = bundleDir(context, id);
  const exit = readExitFile(dir);
  const exitCode = exit ? (exit.signal ? 128 + exit.signal : exit.code) : undefined;
  // A record never marked running has no run yet: any cleanup of it is its own.
  const ours = (row: ContainerRow): boolean => options.run === undefined || row.runId === null || row.runId === options.run;
  const current = table.get(id);
  // A later run owns the container (and its cgroup) now: an earlier run's cleanup is late.
  if (current && !ours(current)) return { exitCode, oomKilled: false };
  const ended = table.transition(
    id,
    ['running', 'paused', 'created'],
    {
      status: current?.status === 'created' ? 'created' : 'exited',
      pid: null,
      shimPid: null,
      shimStart: null,
      // No exit file: the shim died with its container (PDEATHSIG), which SIGKILL ended.
      exitCode: exitCode ?? (current?.status === 'created' ? null : 137),
      error: options.error ?? (current?.status !== 'created' && !exit ? "the container's monitor (whalebox-shim) died" : null),
      finishedAt: new Date().toISOString(),
    },
    ours,
  );
  // Someone else is ending this run right now: leave the cgroup to them.
  if (!ended && current && (current.status === 'running' || current.status === 'paused')) return { exitCode, oomKilled: false };
  const bundle = readBundle(id, dir);
  const { oomKilled } = bundle ? await deleteBundle(bundle) : { oomKilled: false };
  const stored = current ?? ended;
  if (stored) await networkAfterEnd(context, id, parseConfig(stored));
  if (!ended) return { exitCode, oomKilled };
  if (oomKilled) table.update(id, { oomKilled });
  const config = parseConfig(ended);
  const after = table.get(id);
  if (config.autoRemove) {
    removeContainer(context, id);
  } else if (options.run !== undefined && after && ended.status !== 'created' && shouldRestart(config.restart, exitCode ?? 137, after.restartCount, after.stopRequested)) {
    await restartContainer(context, id);
  }
  return { exitCode, oomKilled };
}

/** How long the exit command of a container that exited normally may take to record it. */
const EXIT_COMMAND_GRACE_MS = 10_000;

/**
 * Brings a record up to date with the host: a running container whose shim is gone and whose
 * exit the shim did not record (crash, kill -9, reboot), or whose exit command did not run
 * in time, has ended; its cleanup runs now. Returns the current row.
 */
export async function refreshContainer(context: Context, row: ContainerRow): Promise<ContainerRow> {
  if (row.status !== 'running' && row.status !== 'paused') return row;
  if (row.shimPid !== null && row.shimStart !== null && isSameProcessAlive(row.shimPid, row.shimStart)) return row;
  const recorded = exitFileTime(bundleDir(context, row.id));
  if (recorded !== undefined && Date.now() - recorded < EXIT_COMMAND_GRACE_MS) return row;
  await cleanupContainer(context, row.id);
  return containerTable(context).get(row.id) ?? { ...row, status: 'exited' };
}
