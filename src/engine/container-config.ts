import { isAbsolute, posix } from 'node:path';
import { WhaleboxError } from '../util/errors.js';
import type { PortMapping, PortSpec } from '../network/ports.js';
import type { SecurityConfig } from './security-options.js';

/** What a container was asked to be: Docker's Config and HostConfig, as `run` parsed them. */
export interface ContainerConfig {
  readonly image: string;
  readonly name?: string;
  /** Arguments after the image; undefined means the image's Cmd. */
  readonly cmd?: string[];
  /** --entrypoint; undefined means the image's, '' clears it. */
  readonly entrypoint?: string;
  readonly env: string[];
  readonly workdir?: string;
  readonly user?: string;
  readonly hostname?: string;
  readonly tty: boolean;
  readonly interactive: boolean;
  readonly autoRemove: boolean;
  readonly volumes: BindVolume[];
  readonly tmpfs: TmpfsMount[];
  readonly readonlyRootfs: boolean;
  /** --network: bridge (the default), none, host, container:NAME, or a network's name or ID. */
  readonly network: string;
  /** --ip on a user-defined network. */
  readonly ip?: string;
  /** --network-alias: more names the container has on its network. */
  readonly networkAliases: string[];
  /** --add-host NAME:IP entries for its /etc/hosts. */
  readonly addHosts: string[];
  /** --dns servers for its /etc/resolv.conf (the host's when empty). */
  readonly dns: string[];
  readonly resources: Resources;
  readonly restart: RestartPolicy;
  readonly detach: boolean;
  readonly labels: Record<string, string>;
  /** -p/--publish, and with -P the image's and --expose's ports (host port 0: one is chosen at start). */
  readonly publish?: readonly PortSpec[];
  /** -P/--publish-all: every exposed port, on a port chosen at start (expanded into publish at create). */
  readonly publishAll?: boolean;
  /** --expose: ports the container exposes besides the image's. */
  readonly expose?: readonly string[];
  /** The published ports as resolved at start: what the firewall maps, `port` and `ps` print. */
  readonly ports?: readonly PortMapping[];
  /** --stop-signal, else the image's StopSignal (filled in at create). */
  readonly stopSignal?: string;
  /** --stop-timeout in seconds (Docker's default: 10). */
  readonly stopTimeout?: number;
  /** Filled in at create: the command that runs (entrypoint + cmd, resolved). */
  readonly process?: string[];
  /** Privileges and confinement; Docker's defaults when absent (records of older versions). */
  readonly security?: SecurityConfig;
}

/** A container of `image` with Docker's defaults for every setting (`run IMAGE`, before its flags). */
export function defaultContainerConfig(image: string): ContainerConfig {
  return {
    image,
    env: [],
    tty: false,
    interactive: false,
    autoRemove: false,
    volumes: [],
    tmpfs: [],
    readonlyRootfs: false,
    network: 'bridge',
    networkAliases: [],
    addHosts: [],
    dns: [],
    resources: {},
    restart: { name: 'no', maximumRetryCount: 0 },
    detach: false,
    labels: {},
  };
}

export interface RestartPolicy {
  readonly name: 'no' | 'always' | 'unless-stopped' | 'on-failure';
  /** on-failure only: restarts at most this many times (0: no limit). */
  readonly maximumRetryCount: number;
}

/** Docker's `--restart no|always|unless-stopped|on-failure[:N]`. */
export function parseRestart(value: string): RestartPolicy {
  const [name, count] = value.split(':');
  const invalid = new WhaleboxError(`invalid restart policy "${value}" (use no, always, unless-stopped or on-failure[:max-retries])`);
  if (name !== 'no' && name !== 'always' && name !== 'unless-stopped' && name !== 'on-failure') throw invalid;
  if (count !== undefined && (name !== 'on-failure' || !/^\d+$/.test(count))) {
    throw name === 'on-failure' ? invalid : new WhaleboxError(`maximum retry count cannot be used with restart policy '${name}'`);
  }
  return { name, maximumRetryCount: count === undefined ? 0 : Number(count) };
}

/** Whether a container that ended with `exitCode` restarts under its policy (Docker's rules). */
export function shouldRestart(policy: RestartPolicy, exitCode: number, restartCount: number, stopRequested: boolean): boolean {
  if (stopRequested) return false;
  switch (policy.name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return exitCode !== 0 && (policy.maximumRetryCount === 0 || restartCount < policy.maximumRetryCount);
    default:
      return false;
  }
}

/** Docker's `--label KEY=VALUE` (a bare KEY has an empty value). */
export function parseLabels(entries: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (!key) throw new WhaleboxError(`invalid label '${entry}': empty name`);
    labels[key] = eq < 0 ? '' : entry.slice(eq + 1);
  }
  return labels;
}

export interface BindVolume {
  readonly source: string;
  readonly destination: string;
  readonly readonly: boolean;
}

export interface TmpfsMount {
  readonly destination: string;
  readonly options: string[];
}

export interface Resources {
  readonly memory?: number;
  /** Memory plus swap; -1 unlimited. */
  readonly memorySwap?: number;
  readonly cpus?: number;
  readonly cpuShares?: number;
  readonly cpusetCpus?: string;
  readonly pidsLimit?: number;
}

