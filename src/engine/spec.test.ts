import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultContainerConfig, type ContainerConfig } from './container-config.js';
import { buildSpec, containerArgs, containerEnv } from './spec.js';

const config = (overrides: Partial<ContainerConfig> = {}): ContainerConfig => ({ ...defaultContainerConfig('busybox'), network: 'none', ...overrides });

test("entrypoint and cmd combine as Docker's do", () => {
  const image = { Entrypoint: ['/entry'], Cmd: ['default'] };
  assert.deepEqual(containerArgs(config(), image), ['/entry', 'default']);
  assert.deepEqual(containerArgs(config({ cmd: ['mine'] }), image), ['/entry', 'mine']);
  assert.deepEqual(containerArgs(config({ entrypoint: 'sh' }), image), ['sh']);
  assert.deepEqual(containerArgs(config({ entrypoint: '', cmd: ['ls'] }), image), ['ls']);
  assert.throws(() => containerArgs(config(), {}), /No command specified/);
});

test('the environment: defaults, image, then the user; later keys win', () => {
  const env = containerEnv(config({ tty: true, env: ['A=user', 'B=2'] }), { Env: ['A=image', 'PATH=/custom'] }, 'host1', '/root');
  assert.deepEqual(env, ['PATH=/custom', 'HOSTNAME=host1', 'A=user', 'TERM=xterm', 'B=2', 'HOME=/root']);
});

test("Docker's defaults: capabilities, masked paths, limits, mounts by depth", () => {
  const spec = buildSpec({
    id: 'c'.repeat(64),
    config: config({
      cmd: ['true'],
      autoRemove: true,
      volumes: [
        { source: '/h/deep', destination: '/a/b', readonly: true },
        { source: '/h/top', destination: '/a', readonly: false },
      ],
      resources: { memory: 20 * 1024 * 1024, cpus: 0.5, pidsLimit: 0 },
    }),
    image: {},
    layerDirs: [`/store/layers/${'a'.repeat(64)}/diff`, `/store/layers/${'b'.repeat(64)}/diff`],
    user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
    bundleDir: '/bundle',
    hostname: 'cccccccccccc',
    cgroupParent: 'whalebox',
  });
  assert.equal(spec.process.capabilities?.bounding?.length, 14);
  assert.deepEqual(spec.process.capabilities?.inheritable, []);
  assert.ok(spec.linux.maskedPaths?.includes('/proc/kcore'));
  assert.ok(spec.linux.readonlyPaths?.includes('/proc/sys'));
  const { devices, ...limits } = spec.linux.resources!;
  assert.deepEqual(devices?.[0], { allow: false, access: 'rwm' }, 'every device denied first');
  assert.ok(devices?.some((d) => d.allow && d.type === 'c' && d.major === 1 && d.minor === 3));
  assert.deepEqual(limits, {
    memory: { limit: 20971520, swap: 41943040 },
    cpu: { shares: undefined, period: 100000, quota: 50000, cpus: undefined },
    pids: { limit: -1 },
  });
  const destinations = spec.mounts.map((m) => m.destination);
  assert.ok(destinations.indexOf('/a') < destinations.indexOf('/a/b'));
  assert.deepEqual(spec.mounts.find((m) => m.destination === '/a/b')?.options, ['rbind', 'rprivate', 'ro']);
  assert.equal(
    spec.annotations?.['io.whalebox.rootfs.overlay'],
    `lowerdir=/bundle/init:l/${'b'.repeat(12)}:l/${'a'.repeat(12)},upperdir=/bundle/diff,workdir=/bundle/work,redirect_dir=off,metacopy=off,volatile`,
  );
  assert.equal(spec.annotations?.['io.whalebox.rootfs.overlay.lowerbase'], '/store/layers');
  assert.deepEqual(spec.linux.namespaces.map((n) => n.type), ['pid', 'ipc', 'uts', 'mount', 'cgroup', 'network']);
});
