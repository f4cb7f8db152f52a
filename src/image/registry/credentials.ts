import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { errnoCode, WhaleboxError } from '../../util/errors.js';

/**
 * Registry credentials in Docker's config.json format: `{"auths": {"<server>": {"auth":
 * base64("user:pass")}}}`. Whalebox writes only its own file ($WHALEBOX_CONFIG/config.json,
 * default ~/.whalebox) and reads Docker's ($DOCKER_CONFIG/config.json, default ~/.docker) after
 * it, so a `docker login` works here too while a whalebox login never changes Docker's state.
 * `credsStore` and `credHelpers` (external helper programs) are not run, but kept in the file.
 */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** Credentials and the file that holds them. */
export interface StoredCredentials extends Credentials {
  readonly file: string;
}

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  [key: string]: unknown;
}

/** Docker Hub's key, the legacy v1 URL that every Docker version writes and reads. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

export function whaleboxConfigFile(): string {
  return join(process.env.WHALEBOX_CONFIG || join(homedir(), '.whalebox'), 'config.json');
}

function dockerConfigFile(): string {
  return join(process.env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
}

/** The host a key or a login argument names (`https://host/v2/` → `host`); Docker Hub → docker.io. */
export function serverHost(server: string): string {
  const host = server.replace(/^https?:\/\//, '').split('/')[0]!;
  return DOCKER_HUB_HOSTS.has(host) ? 'docker.io' : host;
}

/** The key a login is stored under: the host, or Docker Hub's legacy URL. */
export function serverKey(server: string): string {
  const host = serverHost(server);
  return host === 'docker.io' ? DOCKER_HUB_KEY : host;
}

/** The credentials for a registry: whalebox's file first, then Docker's. */
export function findCredentials(server: string): StoredCredentials | undefined {
  const host = serverHost(server);
  for (const file of [whaleboxConfigFile(), dockerConfigFile()]) {
    const auths = readConfig(file)?.auths ?? {};
    // The key as login writes it first, then other spellings of the host (`https://host`, …).
    const keys = [serverKey(host), ...Object.keys(auths).filter((key) => serverHost(key) === host)];
    for (const key of keys) {
      const entry = auths[key];
      const credentials = entry === undefined ? undefined : decode(entry, file);
      if (credentials !== undefined) return { ...credentials, file };
    }
  }
  return undefined;
}

export function storeCredentials(server: string, credentials: Credentials): void {
  const file = whaleboxConfigFile();
  const config = readConfig(file) ?? {};
  const auths = withoutHost(config.auths ?? {}, serverHost(server));
  auths[serverKey(server)] = { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') };
  writeConfig(file, { ...config, auths });
}

/** Removes a registry's credentials from whalebox's file; false when it held none. */
export function removeCredentials(server: string): boolean {
  const file = whaleboxConfigFile();
  const config = readConfig(file);
  const auths = config?.auths ?? {};
  const kept = withoutHost(auths, serverHost(server));
  if (config === undefined || Object.keys(kept).length === Object.keys(auths).length) return false;
  writeConfig(file, { ...config, auths: kept });
  return true;
}

function withoutHost(auths: Record<string, AuthEntry>, host: string): Record<string, AuthEntry> {
  return Object.fromEntries(Object.entries(auths).filter(([key]) => serverHost(key) !== host));
}

/** `auth` (base64 of `user:pass`) or, as older files have it, `username` and `password`. */
function decode(entry: AuthEntry, file: string): Credentials | undefined {
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon <= 0) throw new WhaleboxError(`${file}: invalid auth configuration (an "auth" that is not base64 of user:password)`, 1);
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string' && entry.username !== '') {
    return { username: entry.username, password: entry.password };
  }
  return undefined; // an entry kept for a credsStore, or an identity token: nothing usable here
}

function readConfig(file: string): ConfigFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new WhaleboxError(`loading config file ${file}: ${(err as Error).message}`, 1);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw new WhaleboxError(`loading config file ${file}: ${(err as Error).message}`, 1);
  }
  const isObject = (value: unknown): boolean => typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isObject(config) || ((config as ConfigFile).auths !== undefined && !isObject((config as ConfigFile).auths))) {
    throw new WhaleboxError(`loading config file ${file}: not a config object with an "auths" object`, 1);
  }
  return config as ConfigFile;
}

/** Writes the whole file to a private temporary file, synced, then renamed over the old one. */
function writeConfig(file: string, config: ConfigFile): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(config, null, '\t')}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new WhaleboxError(`saving credentials to ${file}: ${(err as Error).message}`, 1);
  }
}
