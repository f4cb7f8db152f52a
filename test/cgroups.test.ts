/**
 * The cgroup drivers against the kernel (root only). Every cgroup lives under a parent named
 * for this test run, so nothing outside it is touched; only processes started here are killed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type Cgroup, detectCgroupDriver } from '../src/runtime/cgroups/index.js';
import { WhaleboxError } from '../src/util/errors.js';

const MiB = 1024 * 1024;
const isRoot = process.getuid?.() === 0;
const pureV2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
const unifiedRoot = pureV2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
const hasUnified = existsSync(join(unifiedRoot, 'cgroup.controllers'));

/** Cleanup steps, run in reverse even when a test failed half-way. */
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const step of cleanups.reverse()) {
    try {
      await step();
    } catch {
      // Keep cleaning.
    }
  }
});

interface Child {
  proc: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(command: string, args: string[]): Child {
  const proc = spawn(command, args, { stdio: 'ignore' });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });
  assert.ok(proc.pid, `${command} started`);
  cleanups.push(() => {
    if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid!, 'SIGKILL');
  });
  return { proc, pid: proc.pid, exited };
}

/** Makes sure a cgroup is gone after the run: thawed (so a killed task can exit), then removed. */
function track(cg: Cgroup): Cgroup {
  cleanups.push(async () => {
    await cg.thaw().catch(() => undefined);
    await cg.remove();
  });
  return cg;
}

