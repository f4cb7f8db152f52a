import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unreferenced } from './image-gc.js';

test('a layer or blob another image still names is kept', () => {
  const base = { layers: ['sha256:base'], blobs: ['sha256:cfg1', 'sha256:man1', 'sha256:blob-base'] };
  const child = { layers: ['sha256:base', 'sha256:top'], blobs: ['sha256:cfg2', 'sha256:man2', 'sha256:blob-base', 'sha256:blob-top'] };
  assert.deepEqual(unreferenced([child], [base]), {
    layers: ['sha256:top'],
    blobs: ['sha256:cfg2', 'sha256:man2', 'sha256:blob-top'],
  });
  assert.deepEqual(unreferenced([base], [child]), { layers: [], blobs: ['sha256:cfg1', 'sha256:man1'] });
});

test('the last image frees everything it named, each once', () => {
  const one = { layers: ['sha256:l'], blobs: ['sha256:c1', 'sha256:m1', 'sha256:b'] };
  const two = { layers: ['sha256:l'], blobs: ['sha256:c2', 'sha256:m2', 'sha256:b'] };
  assert.deepEqual(unreferenced([one, two], []), {
    layers: ['sha256:l'],
    blobs: ['sha256:c1', 'sha256:m1', 'sha256:b', 'sha256:c2', 'sha256:m2'],
  });
});

test('nothing outside the doomed images is a candidate', () => {
  assert.deepEqual(unreferenced([], [{ layers: ['sha256:x'], blobs: ['sha256:y'] }]), { layers: [], blobs: [] });
});
