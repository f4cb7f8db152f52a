import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressBar } from './progress.js';

test('progress bars look like docker pull', () => {
  assert.equal(progressBar(0, 1000), `[>${' '.repeat(49)}]  0B/1kB`);
  assert.equal(progressBar(1_234_567, 3_400_000), `[${'='.repeat(18)}>${' '.repeat(31)}]  1.235MB/3.4MB`);
  assert.equal(progressBar(3_400_000, 3_400_000), `[${'='.repeat(50)}]  3.4MB/3.4MB`);
});
