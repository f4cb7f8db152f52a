import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseChallenges } from './challenge.js';

test('one Bearer challenge with a quoted scope holding a comma', () => {
  assert.deepEqual(
    parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'),
    [{ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } }],
  );
});

test('several challenges in one header, and in repeated headers', () => {
  const expected = [
    { scheme: 'basic', params: { realm: 'Registry, with comma' } },
    { scheme: 'bearer', params: { realm: 'http://127.0.0.1:1/token', service: 's' } },
  ];
  assert.deepEqual(parseChallenges('Basic realm="Registry, with comma", Bearer realm="http://127.0.0.1:1/token", service=s'), expected);
  assert.deepEqual(parseChallenges(['Basic realm="Registry, with comma"', 'Bearer realm="http://127.0.0.1:1/token",service=s']), expected);
});

test('scheme and parameter names are case-insensitive; escapes and spaces around = are read', () => {
  assert.deepEqual(parseChallenges('BASIC Realm = "a \\"quoted\\" word"'), [{ scheme: 'basic', params: { realm: 'a "quoted" word' } }]);
});

test('no header, an empty one, or a bare scheme', () => {
  assert.deepEqual(parseChallenges(undefined), []);
  assert.deepEqual(parseChallenges(''), []);
  assert.deepEqual(parseChallenges('Basic'), [{ scheme: 'basic', params: {} }]);
});
