import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { RegistryClient } from '../src/image/registry/client.js';
import { Store } from './helpers.js';
import { REGISTRY_PASSWORD, REGISTRY_USER, registryForFile } from './registry-server.js';

/**
 * login, logout and the registry client against Debian's docker-registry: TLS with htpasswd,
 * token auth, and plain HTTP.
 */

const store = new Store();
after(() => store.remove());
const tls = registryForFile('tls');
const token = registryForFile('token');
const plain = registryForFile('plain');

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const basicAuth = (user: string, password: string): string => Buffer.from(`${user}:${password}`).toString('base64');

/** Config directories of one test (whalebox's and Docker's), used by the CLI and this process alike. */
function configDirs(name: string, certsDir?: string): NodeJS.ProcessEnv {
  const env = { WHALEBOX_CONFIG: join(store.dir, name, 'whalebox'), DOCKER_CONFIG: join(store.dir, name, 'docker'), WHALEBOX_CERTS_DIR: certsDir };
  Object.assign(process.env, env);
  return env;
}

/** Every file under the test's directory, but whalebox's config.json, that holds `secret`. */
function filesHolding(secret: string): string[] {
  return readdirSync(store.dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(store.dir, name))
    .filter((file) => statSync(file).isFile() && !file.endsWith('/whalebox/config.json') && readFileSync(file).includes(secret));
}

/** Pushes an image (config blob in one PUT, layer in chunks) and a manifest, then reads them all back. */
async function roundTrip(client: RegistryClient, repository: string): Promise<string> {
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const layer = randomBytes(3000);
  for (const blob of [config, layer]) {
    assert.equal(await client.blobExists(repository, sha256(blob)), false);
    await client.uploadBlob(repository, sha256(blob), blob.length, () => Readable.from([blob]));
    assert.equal(await client.blobExists(repository, sha256(blob)), true);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    }),
  );
  assert.equal(await client.putManifest(repository, 'v1', OCI_MANIFEST, manifest), sha256(manifest));
  assert.deepEqual(await client.getManifest(repository, 'v1', [OCI_MANIFEST]), { mediaType: OCI_MANIFEST, digest: sha256(manifest), bytes: manifest });
  assert.deepEqual((await client.getManifest(repository, sha256(manifest), [OCI_MANIFEST])).bytes, manifest);
  const { stream, size } = await client.fetchBlob(repository, sha256(layer));
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  assert.deepEqual([size, Buffer.concat(chunks)], [layer.length, layer]);
  assert.equal(await client.mountBlob(`${repository}-copy`, sha256(layer), repository), true);
  assert.equal(await client.blobExists(`${repository}-copy`, sha256(layer)), true);
  assert.deepEqual(await client.listTags(repository), ['v1']);
  return sha256(manifest);
}

