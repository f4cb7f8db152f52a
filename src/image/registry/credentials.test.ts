import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, test } from 'node:test';
import { findCredentials, removeCredentials, serverHost, serverKey, storeCredentials } from './credentials.js';

const dir = mkdtempSync(join(tmpdir(), 'whalebox-credentials-'));
const whalebox = join(dir, 'whalebox');
const docker = join(dir, 'docker');
process.env.WHALEBOX_CONFIG = whalebox;
process.env.DOCKER_CONFIG = docker;
after(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  rmSync(whalebox, { recursive: true, force: true });
  rmSync(docker, { recursive: true, force: true });
});

const auth = (user: string, password: string): string => Buffer.from(`${user}:${password}`).toString('base64');
const readJson = (file: string): Record<string, unknown> => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

test('server names: schemes and paths dropped, Docker Hub under its legacy key', () => {
  assert.equal(serverHost('https://127.0.0.1:5000'), '127.0.0.1:5000');
  assert.equal(serverHost('http://reg.example/v2/'), 'reg.example');
  assert.equal(serverKey('docker.io'), 'https://index.docker.io/v1/');
  assert.equal(serverKey('https://index.docker.io/v1/'), 'https://index.docker.io/v1/');
  assert.equal(serverKey('registry-1.docker.io'), 'https://index.docker.io/v1/');
});

test('a stored login round-trips through a private file that keeps unknown keys', () => {
  mkdirSync(whalebox);
  writeFileSync(join(whalebox, 'config.json'), JSON.stringify({ credsStore: 'pass', proxies: { a: 1 }, auths: { 'other.example': { auth: auth('o', 'p') } } }));
  storeCredentials('127.0.0.1:5000', { username: 'me', password: 'pa:ss' });
  const file = join(whalebox, 'config.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readJson(file), {
    credsStore: 'pass',
    proxies: { a: 1 },
    auths: { 'other.example': { auth: auth('o', 'p') }, '127.0.0.1:5000': { auth: auth('me', 'pa:ss') } },
  });
  assert.deepEqual(findCredentials('127.0.0.1:5000'), { username: 'me', password: 'pa:ss', file });
  assert.deepEqual(readdirSync(whalebox), ['config.json'], 'no temporary file is left');
});

test("Docker's file is read when whalebox's has no entry, and never written", () => {
  mkdirSync(docker);
  const dockerFile = join(docker, 'config.json');
  const dockerText = JSON.stringify({ auths: { 'https://reg.example/v2/': { auth: auth('d', 'dp') }, 'https://index.docker.io/v1/': { username: 'hub', password: 'hp' } } });
  writeFileSync(dockerFile, dockerText);
  assert.deepEqual(findCredentials('reg.example'), { username: 'd', password: 'dp', file: dockerFile });
  assert.deepEqual(findCredentials('docker.io'), { username: 'hub', password: 'hp', file: dockerFile });
  storeCredentials('reg.example', { username: 'w', password: 'wp' });
  assert.equal(findCredentials('reg.example')?.username, 'w', "whalebox's own file comes first");
  assert.equal(readFileSync(dockerFile, 'utf8'), dockerText);
  assert.equal(findCredentials('nowhere.example'), undefined);
});

test('logout removes every spelling of the host and reports whether there was one', () => {
  mkdirSync(whalebox);
  writeFileSync(join(whalebox, 'config.json'), JSON.stringify({ auths: { 'https://reg.example': { auth: auth('a', 'b') }, keep: {} }, x: 1 }));
  storeCredentials('reg.example', { username: 'a', password: 'c' });
  assert.deepEqual(Object.keys((readJson(join(whalebox, 'config.json')).auths as object)), ['keep', 'reg.example']);
  assert.equal(removeCredentials('reg.example'), true);
  assert.equal(removeCredentials('reg.example'), false);
  assert.deepEqual(readJson(join(whalebox, 'config.json')), { auths: { keep: {} }, x: 1 });
});

test('an entry with no usable secret (a credsStore placeholder) is passed over', () => {
  mkdirSync(whalebox);
  mkdirSync(docker);
  writeFileSync(join(whalebox, 'config.json'), JSON.stringify({ auths: { 'reg.example': {} } }));
  writeFileSync(join(docker, 'config.json'), JSON.stringify({ auths: { 'reg.example': { auth: auth('d', 'p') } } }));
  assert.equal(findCredentials('reg.example')?.username, 'd');
});

test('a malformed file is an error that names it', () => {
  mkdirSync(whalebox);
  writeFileSync(join(whalebox, 'config.json'), '{"auths": [');
  assert.throws(() => findCredentials('reg.example'), /loading config file .*whalebox\/config\.json/);
});
