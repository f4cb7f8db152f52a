import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { isAbandoned, scratchName } from './scratch.js';

test('scratch names belong to their process while it runs', () => {
  const mine = scratchName('tmp-');
  assert.match(mine, new RegExp(`^tmp-${process.pid}\\.\\d+-[0-9a-f]{12}$`));
  assert.equal(isAbandoned(mine, 'tmp-'), false);
  // A process that has exited, and a name from before owners were recorded.
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  assert.equal(isAbandoned(`tmp-${gone}.12345-abcdef`, 'tmp-'), true);
  assert.equal(isAbandoned('tmp-0123456789abcdef', 'tmp-'), true);
  assert.equal(isAbandoned(mine, 'trash-'), false);
});