describe('TLS registry with htpasswd', () => {
  test('an untrusted certificate is refused with where to put the CA', () => {
    const env = configDirs('untrusted', join(store.dir, 'untrusted', 'certs.d'));
    const result = store.wb(['login', '-u', REGISTRY_USER, '--password-stdin', tls.host], { input: REGISTRY_PASSWORD, env });
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`^whalebox: Get "https://${tls.host}/v2/": tls: failed to verify certificate: .*put its CA certificate in .*/untrusted/certs\\.d/${tls.host}/ca\\.crt\\)\\n$`));
  });

  test('a wrong password is one line and exit 1, and nothing is stored', () => {
    const env = configDirs('wrong', tls.certsDir);
    const result = store.wb(['login', '-u', REGISTRY_USER, '--password-stdin', tls.host], { input: 'not-the-password\n', env });
    assert.deepEqual(
      [result.status, result.stdout, result.stderr],
      [1, '', `whalebox: login attempt to https://${tls.host}/v2/ failed with status: 401 Unauthorized\n`],
    );
    assert.equal(existsSync(join(env.WHALEBOX_CONFIG!, 'config.json')), false);
  });

  test('without a terminal, a missing password is an error', () => {
    const env = configDirs('no-tty', tls.certsDir);
    const result = store.wb(['login', '-u', REGISTRY_USER, tls.host], { env });
    assert.deepEqual([result.status, result.stderr], [1, 'whalebox: Cannot perform an interactive login from a non TTY device\n']);
  });

  test('login stores the credentials (0600, nowhere else); the client uses them; logout removes them', async () => {
    const env = configDirs('login', tls.certsDir);
    const loggedIn = store.wb(['login', '-u', REGISTRY_USER, '-p', REGISTRY_PASSWORD, tls.host], { env });
    assert.equal(loggedIn.stdout, 'Login Succeeded\n');
    assert.match(loggedIn.stderr, /^WARNING! Using --password via the CLI is insecure\. Use --password-stdin\.\n/);
    assert.equal(loggedIn.status, 0);
    const file = join(env.WHALEBOX_CONFIG!, 'config.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const config = JSON.parse(readFileSync(file, 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.deepEqual(config.auths, { [tls.host]: { auth: basicAuth(REGISTRY_USER, REGISTRY_PASSWORD) } });

    const again = store.wb(['login', tls.host], { env });
    assert.deepEqual([again.status, again.stdout], [0, 'Authenticating with existing credentials...\nLogin Succeeded\n']);
    for (const output of [loggedIn.stdout, loggedIn.stderr, again.stdout, again.stderr]) {
      assert.ok(!output.includes(REGISTRY_PASSWORD), 'the password is not printed');
    }

    const digest = await roundTrip(new RegistryClient(tls.host, { chunkSize: 1024 }), 'secure/app');
    assert.deepEqual(filesHolding(REGISTRY_PASSWORD), []);
    assert.deepEqual(filesHolding(basicAuth(REGISTRY_USER, REGISTRY_PASSWORD)), []);

    writeFileSync(file, JSON.stringify({ ...config, psFormat: 'table {{.ID}}' }));
    assert.equal(store.wb(['logout', tls.host], { env }).stdout, `Removing login credentials for ${tls.host}\n`);
    assert.equal(store.wb(['logout', tls.host], { env }).stdout, `Not logged in to ${tls.host}\n`);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { auths: {}, psFormat: 'table {{.ID}}' });
    await assert.rejects(new RegistryClient(tls.host).getManifest('secure/app', digest, [OCI_MANIFEST]), /^WhaleboxError: unauthorized: authentication required$/);
  });

  test("Docker's config.json is used when whalebox has no login, and left as it is", () => {
    const env = configDirs('docker-file', tls.certsDir);
    mkdirSync(env.DOCKER_CONFIG!, { recursive: true });
    const dockerFile = join(env.DOCKER_CONFIG!, 'config.json');
    const text = JSON.stringify({ auths: { [`https://${tls.host}`]: { auth: basicAuth(REGISTRY_USER, REGISTRY_PASSWORD) } }, credsStore: 'none' });
    writeFileSync(dockerFile, text);
    const result = store.wb(['login', tls.host], { env });
    assert.deepEqual([result.status, result.stdout], [0, 'Authenticating with existing credentials...\nLogin Succeeded\n']);
    const logout = store.wb(['logout', tls.host], { env });
    assert.equal(logout.stdout, `Not logged in to ${tls.host}\n`);
    assert.match(logout.stderr, /still holds credentials/);
    assert.equal(readFileSync(dockerFile, 'utf8'), text);
  });
});

describe('registry with token auth', () => {
  test('an anonymous client meets the challenge, gets a token per scope, and pushes and pulls', async () => {
    configDirs('anonymous');
    await roundTrip(new RegistryClient(token.host, { chunkSize: 1024 }), 'anon/app');
    const asked = token.tokenRequests.map(({ scopes, user, granted }) => ({ scope: scopes.join(' '), user, granted }));
    assert.ok(asked.every(({ user, granted }) => user === undefined && granted));
    assert.deepEqual(
      [...new Set(asked.map(({ scope }) => scope))].sort(),
      ['repository:anon/app-copy:pull', 'repository:anon/app-copy:pull,push repository:anon/app:pull', 'repository:anon/app:pull', 'repository:anon/app:pull,push'],
    );
    assert.equal(asked.filter(({ scope }) => scope === 'repository:anon/app:pull,push').length, 1, 'the push token is fetched once and kept');
  });

  test('login with the right credentials succeeds, with wrong ones fails; the client then sends them', async () => {
    const env = configDirs('token-login');
    const wrong = store.wb(['login', '-u', REGISTRY_USER, '--password-stdin', token.host], { input: 'wrong', env });
    assert.deepEqual([wrong.status, wrong.stderr], [1, 'whalebox: unauthorized: incorrect username or password\n']);
    const right = store.wb(['login', '-u', REGISTRY_USER, '--password-stdin', token.host], { input: `${REGISTRY_PASSWORD}\n`, env });
    assert.deepEqual([right.status, right.stdout], [0, 'Login Succeeded\n']);
    assert.equal(await new RegistryClient(token.host).blobExists('user/app', sha256(Buffer.from('none'))), false);
    assert.deepEqual(token.tokenRequests.at(-1), { scopes: ['repository:user/app:pull'], user: REGISTRY_USER, granted: true });
  });
});

describe('plain HTTP registry', () => {
  test('the client falls back from HTTPS on 127.0.0.1 and pushes and pulls without auth', async () => {
    configDirs('plain');
    await roundTrip(new RegistryClient(plain.host), 'plain/app');
    await assert.rejects(
      new RegistryClient(plain.host).getManifest('plain/app', 'nope', [OCI_MANIFEST]),
      new RegExp(`^WhaleboxError: manifest for ${plain.host}/plain/app:nope not found: manifest unknown: manifest unknown$`),
    );
  });
});
