import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBytes, parseCpuList, parseCpus, parseInteger } from './units.js';

test('sizes use binary units as Docker does', () => {
  assert.equal(parseBytes('--memory', '20m'), 20 * 1024 * 1024);
  assert.equal(parseBytes('--memory', '20MB'), 20 * 1024 * 1024);
  assert.equal(parseBytes('--memory', '1.5g'), 1.5 * 1024 ** 3);
  assert.equal(parseBytes('--memory', '4096'), 4096);
  assert.throws(() => parseBytes('--memory', '10x'), /invalid argument "10x" for "--memory" flag/);
  assert.throws(() => parseBytes('--memory', '-5m'), /invalid argument/);
});

test('cpus must be positive and within the host', () => {
  assert.equal(parseCpus('0.5', 2), 0.5);
  assert.throws(() => parseCpus('-1', 2), /must be a positive number/);
  assert.throws(() => parseCpus('0', 2), /must be a positive number/);
  assert.throws(() => parseCpus('3', 2), /range of CPUs is from 0.01 to 2.00/);
  assert.throws(() => parseCpus('0.001', 2), /range of CPUs is from 0.01 to 2.00/);
});

test('cpu lists and integers', () => {
  assert.equal(parseCpuList('--cpuset-cpus', '0-1', 2), '0-1');
  assert.throws(() => parseCpuList('--cpuset-cpus', '2', 2), /between 0 and 1/);
  assert.throws(() => parseCpuList('--cpuset-cpus', 'a', 2), /invalid argument/);
  assert.equal(parseInteger('--pids-limit', '-1'), -1);
  assert.throws(() => parseInteger('--cpu-shares', '1.5', 0), /expected an integer >= 0/);
});
