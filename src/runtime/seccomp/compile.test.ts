import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LinuxSeccomp } from '../oci-spec.js';
import { buildExecPlan } from '../plan.js';
import { seccompProgram } from './compile.js';

/** A stand-in for whalebox-shim's `seccomp-compile`: counts its runs and prints a 2-instruction program. */
const dir = mkdtempSync(join(tmpdir(), 'whalebox-seccomp-'));
const runs = join(dir, 'runs');
const fakeShim = join(dir, 'shim');
writeFileSync(
  fakeShim,
  `#!/bin/sh
echo run >> ${runs}
[ "$1" = seccomp-compile ] || exit 3
printf 'abcdefgh12345678'
`,
);
chmodSync(fakeShim, 0o755);
const savedShim = process.env.WHALEBOX_SHIM;
process.env.WHALEBOX_SHIM = fakeShim;
after(() => {
  process.env.WHALEBOX_SHIM = savedShim;
  rmSync(dir, { recursive: true, force: true });
});

const runCount = (): number => {
  try {
    return readFileSync(runs, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};
const filter: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] };

test('a program is compiled once per cache, then read back', () => {
  const cache = join(dir, 'cache');
  const before = runCount();
  assert.equal(seccompProgram(filter, cache).toString(), 'abcdefgh12345678');
  assert.equal(seccompProgram(filter, cache).toString(), 'abcdefgh12345678');
  assert.equal(runCount() - before, 1);
  assert.equal(readdirSync(cache).filter((f) => /^[0-9a-f]{8}\.bpf$/.test(f)).length, 1);
  // Another filter is another entry.
  seccompProgram({ ...filter, defaultAction: 'SCMP_ACT_KILL_PROCESS' }, cache);
  assert.equal(runCount() - before, 2);
  assert.equal(readdirSync(cache).length, 2);
});

test('a damaged cache entry is compiled again; without a cache, every time', () => {
  const cache = join(dir, 'damaged');
  seccompProgram(filter, cache);
  const [entry] = readdirSync(cache);
  writeFileSync(join(cache, entry!), 'short');
  const before = runCount();
  assert.equal(seccompProgram(filter, cache).toString(), 'abcdefgh12345678');
  assert.ok(readFileSync(join(cache, entry!), 'latin1').endsWith('abcdefgh12345678'), 'kept again');
  seccompProgram(filter);
  seccompProgram(filter);
  assert.equal(runCount() - before, 3);
});

test("a shim that cannot build the filter: its complaint is the error, and nothing is kept", () => {
  const failing = join(dir, 'failing');
  writeFileSync(failing, `#!/bin/sh\necho 'whalebox-shim: seccomp-compile: Invalid argument' >&2\nexit 1\n`);
  chmodSync(failing, 0o755);
  process.env.WHALEBOX_SHIM = failing;
  const cache = join(dir, 'failed');
  try {
    assert.throws(() => seccompProgram(filter, cache), /^Error: cannot compile the seccomp filter: whalebox-shim: seccomp-compile: Invalid argument$/);
  } finally {
    process.env.WHALEBOX_SHIM = fakeShim;
  }
  assert.deepEqual(readdirSync(dir).includes('failed'), false);
});

test('without no_new_privs the filter is loaded before the capabilities go, with it just before exec', () => {
  const proc = { user: { uid: 0, gid: 0 }, args: ['sh'], env: ['PATH=/bin'], cwd: '/' };
  const ops = (noNewPrivileges: boolean): string[] =>
    buildExecPlan({ pid: 1, process: { ...proc, noNewPrivileges }, cgroupFiles: [], seccomp: filter }).map((r) => r.op);
  const plain = ops(false);
  assert.equal(plain.indexOf('seccomp') + 1, plain.indexOf('bounding'));
  assert.deepEqual(ops(true).slice(-4), ['no-new-privs', 'env', 'seccomp', 'exec']);
  const step = buildExecPlan({ pid: 1, process: proc, cgroupFiles: [], seccomp: filter }).find((r) => r.op === 'seccomp');
  assert.deepEqual(step?.args, [Buffer.from('abcdefgh12345678').toString('hex')]);
  assert.ok(!buildExecPlan({ pid: 1, process: proc, cgroupFiles: [] }).some((r) => r.op === 'seccomp'));
});
