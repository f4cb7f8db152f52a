import { isAbsolute } from 'node:path';
import { WhaleboxError } from '../util/errors.js';

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
  readonly network: NetworkMode;
  readonly resources: Resources;
}

export type NetworkMode = 'default' | 'none' | 'host';

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
  if (destination === '/') throw invalid('invalid mount path: / is the container root');
  if (mode !== 'ro' && mode !== 'rw') throw invalid(`unknown mode '${mode}' (use ro or rw)`);
  return { source, destination, readonly: mode === 'ro' };
}

/** Docker's `--tmpfs /path[:options]`; Docker adds noexec,nosuid,nodev. */
export function parseTmpfs(spec: string): TmpfsMount {
  const index = spec.indexOf(':');
  const destination = index < 0 ? spec : spec.slice(0, index);
  if (!isAbsolute(destination)) {
    throw new WhaleboxError(`invalid tmpfs specification: '${spec}': mount path must be absolute`);
  }
  const options = index < 0 ? [] : spec.slice(index + 1).split(',').filter(Boolean);
  return { destination, options: ['noexec', 'nosuid', 'nodev', ...options] };
}

/** `--network`: until bridge networking lands, the default is a private namespace with lo. */
export function parseNetwork(value: string): NetworkMode {
  if (value === 'none' || value === 'host' || value === 'default') return value;
  throw new WhaleboxError(`network ${value} not found (available: none, host; the default is an isolated network namespace with only lo)`);
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
