import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFormat } from './go-template.js';

test('fields, nested fields, json and escapes', () => {
  const value = { ID: 'abc', State: { Status: 'running' }, Labels: { a: '1' } };
  assert.equal(compileFormat('{{.ID}}\\t{{ .State.Status }}').render(value), 'abc\trunning');
  assert.equal(compileFormat('{{json .Labels}}').render(value), '{"a":"1"}');
  assert.equal(compileFormat('{{json .}}').render({ x: 1 }), '{"x":1}');
});

test('table adds a header from the field names', () => {
  const format = compileFormat('table {{.ID}}\\t{{.Names}}');
  assert.ok(format.table);
  assert.equal(format.header({ ID: 'CONTAINER ID' }), 'CONTAINER ID\tNAMES');
});

test('unknown fields and unsupported actions are errors', () => {
  assert.throws(() => compileFormat('{{.Nope}}').render({}), /can't evaluate field Nope/);
  assert.throws(() => compileFormat('{{range .}}x{{end}}'), /unsupported action/);
});
