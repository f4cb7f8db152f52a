import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fnv1a, memo } from './memo.js';

test('the key hash: 8 hex digits, the same for the same text, different for near texts', () => {
  assert.match(fnv1a('x'.repeat(7001)), /^[0-9a-f]{8}$/);
  assert.equal(fnv1a('{"caps":["CAP_KILL"]}'), fnv1a('{"caps":["CAP_KILL"]}'));
  const near = ['', 'a', 'b', 'ab', 'ba', 'abcd', 'abce', 'abcd\0', 'caps:KILL', 'caps:KILM'].map(fnv1a);
  assert.equal(new Set(near).size, near.length);
});

test('a kept value is used only for the very key it was made for', () => {
  const dir = mkdtempSync(join(tmpdir(), 'whalebox-memo-'));
  try {
    let made = 0;
    const make = (value: string) => (): Buffer => {
      made++;
      return Buffer.from(value);
    };
    assert.equal(memo(dir, 'bpf', 'key one', make('first')).toString(), 'first');
    assert.equal(memo(dir, 'bpf', 'key one', make('again')).toString(), 'first', 'kept');
    assert.equal(made, 1);
    // A file under that name for another key (a collision, or a stale file) is a miss.
    const [file] = readdirSync(dir);
    writeFileSync(join(dir, file!), Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from('key two'), Buffer.from('other')]));
    assert.equal(memo(dir, 'bpf', 'key one', make('remade')).toString(), 'remade');
    writeFileSync(join(dir, file!), Buffer.from([0, 0]));
    assert.equal(memo(dir, 'bpf', 'key one', make('truncated')).toString(), 'truncated');
    assert.equal(memo(undefined, 'bpf', 'key one', make('no cache')).toString(), 'no cache');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
