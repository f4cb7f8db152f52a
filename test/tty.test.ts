import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { storeForFile } from './helpers.js';

const store = storeForFile();

function inPty(rows: number, cols: number, typed: string, args: string[]) {
  return spawnSync('python3', [join(import.meta.dirname, 'pty-run.py'), String(rows), String(cols), typed, process.execPath, ...store.args(args)], {
    encoding: 'utf8',
    timeout: 60_000,
  });
}

test('-it gives a real terminal: typed commands run, the status comes back', () => {
  const r = inPty(37, 111, 'echo hi; stty size; tty\r<wait><resize 50 132>stty size; exit 5\r', ['run', '-it', '--rm', 'busybox', 'sh']);
  assert.equal(r.status, 5, r.stdout + r.stderr);
  assert.match(r.stdout, /\r\nhi\r\n/);
  assert.match(r.stdout, /\r\n37 111\r\n/);
  assert.match(r.stdout, /\r\n50 132\r\n/, 'a resize reaches the container');
  assert.match(r.stdout, /\r\n\/dev\/pts\/0\r\n/);
});

test('-ti works too, and Ctrl-C reaches the container', () => {
  const r = inPty(24, 80, 'sleep 30\r<wait>\x03<wait>echo after=$?\r<wait>exit\r', ['run', '-ti', '--rm', 'busybox', 'sh']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /after=130/);
});

test("-t without -i still gets the caller's window size", () => {
  const r = inPty(33, 99, '', ['run', '-t', '--rm', 'busybox', 'stty', 'size']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^33 99\r\n/);
});
