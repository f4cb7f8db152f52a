import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID, sign, X509Certificate } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { REPO } from './helpers.js';

/**
 * Debian's docker-registry (distribution 2.8, package docker-registry) for tests, on 127.0.0.1 on
 * a free port, with its own temporary storage and configuration. Three kinds:
 *
 * - `plain`: HTTP, no auth.
 * - `tls`: HTTPS with a test CA (`caFile`; `certsDir` is a certs.d holding `<host>/ca.crt`, for
 *   WHALEBOX_CERTS_DIR) and htpasswd basic auth with REGISTRY_USER / REGISTRY_PASSWORD.
 * - `token`: HTTP, token auth. A token server (this file run as a program: a test's spawnSync
 *   must not block it) answers the challenge: anonymous requests and REGISTRY_USER /
 *   REGISTRY_PASSWORD get every action their scope asks for, other credentials a 401.
 *   `tokenRequests` lists what it was asked.
 *
 * In a test file, `const registry = registryForFile('plain')` starts it before the file's tests
 * and stops it after them, failed or not; read `registry.host` inside tests. Elsewhere,
 * `await startRegistry(kind)` and `await registry.stop()`. Stopping kills only the registry this
 * helper started and removes its directory (also if the test process exits without stopping it).
 */

export type RegistryKind = 'plain' | 'tls' | 'token';

export const REGISTRY_USER = 'whalebox-tester';
export const REGISTRY_PASSWORD = 'Pw-7f3kq-only-in-tests';

export interface TokenRequest {
  /** The `scope` parameters, e.g. `repository:app:pull,push`. */
  readonly scopes: readonly string[];
  /** The user of the Basic credentials sent, or undefined for an anonymous request. */
  readonly user?: string;
  readonly granted: boolean;
}

export interface TestRegistry {
  readonly kind: RegistryKind;
  /** `127.0.0.1:PORT`, as an image reference's domain. */
  readonly host: string;
  /** `tls`: the CA certificate that signed the registry's. */
  readonly caFile?: string;
  /** `tls`: a certs.d directory with `<host>/ca.crt`, to pass as WHALEBOX_CERTS_DIR. */
  readonly certsDir?: string;
  /** `token`: every request the token server answered so far, oldest first. */
  readonly tokenRequests: readonly TokenRequest[];
  stop(): Promise<void>;
}

const REGISTRY_BINARY = '/usr/bin/docker-registry';
const TOKEN_SERVICE = 'whalebox-test-registry';
const TOKEN_ISSUER = 'whalebox-test-token-issuer';
const START_TIMEOUT_MS = 15_000;

/** Starts a registry before the file's tests and stops it after them, whatever they did. */
export function registryForFile(kind: RegistryKind): TestRegistry {
  let started: TestRegistry | undefined;
  before(async () => {
    started = await startRegistry(kind);
  });
  after(async () => {
    await started?.stop();
  });
  const running = (): TestRegistry => {
    if (started === undefined) throw new Error(`the ${kind} registry is not running: use it inside tests`);
    return started;
  };
  return {
    kind,
    get host() {
      return running().host;
    },
    get caFile() {
      return running().caFile;
    },
    get certsDir() {
      return running().certsDir;
    },
    get tokenRequests() {
      return running().tokenRequests;
    },
    stop: () => running().stop(),
  };
}