function read(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

function keyed(path: string, key: string): number | undefined {
  const line = read(path).split('\n').find((l) => l.startsWith(`${key} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

/** The state letter in /proc/PID/stat (R, S, D, T, Z...). */
function procState(pid: number): string {
  const stat = read(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

describe('cgroup v1 driver', { skip: !isRoot ? 'needs root' : pureV2 ? 'not a cgroup v1 host' : false }, () => {
  const parent = `whalebox-test-${process.pid}`;
  const driver = isRoot && !pureV2 ? detectCgroupDriver('/sys/fs/cgroup', { parent }) : undefined!;
  const dirOf = (cg: Cgroup, hierarchy: string): string => cg.dirs.find((d) => d.startsWith(`/sys/fs/cgroup/${hierarchy}/`))!;

  it('is what this host gets', () => {
    assert.equal(driver.version, 1);
  });

  it('applies limits, moves a process in, freezes, kills and removes', async () => {
    const cg = track(driver.create('limits', {
      memory: { limit: 20 * MiB, swap: 40 * MiB },
      pids: { limit: 20 },
      cpu: { cpus: '0', quota: 50_000, period: 100_000 },
    }));
    assert.equal(cg.path, `/${parent}/limits`);
    for (const dir of cg.dirs) assert.ok(existsSync(dir), `${dir} exists`);
    for (const hierarchy of ['memory', 'cpu', 'cpuset', 'pids', 'freezer', 'systemd']) {
      assert.ok(dirOf(cg, hierarchy), `a directory in the ${hierarchy} hierarchy`);
    }

    const memory = dirOf(cg, 'memory');
    assert.equal(read(join(memory, 'memory.limit_in_bytes')), String(20 * MiB));
    if (existsSync(join(memory, 'memory.memsw.limit_in_bytes'))) {
      assert.equal(read(join(memory, 'memory.memsw.limit_in_bytes')), String(40 * MiB));
    }
    assert.equal(read(join(dirOf(cg, 'pids'), 'pids.max')), '20');
    assert.equal(read(join(dirOf(cg, 'cpu'), 'cpu.cfs_period_us')), '100000');
    assert.equal(read(join(dirOf(cg, 'cpu'), 'cpu.cfs_quota_us')), '50000');
    const cpuset = dirOf(cg, 'cpuset');
    assert.equal(read(join(cpuset, 'cpuset.cpus')), '0');
    assert.equal(read(join(cpuset, 'cpuset.mems')), read('/sys/fs/cgroup/cpuset/cpuset.mems'));
    assert.equal(read(join(cpuset, '..', 'cpuset.cpus')), read('/sys/fs/cgroup/cpuset/cpuset.cpus'), 'the parent got the root cpuset');

    const child = start('sleep', ['30']);
    for (const file of cg.procsFiles) writeFileSync(file, String(child.pid));
    assert.deepEqual(cg.pids(), [child.pid]);
    const self = read(`/proc/${child.pid}/cgroup`).split('\n');
    for (const hierarchy of ['memory', 'cpuset', 'pids', 'name=systemd']) {
      assert.ok(self.some((l) => l.endsWith(`:${hierarchy}:${cg.path}`)), `${hierarchy} in /proc/PID/cgroup: ${self.join(' | ')}`);
    }
    assert.equal(cg.oomKilled(), false);

    const state = join(dirOf(cg, 'freezer'), 'freezer.state');
    await cg.freeze();
    assert.equal(read(state), 'FROZEN');
    await cg.thaw();
    assert.equal(read(state), 'THAWED');

    // kill() must also work on a frozen v1 cgroup (it thaws it so SIGKILL can land).
    await cg.freeze();
    cg.kill();
    assert.deepEqual(await child.exited, { code: null, signal: 'SIGKILL' });
    assert.deepEqual(cg.pids(), []);

    await cg.remove();
    for (const dir of cg.dirs) {
      assert.equal(existsSync(dir), false, `${dir} removed`);
      assert.equal(existsSync(join(dir, '..')), false, `empty parent of ${dir} removed`);
    }
    await cg.remove(); // idempotent
  });

  it('reports an OOM kill', async () => {
    const cg = track(driver.create('oom', { memory: { limit: 20 * MiB } }));
    // The shell joins the cgroup itself (as the shim does), then dd touches a 64 MiB buffer.
    const args = cg.procsFiles.map((f) => JSON.stringify(f)).join(' ');
    const child = start('sh', ['-c', `for f in ${args}; do echo $$ > "$f" || exit 99; done; exec dd if=/dev/zero of=/dev/null bs=64M count=1`]);
    const { signal } = await child.exited;
    assert.equal(signal, 'SIGKILL');
    assert.equal(cg.oomKilled(), true);
    cg.kill();
    await cg.remove();
    assert.equal(existsSync(cg.dirs[0]!), false);
  });

  it('fails with the file and the cause, leaving nothing behind', () => {
    assert.throws(
      () => driver.create('badcpu', { cpu: { cpus: '4095' } }),
      (err: unknown) => err instanceof WhaleboxError && /^cgroup: writing 4095 to cpuset.cpus: (Numerical result out of range|Invalid argument)$/.test(err.message),
    );
    const cg = driver.open('badcpu');
    for (const dir of cg.dirs) assert.equal(existsSync(dir), false, `${dir} rolled back`);
    assert.equal(existsSync(join(cg.dirs[0]!, '..')), false, 'the empty parent rolled back');
  });

  it('removes a cgroup that never existed', async () => {
    await driver.open('never-created').remove();
  });
});

describe('cgroup v2 driver (on the unified hierarchy)', { skip: !isRoot ? 'needs root' : !hasUnified ? 'no cgroup2 mounted' : false }, () => {
  const parent = `whalebox-test-v2-${process.pid}`;
  const driver = isRoot && hasUnified ? detectCgroupDriver(unifiedRoot, { parent }) : undefined!;

  it('is chosen by cgroup.controllers', () => {
    assert.equal(driver.version, 2);
  });

  it('moves a process in, freezes, thaws, kills and removes', async () => {
    const cg = track(driver.create('core', undefined));
    assert.deepEqual(cg.dirs, [join(unifiedRoot, parent, 'core')]);
    const child = start('sleep', ['30']);
    writeFileSync(cg.procsFiles[0]!, String(child.pid));
    assert.deepEqual(cg.pids(), [child.pid]);
    assert.ok(read(`/proc/${child.pid}/cgroup`).split('\n').includes(`0::/${parent}/core`));

    const events = join(cg.dirs[0]!, 'cgroup.events');
    await cg.freeze();
    assert.equal(keyed(events, 'frozen'), 1);
    assert.match(procState(child.pid), /^[SDT]$/, 'a frozen task is not running');
    await cg.thaw();
    assert.equal(keyed(events, 'frozen'), 0);
    assert.equal(cg.oomKilled(), false);

    cg.kill();
    assert.deepEqual(await child.exited, { code: null, signal: 'SIGKILL' });
    assert.deepEqual(cg.pids(), []);
    await cg.remove();
    assert.equal(existsSync(cg.dirs[0]!), false);
    assert.equal(existsSync(join(unifiedRoot, parent)), false, 'the empty parent removed');
    await cg.remove();
  });

  it('kills a frozen cgroup', async () => {
    const cg = track(driver.create('frozen', undefined));
    const child = start('sleep', ['30']);
    writeFileSync(cg.procsFiles[0]!, String(child.pid));
    await cg.freeze();
    cg.kill();
    assert.equal((await child.exited).signal, 'SIGKILL');
    await cg.remove();
    assert.equal(existsSync(cg.dirs[0]!), false);
  });

  it('names a controller the hierarchy does not offer', { skip: pureV2 ? 'a full cgroup v2 host has memory' : false }, () => {
    assert.throws(
      () => driver.create('nomem', { memory: { limit: 20 * MiB } }),
      /cgroup: a memory limit needs the memory controller, which \/sys\/fs\/cgroup\/unified does not offer \(cgroup.controllers: [^)]*\)/,
    );
    assert.equal(existsSync(join(unifiedRoot, parent)), false, 'nothing left behind');
  });
});
