// Runs last (scripts/test.mjs sorts it there): the whole suite must leave the host as it found it.
import { test } from 'node:test';
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, whaleboxCgroupParents } from './helpers.js';

/** Network IDs, bridges and container IDs of the default store, if there is one. */
function defaultStoreOwners(): string[] {
  const file = '/var/lib/whalebox/whalebox.db';
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const column = (sql: string): string[] => {
      try {
        return db.prepare(sql).raw().all().flat() as string[];
      } catch {
        return []; // a store from before that table
      }
    };
    return [...column('SELECT id, bridge FROM networks'), ...column('SELECT id FROM containers')];
  } finally {
    db.close();
  }
}

test('no mount, cgroup, store directory or shim is left after the suite', () => {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.includes('whalebox') || / - overlay /.test(line));
  assert.deepEqual(mounts, []);
  // Each test store had a cgroup parent of its own; the last container out removes it.
  assert.deepEqual(whaleboxCgroupParents().filter((dir) => dir.includes('/whalebox-test-')), []);
  const stores = readdirSync(tmpdir()).filter((name) => name.startsWith('whalebox-test-'));
  // What is inside tells which test left it.
  const inside = stores.flatMap((name) => spawnSync('find', [join(tmpdir(), name), '-maxdepth', '3'], { encoding: 'utf8' }).stdout.split('\n').slice(0, 20));
  assert.deepEqual(stores, [], inside.join('\n'));
  const shims = spawnSync('pgrep', ['-f', join(REPO, 'native', 'whalebox-shim')], { encoding: 'utf8' }).stdout.trim();
  assert.equal(shims, '');
  // Networks: test stores' bridges, veths, namespaces and firewall rules. What the default
  // store (/var/lib/whalebox, the quick start's) owns is a user's, not a test's: left out.
  const owned = defaultStoreOwners();
  const ours = (line: string): boolean => !owned.some((owner) => line.includes(owner));
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n').filter((line) => /^\d+: (wb0?-|veth)/.test(line) && ours(line));
  assert.deepEqual(links, []);
  const namespaces = existsSync('/run/netns') ? readdirSync('/run/netns').filter((name) => name.startsWith('whalebox-') && ours(name)) : [];
  assert.deepEqual(namespaces, []);
  const chains = /^(:WHALEBOX-|-A (FORWARD|PREROUTING|OUTPUT|POSTROUTING) .*-j WHALEBOX-)/;
  const rules = spawnSync('iptables-save', [], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((line) => /whalebox/i.test(line) && ours(line) && !(owned.length > 0 && chains.test(line)));
  assert.deepEqual(rules, []);
});