export async function startRegistry(kind: RegistryKind): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'whalebox-registry-'));
  const children: ChildProcess[] = [];
  // If the test process ends without stop(), what it started must not outlive it.
  const onExit = (): void => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);
  const stop = async (): Promise<void> => {
    process.off('exit', onExit);
    await Promise.all(children.map(stopChild));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const host = `127.0.0.1:${await freePort()}`;
    const http: Record<string, unknown> = { addr: host, secret: randomBytes(16).toString('hex') };
    const config: Record<string, unknown> = {
      version: '0.1',
      log: { level: 'error', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, 'storage') }, delete: { enabled: true } },
      http,
    };
    let caFile: string | undefined;
    let certsDir: string | undefined;
    if (kind === 'tls') {
      caFile = makeTlsFiles(dir);
      certsDir = join(dir, 'certs.d');
      mkdirSync(join(certsDir, host), { recursive: true });
      writeFileSync(join(certsDir, host, 'ca.crt'), readFileSync(caFile));
      http.tls = { certificate: join(dir, 'server.crt'), key: join(dir, 'server.key') };
      writeFileSync(join(dir, 'htpasswd'), run('htpasswd', ['-Bbn', REGISTRY_USER, REGISTRY_PASSWORD], dir));
      config.auth = { htpasswd: { realm: 'whalebox-test', path: join(dir, 'htpasswd') } };
    }
    if (kind === 'token') {
      run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'token.key', '-out', 'token.crt', '-subj', '/CN=Whalebox test token issuer', '-days', '2'], dir);
      const port = await freePort();
      const server = spawnChild(process.execPath, ['--import', 'tsx', import.meta.filename, TOKEN_SERVER_COMMAND, dir, String(port)], children, REPO);
      await waitFor(`http://127.0.0.1:${port}/ready`, undefined, server);
      config.auth = { token: { realm: `http://127.0.0.1:${port}/token`, service: TOKEN_SERVICE, issuer: TOKEN_ISSUER, rootcertbundle: join(dir, 'token.crt') } };
    }
    // JSON is YAML: the registry reads it as its config.yml.
    writeFileSync(join(dir, 'config.yml'), JSON.stringify(config, null, 2));
    // A clean environment: REGISTRY_* variables would override the configuration.
    const registry = spawnChild(REGISTRY_BINARY, ['serve', join(dir, 'config.yml')], children, dir, { PATH: process.env.PATH });
    await waitFor(`${caFile === undefined ? 'http' : 'https'}://${host}/v2/`, caFile, registry);
    return {
      kind,
      host,
      caFile,
      certsDir,
      get tokenRequests() {
        return tokenLog(dir);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface Child {
  readonly process: ChildProcess;
  /** The end of what it printed, for errors. */
  output(): string;
}

function spawnChild(command: string, args: string[], children: ChildProcess[], cwd: string, env = process.env): Child {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (data: Buffer) => (output = (output + data.toString()).slice(-4000)));
  return { process: child, output: () => output };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args[0]} failed: ${result.error?.message ?? result.stderr}`);
  return result.stdout;
}

/** A CA, and a server certificate it signs for 127.0.0.1 and localhost; returns the CA's file. */
function makeTlsFiles(dir: string): string {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('openssl', ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=Whalebox test CA', '-days', '2'], dir);
  run('openssl', ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n',
  );
  run('openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext'], dir);
  return join(dir, 'ca.crt');
}

/** The argument that runs this file as the token server, and the file where it logs requests. */
const TOKEN_SERVER_COMMAND = 'token-server';
const TOKEN_LOG = 'token-requests.jsonl';

/**
 * The token server of the `token` kind, run as its own process: JWTs signed RS256 with the key
 * whose certificate is the registry's rootcertbundle, and travels in the `x5c` header.
 */
function serveTokens(dir: string, port: number): void {
  const key = readFileSync(join(dir, 'token.key'), 'utf8');
  const certificate = new X509Certificate(readFileSync(join(dir, 'token.crt'))).raw.toString('base64');
  const expected = `Basic ${Buffer.from(`${REGISTRY_USER}:${REGISTRY_PASSWORD}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token');
    if (url.pathname === '/ready') return res.end();
    const scopes = url.searchParams.getAll('scope');
    const authorization = req.headers.authorization;
    const user = authorization === undefined ? undefined : Buffer.from(authorization.replace(/^Basic /, ''), 'base64').toString().split(':')[0];
    const granted = url.pathname === '/token' && (authorization === undefined || authorization === expected);
    appendFileSync(join(dir, TOKEN_LOG), `${JSON.stringify({ scopes, user, granted })}\n`);
    if (!granted) return res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: TOKEN_ISSUER,
      sub: user ?? '',
      aud: url.searchParams.get('service') ?? TOKEN_SERVICE,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access: scopes.map((scope) => {
        const parts = scope.split(':');
        return { type: parts[0], name: parts.slice(1, -1).join(':'), actions: parts.at(-1)!.split(',') };
      }),
    };
    const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const signed = `${encode({ alg: 'RS256', typ: 'JWT', x5c: [certificate] })}.${encode(claims)}`;
    const token = `${signed}.${sign('sha256', Buffer.from(signed), key).toString('base64url')}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }));
  });
  server.listen(port, '127.0.0.1');
  // Its parent's stop() ends it with SIGTERM.
  process.on('SIGTERM', () => process.exit(0));
}

function tokenLog(dir: string): TokenRequest[] {
  const file = join(dir, TOKEN_LOG);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as TokenRequest);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `url` until it answers: 200, or 401 from a registry that wants credentials. */
async function waitFor(url: string, caFile: string | undefined, child: Child): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const ca = caFile === undefined ? undefined : readFileSync(caFile);
  for (;;) {
    const { exitCode, signalCode } = child.process;
    if (exitCode !== null || signalCode !== null) throw new Error(`${child.process.spawnfile} exited: ${child.output()}`);
    const status = await new Promise<number | undefined>((resolve) => {
      const done = (res: IncomingMessage): void => {
        res.resume();
        resolve(res.statusCode);
      };
      const request = ca === undefined ? httpGet(url, done) : httpsGet(url, { ca }, done);
      request.on('error', () => resolve(undefined));
    });
    if (status === 200 || status === 401) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer in ${START_TIMEOUT_MS / 1000} s: ${child.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

if (process.argv[2] === TOKEN_SERVER_COMMAND && process.argv[1] === import.meta.filename) {
  serveTokens(process.argv[3]!, Number(process.argv[4]));
}
