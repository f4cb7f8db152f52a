import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WhaleboxError } from '../util/errors.js';
import { parseManifest, parsePlatform, selectPlatform } from './manifest.js';

const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const entry = (c: string, architecture: string, variant?: string) => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digest(c),
  size: 100,
  platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
});
const INDEX = [entry('1', 'amd64'), entry('2', 'arm', 'v6'), entry('3', 'arm', 'v7'), entry('4', 'arm64', 'v8'), entry('5', 's390x')];

test('platform selection follows containerd: os/arch, variants, aliases', () => {
  const pick = (text: string): string => selectPlatform(INDEX, parsePlatform(text), 'app').digest;
  assert.equal(pick('linux/amd64'), digest('1'));
  assert.equal(pick('linux/x86_64'), digest('1'));
  assert.equal(pick('linux/arm64'), digest('4'));
  assert.equal(pick('linux/aarch64'), digest('4'));
  assert.equal(pick('linux/arm/v7'), digest('3'));
  assert.equal(pick('linux/arm'), digest('2'));
  assert.throws(() => pick('linux/riscv64'), (err: unknown) => err instanceof WhaleboxError && /no matching manifest for linux\/riscv64/.test(err.message));
  assert.throws(() => parsePlatform('linux/amd64/x/y'), /invalid platform/);
  assert.equal(parsePlatform(undefined).os, 'linux');
});

test('manifests are told apart by their content; schema 1 and garbage are refused', () => {
  const image = { schemaVersion: 2, config: { mediaType: 'c', digest: digest('a'), size: 1 }, layers: [{ mediaType: 'l', digest: digest('b'), size: 2 }] };
  assert.equal(parseManifest(Buffer.from(JSON.stringify(image)), '').kind, 'image');
  assert.equal(parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: INDEX })), '').kind, 'index');
  assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":1}'), ''), /schema 1/);
  assert.throws(() => parseManifest(Buffer.from('nope'), ''), /not JSON/);
  const bad = { ...image, layers: [{ mediaType: 'l', digest: 'sha256:../../etc', size: 2 }] };
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify(bad)), 'application/vnd.oci.image.manifest.v1+json'), /invalid manifest/);
});