/** Docker's `-v HOST:CONTAINER[:ro|rw]` for bind mounts (named volumes arrive later). */
export function parseVolume(spec: string): BindVolume {
  const parts = spec.split(':');
  const [source, destination, mode = 'rw'] = parts;
  const invalid = (why: string): WhaleboxError =>
    new WhaleboxError(`invalid volume specification: '${spec}': ${why}`);
  if (parts.length < 2 || parts.length > 3 || !source || !destination) {
    throw invalid('expected HOST-PATH:CONTAINER-PATH[:ro|rw]');
  }
  if (!isAbsolute(source)) throw invalid(`host path '${source}' must be absolute (named volumes are not supported yet)`);
  if (!isAbsolute(destination)) throw invalid(`mount path '${destination}' must be absolute`);
  checkDestination(destination, invalid);
  if (mode !== 'ro' && mode !== 'rw') throw invalid(`unknown mode '${mode}' (use ro or rw)`);
  return { source: posix.normalize(source), destination: posix.normalize(destination), readonly: mode === 'ro' };
}

/** Mounts over the root or over /proc would undo the container's isolation: refused, as runc does. */
function checkDestination(destination: string, invalid: (why: string) => WhaleboxError): void {
  const normalized = posix.normalize(destination);
  if (normalized === '/') throw invalid('invalid mount path: / is the container root');
  if (normalized === '/proc' || normalized.startsWith('/proc/')) throw invalid(`invalid mount path: ${normalized} is in /proc`);
}

/** Docker's tmpfs options (mount(8) ones a tmpfs understands); anything else is refused. */
const TMPFS_OPTION = /^(size=\d+[kmgKMG%]?|mode=[0-7]{3,4}|uid=\d+|gid=\d+|nr_inodes=\d+[kmgKMG]?|nr_blocks=\d+[kmgKMG]?|rw|ro|exec|noexec|suid|nosuid|dev|nodev|atime|noatime|relatime|strictatime|diratime|nodiratime|sync|async|dirsync|mand|nomand)$/;

/** Docker's `--tmpfs /path[:options]`; Docker adds noexec,nosuid,nodev. */
export function parseTmpfs(spec: string): TmpfsMount {
  const index = spec.indexOf(':');
  const destination = index < 0 ? spec : spec.slice(0, index);
  const invalid = (why: string): WhaleboxError => new WhaleboxError(`invalid tmpfs specification: '${spec}': ${why}`);
  if (!isAbsolute(destination)) throw invalid('mount path must be absolute');
  checkDestination(destination, invalid);
  const options = index < 0 ? [] : spec.slice(index + 1).split(',').filter(Boolean);
  const bad = options.find((option) => !TMPFS_OPTION.test(option));
  if (bad !== undefined) throw invalid(`unknown tmpfs option '${bad}'`);
  return { destination: posix.normalize(destination), options: ['noexec', 'nosuid', 'nodev', ...options] };
}

/**
 * `--network`: a mode (bridge, none, host, container:NAME) or a network's name; whether that
 * network exists is checked at create. Stored records of older versions say `default`: a
 * private namespace with only lo, which is `none` now.
 */
export function parseNetwork(value: string): string {
  if (value === '' || value === 'container:') throw new WhaleboxError(`invalid network mode: '${value}'`);
  return value === 'default' ? 'none' : value;
}

/** RFC 1123 host names: also what keeps a name from adding lines to another container's hosts file. */
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** `-h/--hostname` and `--network-alias`: a valid host name, as Docker requires. */
export function parseHostName(flag: string, value: string): string {
  if (!HOST_NAME.test(value) || value.length > 253) throw new WhaleboxError(`invalid argument "${value}" for "${flag}" flag: invalid hostname format`);
  return value;
}

/** `--add-host NAME:IP` (`host-gateway` is not known here: no daemon holds the host's address). */
export function parseAddHost(value: string): string {
  const colon = value.indexOf(':');
  const name = value.slice(0, colon);
  const ip = value.slice(colon + 1);
  if (colon <= 0 || !HOST_NAME.test(name) || !/^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-fA-F:]+$/.test(ip)) {
    throw new WhaleboxError(`invalid argument "${value}" for "--add-host" flag: invalid IP address in add-host: "${ip}"`);
  }
  return `${name}:${ip}`;
}

/** Docker's --env-file: KEY=VALUE lines, `#` comments, and bare KEY taken from the environment. */
export function parseEnvFile(text: string, environment: NodeJS.ProcessEnv): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/^\s+/, '').replace(/\r$/, ''))
    .filter((line) => line && !line.startsWith('#'))
    .flatMap((line) => expandEnv(line, environment));
}

/** `-e KEY=VALUE` as is; `-e KEY` takes KEY from the CLI's environment, or nothing. */
export function expandEnv(entry: string, environment: NodeJS.ProcessEnv): string[] {
  if (entry.includes('=')) {
    if (entry.startsWith('=')) throw new WhaleboxError(`invalid environment variable: ${entry}`);
    return [entry];
  }
  const value = environment[entry];
  return value === undefined ? [] : [`${entry}=${value}`];
}
