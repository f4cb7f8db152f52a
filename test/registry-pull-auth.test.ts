import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Store, storeForFile } from './helpers.js';
import { REGISTRY_PASSWORD, REGISTRY_USER, registryForFile } from './registry-server.js';

/** `push` and `pull` through the CLI against registries that authenticate: TLS with htpasswd, and a token server. */

const store = storeForFile();
const tls = registryForFile('tls');
const token = registryForFile('token');
const other = new Store();
const configDir = mkdtempSync(join(tmpdir(), 'whalebox-config-'));
after(() => {
  other.remove();
  rmSync(configDir, { recursive: true, force: true });
});

function env(certsDir?: string): NodeJS.ProcessEnv {
  return { WHALEBOX_CONFIG: join(configDir, 'whalebox'), DOCKER_CONFIG: join(configDir, 'docker'), ...(certsDir ? { WHALEBOX_CERTS_DIR: certsDir } : {}) };
}

test('TLS with a test CA and basic auth: login, push, pull; no credential is printed', () => {
  const options = { env: env(tls.certsDir) };
  const ref = `${tls.host}/secure/busybox:v1`;
  assert.equal(store.wb(['tag', 'busybox', ref]).status, 0);

  const anonymous = store.wb(['push', ref], options);
  assert.equal(anonymous.status, 1);
  assert.match(anonymous.stderr, /unauthorized|authentication required/);

  const wrong = store.wb(['login', '-u', REGISTRY_USER, '--password-stdin', tls.host], { ...options, input: 'not-the-password\n' });
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /401 Unauthorized|unauthorized/);
  assert.ok(!wrong.stderr.includes('not-the-password'));

  const login = store.wb(['login', '-u', REGISTRY_USER, '--password-stdin', tls.host], { ...options, input: `${REGISTRY_PASSWORD}\n` });
  assert.equal(login.status, 0, login.stderr);
  assert.match(login.stdout, /Login Succeeded/);

  const pushed = store.wb(['push', ref], options);
  assert.equal(pushed.status, 0, pushed.stderr);
  const pulled = other.wb(['pull', ref], options);
  assert.equal(pulled.status, 0, pulled.stderr);
  assert.equal(other.wb(['run', '--rm', ref, 'echo', 'over tls']).stdout, 'over tls\n');
  for (const output of [login, pushed, pulled]) {
    assert.ok(!`${output.stdout}${output.stderr}`.includes(REGISTRY_PASSWORD));
    assert.ok(!`${output.stdout}${output.stderr}`.includes(Buffer.from(`${REGISTRY_USER}:${REGISTRY_PASSWORD}`).toString('base64')));
  }

  // Without the CA the registry's certificate is refused, with a hint where the CA goes.
  const untrusted = other.wb(['pull', ref], { env: { ...env(), WHALEBOX_CERTS_DIR: join(configDir, 'empty') } });
  assert.equal(untrusted.status, 1);
  assert.match(untrusted.stderr, /certificate/);
});

test('a bearer-token registry: push and pull through the token server', () => {
  const ref = `${token.host}/tokens/busybox:v1`;
  assert.equal(store.wb(['tag', 'busybox', ref]).status, 0);
  const pushed = store.wb(['push', ref], { env: env() });
  assert.equal(pushed.status, 0, pushed.stderr);
  const pulled = other.wb(['pull', ref], { env: env() });
  assert.equal(pulled.status, 0, pulled.stderr);
  assert.ok(token.tokenRequests.some((request) => request.scopes.some((scope) => scope.includes('tokens/busybox') && scope.includes('push'))));
  assert.ok(token.tokenRequests.some((request) => request.scopes.some((scope) => scope === 'repository:tokens/busybox:pull')));
});
