import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CgroupV1Driver } from './v1.js';
import { CgroupV2Driver } from './v2.js';

const root = mkdtempSync(join(tmpdir(), 'whalebox-cgroup-stats-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Writes `files` (name → content) into a fresh directory and returns it. */
function fixture(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** A v1 host with one hierarchy per controller under `<root>/<name>`. */
function v1Driver(name: string, controllers: string[]): CgroupV1Driver {
  return new CgroupV1Driver(controllers.map((c) => ({ version: 1 as const, mountPoint: join(root, name, c), controllers: [c] })));
}

describe('CgroupV1.stats', () => {
  it('reads cpuacct, memory without the inactive file cache, pids and the blkio Read/Write totals', () => {
    const driver = v1Driver('v1', ['cpuacct', 'memory', 'pids', 'blkio']);
    const cgroup = driver.open('c1');
    fixture(cgroup.dirOf('cpuacct')!, { 'cpuacct.usage': '1234567890\n' });
    fixture(cgroup.dirOf('memory')!, {
      'memory.usage_in_bytes': '10485760\n',
      'memory.limit_in_bytes': '20971520\n',
      'memory.stat': 'cache 4096\ninactive_file 1048576\ntotal_cache 8192\ntotal_inactive_file 2097152\n',
    });
    fixture(cgroup.dirOf('pids')!, { 'pids.current': '3\n' });
    fixture(cgroup.dirOf('blkio')!, {
      'blkio.throttle.io_service_bytes_recursive': [
        '8:0 Read 4096',
        '8:0 Write 8192',
        '8:0 Sync 12288',
        '8:0 Async 0',
        '8:0 Discard 0',
        '8:0 Total 12288',
        '8:16 Read 1000',
        '8:16 Write 0',
        '8:16 Total 1000',
        'Total 13288',
        '',
      ].join('\n'),
    });
    assert.deepEqual(cgroup.stats(), {
      cpuNanos: 1234567890,
      memoryUsage: 10485760 - 2097152,
      memoryLimit: 20971520,
      pids: 3,
      blockRead: 5096,
      blockWrite: 8192,
    });
  });

  it('reports the kernel maximum as no limit, and missing files as 0', () => {
    const driver = v1Driver('v1-unlimited', ['cpuacct', 'memory']);
    const cgroup = driver.open('c1');
    fixture(cgroup.dirOf('memory')!, { 'memory.usage_in_bytes': '4096\n', 'memory.limit_in_bytes': '9223372036854771712\n' });
    assert.deepEqual(cgroup.stats(), { cpuNanos: 0, memoryUsage: 4096, memoryLimit: undefined, pids: 0, blockRead: 0, blockWrite: 0 });
  });

  it('reads 0 for a cgroup that is gone', () => {
    const cgroup = v1Driver('v1-gone', ['cpuacct', 'memory', 'pids', 'blkio']).open('c1');
    assert.deepEqual(cgroup.stats(), { cpuNanos: 0, memoryUsage: 0, memoryLimit: undefined, pids: 0, blockRead: 0, blockWrite: 0 });
  });
});

describe('CgroupV2.stats', () => {
  it('reads cpu.stat, memory without inactive_file, pids.current and io.stat', () => {
    const cgroup = new CgroupV2Driver(join(root, 'v2')).open('c1');
    fixture(cgroup.dir, {
      'cpu.stat': 'usage_usec 250000\nuser_usec 200000\nsystem_usec 50000\n',
      'memory.current': '6291456\n',
      'memory.max': '20971520\n',
      'memory.stat': 'anon 4194304\nfile 2097152\nactive_file 1048576\ninactive_file 1048576\n',
      'pids.current': '2\n',
      'io.stat': '8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n259:0 rbytes=100 wbytes=200 rios=1 wios=1 dbytes=0 dios=0\n',
    });
    assert.deepEqual(cgroup.stats(), {
      cpuNanos: 250_000_000,
      memoryUsage: 6291456 - 1048576,
      memoryLimit: 20971520,
      pids: 2,
      blockRead: 4196,
      blockWrite: 712,
    });
  });

  it('reports memory.max "max" as no limit, and missing files as 0', () => {
    const cgroup = new CgroupV2Driver(join(root, 'v2-unlimited')).open('c1');
    fixture(cgroup.dir, { 'memory.current': '8192\n', 'memory.max': 'max\n' });
    assert.deepEqual(cgroup.stats(), { cpuNanos: 0, memoryUsage: 8192, memoryLimit: undefined, pids: 0, blockRead: 0, blockWrite: 0 });
  });
});
