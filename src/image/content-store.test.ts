import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { storePaths, type StorePaths } from '../store/paths.js';
import { WhaleboxError } from '../util/errors.js';
import { createBlobWriter, hasBlob, putBlob, putBlobStream, readBlob } from './content-store.js';

function withStore(fn: (paths: StorePaths) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const root = mkdtempSync(join(tmpdir(), 'whalebox-cs-'));
    try {
      await fn(storePaths(root, join(root, 'run')));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };
}

const digestOf = (data: string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Only blobs, no temporary files, anywhere under blobs/. */
function assertClean(paths: StorePaths, blobs: string[]): void {
  assert.deepEqual(readdirSync(dirname(paths.blobs)), ['sha256']);
  assert.deepEqual(readdirSync(paths.blobs).sort(), blobs.map((digest) => digest.slice(7)).sort());
}

test(
  'stores bytes under their digest, once',
  withStore((paths) => {
    const digest = putBlob(paths, Buffer.from('hello'));
    assert.equal(digest, digestOf('hello'));
    assert.equal(putBlob(paths, Buffer.from('hello'), digest), digest);
    assert.ok(hasBlob(paths, digest));
    assert.equal(readBlob(paths, digest).toString(), 'hello');
    assert.equal(statSync(join(paths.blobs, digest.slice(7))).mode & 0o777, 0o644);
    assert.ok(!hasBlob(paths, digestOf('other')));
    assertClean(paths, [digest]);
  }),
);

test(
  'a digest mismatch stores nothing',
  withStore((paths) => {
    assert.throws(
      () => putBlob(paths, Buffer.from('tampered'), digestOf('original')),
      (err: unknown) => err instanceof WhaleboxError && /content digest mismatch: expected sha256:/.test(err.message),
    );
    assertClean(paths, []);
  }),
);

test(
  'stores a stream; a failing stream stores nothing',
  withStore(async (paths) => {
    const stored = await putBlobStream(paths, Readable.from([Buffer.from('ab'), Buffer.from('c')]), digestOf('abc'));
    assert.deepEqual(stored, { digest: digestOf('abc'), size: 3 });
    const failing = new Readable({
      read() {
        this.destroy(new Error('connection reset'));
      },
    });
    await assert.rejects(putBlobStream(paths, failing), /connection reset/);
    assertClean(paths, [stored.digest]);
  }),
);

test(
  'an aborted writer leaves nothing',
  withStore((paths) => {
    const writer = createBlobWriter(paths);
    writer.write(Buffer.from('partial'));
    writer.abort();
    assertClean(paths, []);
  }),
);
