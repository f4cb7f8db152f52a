import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MS, parseMountOptions } from './mount-options.js';

test('flags and data are separated, later options win', () => {
  assert.deepEqual(parseMountOptions(['nosuid', 'strictatime', 'mode=755', 'size=65536k']), {
    flags: MS.NOSUID | MS.STRICTATIME,
    data: 'mode=755,size=65536k',
  });
  assert.deepEqual(parseMountOptions(['rbind', 'ro', 'rprivate', 'rw']), { flags: MS.BIND | MS.REC, data: '' });
});
