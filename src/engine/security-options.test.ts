import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SECURITY, parseCapabilities, parseDevice, parseDeviceCgroupRule, parseSecurityOpts, parseSysctls, parseUlimit } from './security-options.js';
import { containerCapabilities } from './security-spec.js';

test('capability names as Docker takes them; ALL; unknown names refused', () => {
  assert.deepEqual(parseCapabilities(['net_admin', 'CAP_SYS_TIME', 'all']), ['CAP_NET_ADMIN', 'CAP_SYS_TIME', 'ALL']);
  assert.throws(() => parseCapabilities(['NOPE']), /unknown capability: "NOPE"/);
});

test("Docker's TweakCapabilities: drops from the defaults, ALL on either side, privileged", () => {
  const caps = (capAdd: string[], capDrop: string[], privileged = false): string[] => containerCapabilities({ ...DEFAULT_SECURITY, capAdd, capDrop, privileged });
  assert.equal(caps([], []).length, 14);
  assert.ok(!caps([], ['CAP_CHOWN']).includes('CAP_CHOWN'));
  assert.deepEqual(caps(['CAP_KILL'], ['ALL']), ['CAP_KILL']);
  assert.deepEqual(caps([], ['ALL']), []);
  const all = caps(['ALL'], ['CAP_SYS_ADMIN']);
  assert.ok(all.length > 30 && !all.includes('CAP_SYS_ADMIN'));
  assert.ok(caps([], ['ALL'], true).includes('CAP_SYS_ADMIN'), 'privileged wins');
});

test('--security-opt', () => {
  assert.deepEqual(parseSecurityOpts([], () => ''), { seccomp: 'default', noNewPrivileges: false });
  assert.deepEqual(parseSecurityOpts(['no-new-privileges', 'seccomp=unconfined'], () => ''), { seccomp: 'unconfined', noNewPrivileges: true });
  assert.deepEqual(parseSecurityOpts(['no-new-privileges:false', 'seccomp=/p.json'], (path) => `read ${path}`), { seccomp: 'read /p.json', noNewPrivileges: false });
  assert.throws(() => parseSecurityOpts(['seccomp'], () => ''), /invalid --security-opt/);
  assert.throws(() => parseSecurityOpts(['apparmor=docker-default'], () => ''), /invalid --security-opt/);
});

test('--device and --device-cgroup-rule', () => {
  assert.deepEqual(parseDevice('/dev/null'), { host: '/dev/null', container: '/dev/null', permissions: 'rwm' });
  assert.deepEqual(parseDevice('/dev/null:/dev/mynull'), { host: '/dev/null', container: '/dev/mynull', permissions: 'rwm' });
  assert.deepEqual(parseDevice('/dev/null:r'), { host: '/dev/null', container: '/dev/null', permissions: 'r' });
  assert.deepEqual(parseDevice('/dev/sda:/dev/xvda:rw'), { host: '/dev/sda', container: '/dev/xvda', permissions: 'rw' });
  assert.throws(() => parseDevice('/dev/null:/x:rwx'), /invalid device mode/);
  assert.equal(parseDeviceCgroupRule(' c 1:3 rwm '), 'c 1:3 rwm');
  assert.equal(parseDeviceCgroupRule('b *:* r'), 'b *:* r');
  assert.throws(() => parseDeviceCgroupRule('c 1 rwm'), /invalid device cgroup rule/);
});

test('--ulimit as go-units parses it; -1 is unlimited', () => {
  assert.deepEqual(parseUlimit('nofile=1024:2048'), { name: 'nofile', soft: 1024, hard: 2048 });
  assert.deepEqual(parseUlimit('core=-1'), { name: 'core', soft: -1, hard: -1 });
  assert.deepEqual(parseUlimit('core=10:-1'), { name: 'core', soft: 10, hard: -1 });
  assert.throws(() => parseUlimit('core=-1:10'), /soft limit must be less than or equal/);
  assert.throws(() => parseUlimit('nofiles=1'), /invalid ulimit type: nofiles/);
});

test('--sysctl: namespaced ones only, and not the network ones on the host network', () => {
  assert.deepEqual(parseSysctls(['net.ipv4.ip_forward=1', 'kernel/shmmax=1', 'fs.mqueue.msg_max=20'], 'bridge'), {
    'net.ipv4.ip_forward': '1',
    'kernel.shmmax': '1',
    'fs.mqueue.msg_max': '20',
  });
  assert.throws(() => parseSysctls(['kernel.panic=1'], 'bridge'), /sysctl 'kernel.panic=1' is not allowed/);
  assert.throws(() => parseSysctls(['net.ipv4.ip_forward=1'], 'host'), /not allowed in host network namespace/);
  assert.deepEqual(parseSysctls(['kernel.msgmax=100'], 'host'), { 'kernel.msgmax': '100' });
});
