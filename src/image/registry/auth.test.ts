import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Authenticator, type FetchToken } from './auth.js';

const CHALLENGE = 'Bearer realm="https://auth.example/token",service="reg.example"';

/** A token server that counts its calls and answers with tokens `t1`, `t2`, … */
function tokenServer(expiresIn?: number): { fetch: FetchToken; calls: { url: URL; headers: Record<string, string> }[] } {
  const calls: { url: URL; headers: Record<string, string> }[] = [];
  const fetch: FetchToken = async (url, headers) => {
    calls.push({ url, headers });
    return { status: 200, statusText: 'OK', body: Buffer.from(JSON.stringify({ token: `t${calls.length}`, expires_in: expiresIn })) };
  };
  return { fetch, calls };
}

test('no Authorization before a challenge; Basic sends the stored credentials', async () => {
  const auth = new Authenticator(() => ({ username: 'u', password: 'p' }), tokenServer().fetch);
  assert.equal(await auth.authorization([]), undefined);
  assert.equal(auth.challenged('Basic realm="r"', []), true);
  assert.equal(await auth.authorization(['repository:a:pull']), `Basic ${Buffer.from('u:p').toString('base64')}`);
  assert.equal(auth.challenged('Negotiate', []), false, 'a challenge it cannot answer');
});

test('a Bearer token is fetched per scope set, with the credentials, and kept until near its expiry', async () => {
  let now = 1_000_000;
  const server = tokenServer(300);
  const auth = new Authenticator(() => ({ username: 'u', password: 'p' }), server.fetch, () => now);
  auth.challenged(`Basic realm="r", ${CHALLENGE}`, []);
  assert.equal(await auth.authorization(['repository:a:pull', 'repository:b:pull']), 'Bearer t1');
  const { url, headers } = server.calls[0]!;
  assert.equal(url.origin + url.pathname, 'https://auth.example/token');
  assert.equal(url.searchParams.get('service'), 'reg.example');
  assert.deepEqual(url.searchParams.getAll('scope'), ['repository:a:pull', 'repository:b:pull']);
  assert.equal(url.searchParams.get('account'), 'u');
  assert.equal(headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);

  assert.equal(await auth.authorization(['repository:b:pull', 'repository:a:pull']), 'Bearer t1', 'same scopes in another order');
  assert.equal(await auth.authorization(['repository:a:pull,push']), 'Bearer t2', 'other scopes, another token');
  now += 285_000;
  assert.equal(await auth.authorization(['repository:a:pull,push']), 'Bearer t2', 'still 15 s to go');
  now += 6_000;
  assert.equal(await auth.authorization(['repository:a:pull,push']), 'Bearer t3', 'too close to its expiry');
  assert.equal(server.calls.length, 3);
});

test('a refused token is forgotten; anonymous requests send no credentials; access_token is accepted', async () => {
  const calls: Record<string, string>[] = [];
  const fetch: FetchToken = async (_url, headers) => {
    calls.push(headers);
    return { status: 200, statusText: 'OK', body: Buffer.from(JSON.stringify({ access_token: `a${calls.length}` })) };
  };
  const auth = new Authenticator(() => undefined, fetch);
  auth.challenged(CHALLENGE, ['repository:a:pull']);
  assert.equal(await auth.authorization(['repository:a:pull']), 'Bearer a1');
  assert.deepEqual(calls[0], {});
  auth.challenged(CHALLENGE, ['repository:a:pull']);
  assert.equal(await auth.authorization(['repository:a:pull']), 'Bearer a2');
});

test("the token server's refusal becomes a message without the credentials", async () => {
  const fetch: FetchToken = async () => ({ status: 401, statusText: 'Unauthorized', body: Buffer.from('{"details":"incorrect username or password"}') });
  const auth = new Authenticator(() => ({ username: 'u', password: 'secret-pw' }), fetch);
  auth.challenged(CHALLENGE, []);
  await assert.rejects(auth.authorization([]), (err: Error) => err.message === 'unauthorized: incorrect username or password');
  const failing: FetchToken = async () => ({ status: 500, statusText: 'Internal Server Error', body: Buffer.from('') });
  const other = new Authenticator(() => undefined, failing);
  other.challenged(CHALLENGE, []);
  await assert.rejects(other.authorization(['repository:x:pull']), /token auth attempt for registry: https:\/\/auth.example\/token request failed with status: 500 Internal Server Error$/);
});
