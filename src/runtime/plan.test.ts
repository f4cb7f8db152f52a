import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPlan, OVERLAY_ANNOTATION } from './plan.js';
import type { Spec } from './oci-spec.js';

const spec = (terminal: boolean): Spec => ({
  ociVersion: '1.2.0',
  process: { terminal, user: { uid: 1000, gid: 100, additionalGids: [5, 6] }, args: ['sh', '-c', 'true'], env: ['PATH=/bin:/usr/bin', 'A=1'], cwd: '/work', capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] } },
  root: { path: 'rootfs', readonly: true },
  hostname: 'box',
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro'] },
    { destination: '/data', type: 'bind', source: '/tmp', options: ['rbind', 'ro'] },
  ],
  linux: {
    namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'cgroup' }, { type: 'network' }, { type: 'uts' }],
    maskedPaths: ['/proc/kcore'],
    readonlyPaths: ['/proc/sys'],
  },
  annotations: { [OVERLAY_ANNOTATION]: 'lowerdir=/l,upperdir=/u,workdir=/w' },
});

const input = (terminal: boolean) => ({
  spec: spec(terminal),
  bundleDir: '/bundle',
  cgroupEntry: { tasks: ['/cg/cpu/x/tasks'], cloneInto: '/cg/unified/x' },
  cgroupMounts: [
    { fstype: 'tmpfs' as const, target: '/sys/fs/cgroup', data: 'mode=755' },
    { fstype: 'cgroup' as const, target: '/sys/fs/cgroup/cpu', data: 'cpu' },
  ],
  exitFile: '/bundle/exit',
  exitCommand: ['whalebox', 'container', 'cleanup', 'x'],
});

test('steps come in the order the kernel needs', () => {
  const plan = buildPlan(input(false));
  const ops = plan.map((r) => r.op);
  const at = (op: string, from = 0) => ops.indexOf(op, from);
  assert.deepEqual(plan[0], { op: 'clone', args: [0x00020000 | 0x20000000 | 0x40000000 | 0x04000000], describe: 'create the namespaces' });
  assert.ok(!ops.includes('tty'));
  // Join the cgroups, then unshare the cgroup namespace, so its root is the container's cgroup.
  assert.ok(at('cgroup-join') < at('unshare'));
  assert.ok(at('unshare') < at('mount'));
  const overlay = plan.find((r) => r.args[2] === 'overlay')!;
  assert.deepEqual(overlay.args, ['overlay', '/bundle/rootfs', 'overlay', 0, 'lowerdir=/l,upperdir=/u,workdir=/w']);
  assert.ok(at('rootfs') < at('cmount') && at('cmount') < at('pivot-root'));
  assert.ok(at('pivot-root') < at('mask') && at('mask') < at('readonly'));
  assert.deepEqual(plan[at('remount', at('pivot-root'))]!.args, ['/', 1]);
  assert.ok(at('bounding') < at('user') && at('user') < at('caps'));
  assert.deepEqual(plan[at('user')]!.args, [1000, 100, '5,6']);
  assert.deepEqual(plan[at('caps')]!.args, ['20', '20', '0']);
  assert.deepEqual(plan.at(-1)!.args, ['/bin:/usr/bin', 'sh', '-c', 'true']);
  assert.deepEqual(plan.at(-2)!.args, ['PATH=/bin:/usr/bin', 'A=1']);
});

test('cgroup mounts expand to the driver list; binds are shaped like their source', () => {
  const plan = buildPlan(input(false));
  const cmounts = plan.filter((r) => r.op === 'cmount').map((r) => [r.args[1], r.args[2], r.args[5]]);
  assert.deepEqual(cmounts, [
    ['/proc', 'proc', 'dir'],
    ['/sys/fs/cgroup', 'tmpfs', 'dir'],
    ['/sys/fs/cgroup/cpu', 'cgroup', 'dir'],
    ['/data', '', 'dir'],
  ]);
  const bind = plan.find((r) => r.args[1] === '/data')!;
  assert.equal(bind.args[3], 0x1000 | 0x4000 | 0x1);
});

test('a terminal is asked for and set up in place of a plain session', () => {
  const ops = buildPlan(input(true)).map((r) => r.op);
  assert.ok(ops.includes('tty') && ops.includes('console') && !ops.includes('setsid'));
});
