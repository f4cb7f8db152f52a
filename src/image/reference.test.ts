import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WhaleboxError } from '../util/errors.js';
import {
  familiarName,
  familiarString,
  parseNormalized,
  parseReference,
  referenceString,
  repositoryName,
} from './reference.js';

const HEX = 'a'.repeat(64);

test('normalizes like Docker (ParseDockerRef)', () => {
  const cases: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest'],
    ['user/app:v1', 'docker.io/user/app:v1'],
    ['user/ns/app', 'docker.io/user/ns/app:latest'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/ns/name:tag', 'localhost:5000/ns/name:tag'],
    ['host:5000/ns/name:tag', 'host:5000/ns/name:tag'],
    ['Registry.Example.com/app', 'Registry.Example.com/app:latest'],
    ['[::1]:5000/app:x', '[::1]:5000/app:x'],
    ['user/a_b.c__d-e---f:T_a.g-9', 'docker.io/user/a_b.c__d-e---f:T_a.g-9'],
    [`busybox@sha256:${HEX}`, `docker.io/library/busybox@sha256:${HEX}`],
    // Docker drops the tag when a digest pins the content.
    [`busybox:1.36@sha256:${HEX}`, `docker.io/library/busybox@sha256:${HEX}`],
    [`busybox:${'t'.repeat(128)}`, `docker.io/library/busybox:${'t'.repeat(128)}`],
  ];
  for (const [input, expected] of cases) {
    assert.equal(referenceString(parseReference(input)), expected, input);
  }
});

test('parseNormalized adds no tag', () => {
  assert.deepEqual(parseNormalized('busybox'), { domain: 'docker.io', path: 'library/busybox' });
  assert.deepEqual(parseNormalized('busybox:1'), { domain: 'docker.io', path: 'library/busybox', tag: '1' });
  assert.throws(() => parseNormalized('Busybox'), /must be lowercase/);
});

test('splits into domain, path, tag and digest', () => {
  assert.deepEqual(parseReference('localhost:5000/ns/name:tag'), {
    domain: 'localhost:5000',
    path: 'ns/name',
    tag: 'tag',
  });
  assert.deepEqual(parseReference(`name@sha256:${HEX}`), {
    domain: 'docker.io',
    path: 'library/name',
    digest: `sha256:${HEX}`,
  });
  assert.equal(repositoryName(parseReference('busybox:1')), 'docker.io/library/busybox');
});

test('familiar forms drop the default domain and library/', () => {
  const cases: Array<[string, string, string]> = [
    ['busybox', 'busybox', 'busybox:latest'],
    ['docker.io/library/busybox:1', 'busybox', 'busybox:1'],
    ['user/app', 'user/app', 'user/app:latest'],
    ['library/a/b', 'library/a/b', 'library/a/b:latest'],
    ['localhost:5000/x', 'localhost:5000/x', 'localhost:5000/x:latest'],
    ['quay.io/org/app:v2', 'quay.io/org/app', 'quay.io/org/app:v2'],
    [`app@sha256:${HEX}`, 'app', `app@sha256:${HEX}`],
  ];
  for (const [input, name, full] of cases) {
    const ref = parseReference(input);
    assert.equal(familiarName(ref), name, input);
    assert.equal(familiarString(ref), full, input);
  }
});

test('rejects invalid references with Docker messages and status 125', () => {
  const cases: Array<[string, string]> = [
    ['', 'invalid reference format'],
    ['Foo', 'invalid reference format: repository name (library/Foo) must be lowercase'],
    ['user/Foo:tag', 'invalid reference format: repository name (user/Foo) must be lowercase'],
    ['busybox:', 'invalid reference format'],
    ['busybox:-tag', 'invalid reference format'],
    [`busybox:${'t'.repeat(129)}`, 'invalid reference format'],
    ['bus box', 'invalid reference format'],
    ['-busybox', 'invalid reference format'],
    ['busybox-', 'invalid reference format'],
    ['a/b//c', 'invalid reference format'],
    ['busybox/', 'invalid reference format'],
    ['busybox@sha256:abc', 'invalid reference format'],
    ['a:b:c', 'invalid reference format'],
    ['../etc/passwd', 'invalid reference format'],
    ['a_b.c/app', 'invalid reference format'],
    [`busybox@sha256:${'a'.repeat(63)}b1`, `invalid checksum digest length: sha256:${'a'.repeat(63)}b1`],
    [`busybox@sha256:${'A'.repeat(64)}`, `invalid checksum digest format: sha256:${'A'.repeat(64)}`],
    [`busybox@md5:${'a'.repeat(32)}`, `unsupported digest algorithm: md5:${'a'.repeat(32)}`],
    [HEX, `invalid repository name (${HEX}), cannot specify 64-byte hexadecimal strings`],
    [
      `${'a'.repeat(250)}/bbbbbb`,
      'invalid reference format: repository name must not be more than 255 characters',
    ],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => parseReference(input),
      (err: unknown) => err instanceof WhaleboxError && err.exitCode === 125 && err.message === message,
      input,
    );
  }
});

test('long invalid names fail fast (no catastrophic backtracking)', () => {
  const started = performance.now();
  assert.throws(() => parseReference(`${'a'.repeat(5000)}!`));
  assert.throws(() => parseReference(`${'a-'.repeat(3000)}!`));
  assert.ok(performance.now() - started < 500);
});
