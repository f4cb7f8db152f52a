import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WhaleboxError } from '../../util/errors.js';
import { detectCgroupDriver } from './cgroup.js';
import { CgroupV1Driver, parseCgroupMounts, selectHierarchies } from './v1.js';
import { CgroupV2Driver } from './v2.js';

/** This VM's layout: separate v1 hierarchies and a cgroup2 holding only hugetlb. */
const HYBRID = `\
23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** A classic systemd v1 host: combined hierarchies with symlinks, one mounted twice. */
const COMBINED = `\
25 24 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
31 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,net_cls,net_prio
90 1 0:28 / /mnt/my\\040cpu rw,relatime - cgroup cgroup rw,cpuacct,cpu
`;

describe('parseCgroupMounts', () => {
  it('finds v1 hierarchies and the hybrid cgroup2, keeping only controllers', () => {
    assert.deepEqual(parseCgroupMounts(HYBRID), [
      { version: 1, mountPoint: '/sys/fs/cgroup/cpu', controllers: ['cpu'] },
      { version: 1, mountPoint: '/sys/fs/cgroup/cpuacct', controllers: ['cpuacct'] },
      { version: 1, mountPoint: '/sys/fs/cgroup/cpuset', controllers: ['cpuset'] },
      { version: 1, mountPoint: '/sys/fs/cgroup/memory', controllers: ['memory'] },
      { version: 1, mountPoint: '/sys/fs/cgroup/systemd', controllers: ['name=systemd'] },
      { version: 2, mountPoint: '/sys/fs/cgroup/unified', controllers: [] },
    ]);
  });

  it('unescapes mount points and keeps one mount per hierarchy, preferring /sys/fs/cgroup', () => {
    const all = parseCgroupMounts(COMBINED);
    assert.equal(all.at(-1)!.mountPoint, '/mnt/my cpu');
    assert.deepEqual(
      selectHierarchies(all, '/sys/fs/cgroup').map((h) => h.mountPoint),
      ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/net_cls,net_prio'],
    );
  });
});

describe('containerMounts', () => {
  it('v1: a tmpfs, then one mount per hierarchy with its controllers', () => {
    const driver = new CgroupV1Driver(parseCgroupMounts(HYBRID));
    assert.deepEqual(driver.containerMounts(), [
      { fstype: 'tmpfs', target: '/sys/fs/cgroup', data: 'mode=755' },
      { fstype: 'cgroup', target: '/sys/fs/cgroup/cpu', data: 'cpu' },
      { fstype: 'cgroup', target: '/sys/fs/cgroup/cpuacct', data: 'cpuacct' },
      { fstype: 'cgroup', target: '/sys/fs/cgroup/cpuset', data: 'cpuset' },
      { fstype: 'cgroup', target: '/sys/fs/cgroup/memory', data: 'memory' },
      { fstype: 'cgroup', target: '/sys/fs/cgroup/systemd', data: 'name=systemd' },
      { fstype: 'cgroup2', target: '/sys/fs/cgroup/unified', data: '' },
    ]);
  });

  it('v1: combined hierarchies are reachable under each controller name too', () => {
    const driver = new CgroupV1Driver(selectHierarchies(parseCgroupMounts(COMBINED), '/sys/fs/cgroup'));
    assert.deepEqual(driver.containerMounts().map((m) => `${m.fstype} ${m.target} ${m.data}`), [
      'tmpfs /sys/fs/cgroup mode=755',
      'cgroup2 /sys/fs/cgroup/unified ',
      'cgroup /sys/fs/cgroup/systemd name=systemd',
      'cgroup /sys/fs/cgroup/cpu,cpuacct cpu,cpuacct',
      'cgroup /sys/fs/cgroup/net_cls,net_prio net_cls,net_prio',
      'cgroup /sys/fs/cgroup/cpu cpu,cpuacct',
      'cgroup /sys/fs/cgroup/cpuacct cpu,cpuacct',
      'cgroup /sys/fs/cgroup/net_cls net_cls,net_prio',
      'cgroup /sys/fs/cgroup/net_prio net_cls,net_prio',
    ]);
  });

  it('v2: one cgroup2', () => {
    assert.deepEqual(new CgroupV2Driver('/sys/fs/cgroup').containerMounts(), [{ fstype: 'cgroup2', target: '/sys/fs/cgroup', data: '' }]);
  });
});

describe('paths and names', () => {
  const driver = new CgroupV1Driver(parseCgroupMounts(HYBRID));

  it('puts the cgroup under the parent in every hierarchy', () => {
    const cg = driver.open('abc');
    assert.equal(cg.path, '/whalebox/abc');
    assert.deepEqual(cg.procsFiles, [
      '/sys/fs/cgroup/cpu/whalebox/abc/cgroup.procs',
      '/sys/fs/cgroup/cpuacct/whalebox/abc/cgroup.procs',
      '/sys/fs/cgroup/cpuset/whalebox/abc/cgroup.procs',
      '/sys/fs/cgroup/memory/whalebox/abc/cgroup.procs',
      '/sys/fs/cgroup/systemd/whalebox/abc/cgroup.procs',
      '/sys/fs/cgroup/unified/whalebox/abc/cgroup.procs',
    ]);
  });

  it('a new init enters v1 through tasks files and is cloned into the cgroup2 directory', () => {
    assert.deepEqual(driver.open('abc').entry, {
      tasks: ['cpu', 'cpuacct', 'cpuset', 'memory', 'systemd'].map((h) => `/sys/fs/cgroup/${h}/whalebox/abc/tasks`),
      cloneInto: '/sys/fs/cgroup/unified/whalebox/abc',
    });
    assert.deepEqual(new CgroupV2Driver('/sys/fs/cgroup').open('abc').entry, { tasks: [], cloneInto: '/sys/fs/cgroup/whalebox/abc' });
  });

  it('rejects names that are not one path component', () => {
    for (const bad of ['', '.', '..', 'a/b', '../x', 'a\nb']) {
      assert.throws(() => driver.open(bad), WhaleboxError);
      assert.throws(() => driver.create(bad, undefined), WhaleboxError);
    }
    assert.throws(() => new CgroupV1Driver([], { parent: '../x' }), /invalid parent cgroup/);
  });

  it('names the missing controller before touching the disk', () => {
    const noPids = new CgroupV1Driver(parseCgroupMounts(HYBRID), { parent: 'never-created' });
    assert.throws(() => noPids.create('x', { pids: { limit: 5 } }), /a pids limit was requested, but this host has no cgroup v1 pids hierarchy mounted/);
  });
});

describe('detectCgroupDriver', () => {
  it('chooses v2 when cgroup.controllers exists, else v1 from mountinfo', () => {
    const dir = mkdtempSync(join(tmpdir(), 'whalebox-cgroup-'));
    try {
      const mountinfo = join(dir, 'mountinfo');
      writeFileSync(mountinfo, HYBRID);
      assert.equal(detectCgroupDriver(dir, { mountinfo }).version, 1);
      writeFileSync(mountinfo, '');
      assert.throws(() => detectCgroupDriver(dir, { mountinfo }), /no cgroup v2 at .* and no cgroup v1 hierarchy/);
      writeFileSync(join(dir, 'cgroup.controllers'), 'cpu memory\n');
      assert.equal(detectCgroupDriver(dir, { mountinfo }).version, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
