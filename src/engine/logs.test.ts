import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLogLine, parseLogTime, timeNanos } from './logs.js';

test('k8s-file lines: full lines end in a newline, partial chunks do not', () => {
  assert.deepEqual(parseLogLine('2026-11-28T02:25:01.123456789Z stdout F hello world'), {
    time: '2026-11-28T02:25:01.123456789Z',
    stream: 'stdout',
    text: 'hello world\n',
  });
  assert.deepEqual(parseLogLine('2026-11-28T02:25:01.000000001Z stderr P part'), { time: '2026-11-28T02:25:01.000000001Z', stream: 'stderr', text: 'part' });
  assert.equal(parseLogLine('2026-11-28T02:25:01.1Z stdout F ')?.text, '\n');
  assert.equal(parseLogLine('garbage'), undefined);
});

test('times keep nanoseconds; --since takes RFC 3339, Unix times and durations', () => {
  assert.equal(timeNanos('1970-01-01T00:00:01.000000002Z'), 1_000_000_002n);
  assert.equal(parseLogTime('1.5'), 1_500_000_000n);
  assert.equal(parseLogTime('10m', 1_000_000), BigInt(1_000_000 - 600_000) * 1_000_000n);
  assert.equal(parseLogTime('1970-01-01T00:00:02Z'), 2_000_000_000n);
  assert.throws(() => parseLogTime('yesterday'), /invalid value/);
});
