import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DEVICE_RULES, deviceAccess } from './devices.js';
import { DEFAULT_SECURITY, parseDeviceCgroupRule, type DeviceMapping } from './security-options.js';

const withDevices = (devices: DeviceMapping[], deviceCgroupRules: string[] = []) => deviceAccess({ ...DEFAULT_SECURITY, devices, deviceCgroupRules });
const nullNode = { type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 };

test("Docker's defaults: deny everything first, then the harmless nodes; no extra nodes", () => {
  const access = deviceAccess(DEFAULT_SECURITY);
  assert.deepEqual(access.nodes, []);
  assert.deepEqual(access.rules, DEFAULT_DEVICE_RULES);
  assert.deepEqual(access.rules[0], { allow: false, access: 'rwm' });
  const allowed = access.rules.slice(1).map((r) => `${r.type} ${r.major ?? '*'}:${r.minor ?? '*'} ${r.access}`);
  assert.deepEqual(allowed.sort(), [
    'b *:* m', 'c *:* m', 'c 10:200 rwm', 'c 136:* rwm', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm',
    'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm',
  ]);
});

test('--device: the host node under the container path, allowed with its permissions', () => {
  const access = withDevices([{ host: '/dev/null', container: '/dev/mynull', permissions: 'rw' }]);
  assert.deepEqual(access.nodes, [{ path: '/dev/mynull', ...nullNode }]);
  assert.deepEqual(access.rules.at(-1), { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' });
});

test('--device follows a symlink; a directory gives its device nodes; anything else is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'whalebox-devices-'));
  try {
    symlinkSync('/dev/null', join(dir, 'link'));
    assert.deepEqual(withDevices([{ host: join(dir, 'link'), container: '/dev/x', permissions: 'rwm' }]).nodes, [{ path: '/dev/x', ...nullNode }]);

    // In a directory: FIFOs and device nodes, at any depth; symlinks and files are passed over.
    mkdirSync(join(dir, 'tree', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'tree', 'file'), '');
    symlinkSync('/dev/null', join(dir, 'tree', 'link'));
    assert.equal(spawnSync('mkfifo', [join(dir, 'tree', 'sub', 'fifo')]).status, 0);
    const tree = withDevices([{ host: join(dir, 'tree'), container: '/dev/t', permissions: 'rwm' }]);
    assert.deepEqual(tree.nodes.map((n) => [n.path, n.type]), [['/dev/t/sub/fifo', 'p']]);
    assert.deepEqual(tree.rules, DEFAULT_DEVICE_RULES, 'no cgroup rule is about a FIFO');

    const refused = (host: string, cause: string): void => {
      assert.throws(() => withDevices([{ host, container: host, permissions: 'rwm' }]), {
        message: `error gathering device information while adding custom device "${host}": ${cause}`,
      });
    };
    refused('/nonexistent', 'no such file or directory');
    refused(join(dir, 'tree', 'file'), 'not a device node');
    mkdirSync(join(dir, 'empty'));
    refused(join(dir, 'empty'), 'not a device node');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--device-cgroup-rule: allow rules after the defaults, * as any', () => {
  const { rules } = withDevices([], ['c 1:1 r', 'b *:* m', 'c 4:* rw', 'a', 'a *:* rwm'].map(parseDeviceCgroupRule));
  assert.deepEqual(rules.slice(DEFAULT_DEVICE_RULES.length), [
    { allow: true, type: 'c', major: 1, minor: 1, access: 'r' },
    { allow: true, type: 'b', major: undefined, minor: undefined, access: 'm' },
    { allow: true, type: 'c', major: 4, minor: undefined, access: 'rw' },
    { allow: true, access: 'rwm' },
    { allow: true, access: 'rwm' },
  ]);
});

test("--privileged: the host's device nodes as runc lists them, and one allow-all rule", () => {
  const access = deviceAccess({ ...DEFAULT_SECURITY, privileged: true, devices: [{ host: '/dev/null', container: '/dev/mynull', permissions: 'r' }] });
  assert.deepEqual(access.rules, [{ allow: true, access: 'rwm' }]);
  const paths = access.nodes.map((n) => n.path);
  assert.ok(paths.includes('/dev/null') && paths.includes('/dev/mynull'));
  assert.ok(!paths.includes('/dev/console') && !paths.includes('/dev/ptmx'));
  assert.ok(paths.every((p) => !/^\/dev\/(pts|shm|fd|mqueue)\//.test(p)));
  assert.ok(access.nodes.every((n) => n.type === 'c' || n.type === 'b'));
});
