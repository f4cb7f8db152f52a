import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorSummary, PlainProgress } from './build-progress.js';

test("plain progress numbers vertices, prefixes a RUN's output lines, and keeps the failed step's tail", () => {
  let text = '';
  const progress = new PlainProgress((chunk) => (text += chunk));
  progress.vertex('[1/2] FROM docker.io/library/busybox:latest').cached();
  const run = progress.vertex('[2/2] RUN make');
  run.output(Buffer.from('compiling\nlin'));
  run.output(Buffer.from('king\nno newline'));
  run.fail('exit code: 2');
  assert.match(text, /^#1 \[1\/2\] FROM docker\.io\/library\/busybox:latest\n#1 CACHED\n\n#2 \[2\/2\] RUN make\n/);
  assert.match(text, /\n#2 \d+\.\d{3} compiling\n#2 \d+\.\d{3} linking\n#2 \d+\.\d{3} no newline\n#2 ERROR: exit code: 2\n\n$/);
  assert.deepEqual(progress.failure, { name: '[2/2] RUN make', tail: ['compiling', 'linking', 'no newline'] });
});

test('the error summary shows the Dockerfile lines around the instruction, marked', () => {
  const dockerfile = 'FROM busybox\nENV A=1\nRUN false\nCMD ["sh"]\n';
  const summary = errorSummary('exit code: 1', 'Dockerfile', dockerfile, { line: 3, endLine: 3 }, { name: '[2/2] RUN false', tail: ['oops'] });
  assert.equal(
    summary,
    [
      '------',
      ' > [2/2] RUN false:',
      'oops',
      '------',
      'Dockerfile:3',
      '--------------------',
      '   1 |     FROM busybox',
      '   2 |     ENV A=1',
      '   3 | >>> RUN false',
      '   4 |     CMD ["sh"]',
      '   5 |',
      '--------------------',
      'ERROR: failed to solve: exit code: 1',
      '',
    ].join('\n'),
  );
  assert.equal(errorSummary('no stages', 'Dockerfile', '', undefined, undefined), 'ERROR: failed to solve: no stages\n');
});
