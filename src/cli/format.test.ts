import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesSize, formatG, formatTable, humanDuration, humanSize } from './format.js';

test('humanSize matches go-units HumanSizeWithPrecision(size, 3)', () => {
  const cases: Array<[number, string]> = [
    [0, '0B'],
    [1, '1B'],
    [816, '816B'],
    [999, '999B'],
    [1000, '1kB'],
    [1200, '1.2kB'],
    [1024, '1.02kB'],
    [1125, '1.12kB'], // an exact tie rounds half to even, as strconv does
    [1135, '1.14kB'],
    [1015, '1.01kB'], // 1.015 is 1.01499999… as a double
    [4_261_683, '4.26MB'],
    [4_265_000, '4.26MB'], // 4.265 is 4.26499999… as a double
    [12_345_678, '12.3MB'],
    [999_999, '1e+03kB'], // Docker prints this too
    [1_000_000, '1MB'],
    [123_456_789_012, '123GB'],
    [2 ** 70, '1.18ZB'],
    [1e30, '1e+06YB'],
  ];
  for (const [bytes, expected] of cases) assert.equal(humanSize(bytes), expected, String(bytes));
  assert.equal(humanSize(4_261_683, 4), '4.262MB');
});

test('bytesSize matches go-units BytesSize (base 1024, %.4g)', () => {
  const cases: Array<[number, string]> = [
    [0, '0B'],
    [512, '512B'],
    [1023, '1023B'],
    [1024, '1KiB'],
    [1536, '1.5KiB'],
    [1_609_728, '1.535MiB'],
    [20 * 1024 * 1024, '20MiB'],
    [1_048_575, '1024KiB'], // 1023.999… rounds up to 4 digits without changing unit, as in Go
    [2_087_370_752, '1.944GiB'],
    [2 ** 50, '1PiB'],
  ];
  for (const [bytes, expected] of cases) assert.equal(bytesSize(bytes), expected, String(bytes));
});

test('formatG behaves like Go %.*g', () => {
  const cases: Array<[number, number, string]> = [
    [0.05, 3, '0.05'],
    [0.00012345, 3, '0.000123'],
    [0.000012345, 3, '1.23e-05'],
    [100, 3, '100'],
    [1234, 3, '1.23e+03'],
    [9.995, 3, '9.99'], // 9.99499999…
    [9.9951, 3, '10'],
    [2.5, 1, '2'],
    [3.5, 1, '4'],
  ];
  for (const [value, precision, expected] of cases) {
    assert.equal(formatG(value, precision), expected, `${value} %.${precision}g`);
  }
});

test('humanDuration matches go-units HumanDuration', () => {
  const second = 1000;
  const minute = 60 * second;
  const hour = 60 * minute;
  const day = 24 * hour;
  const cases: Array<[number, string]> = [
    [-5 * second, 'Less than a second'],
    [999, 'Less than a second'],
    [second, '1 second'],
    [59 * second, '59 seconds'],
    [60 * second, 'About a minute'],
    [119 * second, 'About a minute'],
    [2 * minute, '2 minutes'],
    [59 * minute + 59 * second, '59 minutes'],
    [hour, 'About an hour'],
    [hour + 29 * minute, 'About an hour'],
    [hour + 30 * minute, '2 hours'],
    [47 * hour, '47 hours'],
    [47 * hour + 30 * minute, '2 days'],
    [13 * day, '13 days'],
    [14 * day, '2 weeks'],
    [59 * day, '8 weeks'],
    [60 * day, '2 months'],
    [729 * day, '24 months'],
    [730 * day, '2 years'],
    [56 * 365 * day, '56 years'],
  ];
  for (const [ms, expected] of cases) assert.equal(humanDuration(ms), expected, String(ms));
});

test('formatTable pads like tabwriter(minwidth 10, padding 3)', () => {
  const table = formatTable([
    ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
    ['busybox', 'latest', 'beae173ccac6', '2 years ago', '1.24MB'],
    ['<none>', '<none>', '0123456789ab', 'About a minute ago', '816B'],
  ]);
  assert.equal(
    table,
    'REPOSITORY   TAG       IMAGE ID       CREATED              SIZE\n' +
      'busybox      latest    beae173ccac6   2 years ago          1.24MB\n' +
      '<none>       <none>    0123456789ab   About a minute ago   816B\n',
  );
  // Multi-byte characters count once, as tabwriter counts runes.
  assert.equal(formatTable([['é', 'x'], ['ab', 'y']]), 'é         x\nab        y\n');
  assert.equal(formatTable([['ONLY'], ['one']]), 'ONLY\none\n');
  // `top` uses tabwriter(minwidth 20).
  assert.equal(formatTable([['UID', 'PID', 'CMD'], ['root', '4242', 'sh -c x']], 20), `UID${' '.repeat(17)}PID${' '.repeat(17)}CMD\nroot${' '.repeat(16)}4242${' '.repeat(16)}sh -c x\n`);
});
