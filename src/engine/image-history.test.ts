import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageConfig } from '../image/oci-image.js';
import { historyRows } from './image-history.js';

const config = (history: ImageConfig['history']): ImageConfig => ({
  architecture: 'amd64',
  os: 'linux',
  rootfs: { type: 'layers', diff_ids: [] },
  history,
});

test('rows are newest first, the image ID on top and <missing> below', () => {
  const rows = historyRows(
    'sha256:abc',
    config([
      { created: '2024-01-01T00:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:x in /' },
      { created: '2024-01-02T00:00:00Z', created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
      { created: '2024-01-03T00:00:00Z', created_by: 'RUN make', comment: 'buildkit.dockerfile.v0' },
    ]),
    [100, 20],
    ['app:1'],
  );
  assert.deepEqual(
    rows.map((row) => [row.id, row.created, row.size, row.comment, row.tags]),
    [
      ['sha256:abc', '2024-01-03T00:00:00Z', 20, 'buildkit.dockerfile.v0', ['app:1']],
      ['<missing>', '2024-01-02T00:00:00Z', 0, '', []],
      ['<missing>', '2024-01-01T00:00:00Z', 100, '', []],
    ],
  );
  assert.equal(rows[1]!.createdBy, '/bin/sh -c #(nop)  CMD ["sh"]');
});

test('an entry without a time gets Go zero time; no history gives no rows', () => {
  assert.equal(historyRows('sha256:abc', config([{ comment: 'Imported from -' }]), [5], [])[0]!.created, '0001-01-01T00:00:00Z');
  assert.deepEqual(historyRows('sha256:abc', config(undefined), [5], []), []);
});

test('more non-empty steps than layers is an error, as in Docker', () => {
  assert.throws(() => historyRows('sha256:abc', config([{}, {}]), [1], []), { message: 'too many non-empty layers in History section' });
});
