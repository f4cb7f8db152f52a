import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePlan, PLAN_MAGIC, ReportDecoder } from './shim-protocol.js';

test('a plan is magic, body length, then length-prefixed records', () => {
  const plan = encodePlan([{ op: 'sethostname', args: ['box'], describe: '' }]);
  assert.equal(plan.readUInt32LE(0), PLAN_MAGIC);
  assert.equal(plan.subarray(0, 4).toString(), 'WBP1');
  assert.equal(plan.readUInt32LE(4), plan.length - 8);
  assert.equal(plan.readUInt32LE(8), 2);
  assert.equal(plan.readUInt32LE(12), 'sethostname'.length);
  assert.equal(plan.subarray(16, 27).toString(), 'sethostname');
});

test('the report decoder reassembles records split across chunks', () => {
  const wire = encodePlan([
    { op: 'step', args: [3, 0, 120], describe: '' },
    { op: 'exit', args: [0, 9], describe: '' },
  ]).subarray(8);
  const decoder = new ReportDecoder();
  const seen: string[][] = [];
  for (let i = 0; i < wire.length; i += 5) seen.push(...decoder.push(wire.subarray(i, i + 5)));
  assert.deepEqual(seen, [
    ['step', '3', '0', '120'],
    ['exit', '0', '9'],
  ]);
});
