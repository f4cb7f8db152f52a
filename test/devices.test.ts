// Device access control, end to end: an image carrying device nodes for host hardware, the
// defaults that keep them closed, what --privileged, --device and --device-cgroup-rule open,
// and the cgroup v2 program on its own (on this hybrid host, through the shim directly).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, createReadStream, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { extract, pack } from 'tar-stream';
import { busyboxTar, storeForFile } from './helpers.js';
import { detectCgroupDriver } from '../src/runtime/cgroups/index.js';
import { deviceFilter } from '../src/runtime/cgroups/device-filter.js';
import type { DeviceCgroupRule } from '../src/runtime/cgroups/limits.js';
import { launch, type LaunchResult } from '../src/runtime/launcher.js';
import { MS } from '../src/runtime/mount-options.js';
import type { PlanRecord } from '../src/runtime/shim-protocol.js';
import { DEFAULT_DEVICE_RULES, majorMinor } from '../src/engine/devices.js';
import { startFailure } from '../src/engine/start-failure.js';

const store = storeForFile();

interface BlockDevice {
  readonly path: string;
  readonly major: number;
  readonly minor: number;
  /** What the host reads of its first 512 bytes (fewer on a small or empty device). */
  readonly firstBytes: number;
}

/** The host may not open it (this sandbox refuses even root the disk): undefined. */
function hostRead(path: string): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    return readSync(fd, Buffer.alloc(512), 0, 512, 0);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The block device holding `/`; where `/` is on none (overlay, virtiofs), or where the host
 * itself may not open it, the biggest block device that the host can open. A denial inside a
 * container then comes from the container's confinement, not from the host's own.
 */
function hostBlockDevice(): BlockDevice {
  const sectors = (name: string): number => Number(readFileSync(join('/sys/dev/block', name, 'size'), 'utf8'));
  const root = majorMinor(statSync('/').dev).join(':');
  const bySize = readdirSync('/sys/dev/block').sort((a, b) => sectors(b) - sectors(a));
  for (const name of [root, ...bySize.filter((name) => name !== root)]) {
    if (!existsSync(join('/sys/dev/block', name))) continue;
    const devname = /^DEVNAME=(.*)$/m.exec(readFileSync(join('/sys/dev/block', name, 'uevent'), 'utf8'))?.[1];
    const path = `/dev/${devname}`;
    const firstBytes = devname ? hostRead(path) : undefined;
    if (firstBytes === undefined) continue;
    const [major, minor] = name.split(':').map(Number) as [number, number];
    return { path, major, minor, firstBytes };
  }
  throw new Error('no block device that the host can open');
}

const disk = hostBlockDevice();

/** busybox with two more nodes: /disk (the host's block device) and /mem (c 1 1, /dev/mem). */
async function hostileImageTar(): Promise<Buffer> {
  const out = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of out) chunks.push(chunk as Buffer);
  })();
  const source = extract();
  createReadStream(busyboxTar()).pipe(source);
  for await (const entry of source) {
    const parts: Buffer[] = [];
    for await (const part of entry) parts.push(part as Buffer);
    out.entry(entry.header, Buffer.concat(parts));
  }
  out.entry({ name: 'disk', type: 'block-device', devmajor: disk.major, devminor: disk.minor, mode: 0o600 });
  out.entry({ name: 'mem', type: 'character-device', devmajor: 1, devminor: 1, mode: 0o600 });
  out.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** The first 512 bytes of PATH into /tmp/b, and their count; dd's error otherwise. */
const readFirstBlock = (path: string): string => `dd if=${path} of=/tmp/b bs=512 count=1 2>/tmp/err && wc -c < /tmp/b || cat /tmp/err`;

function run(...args: string[]): { status: number | null; out: string } {
  const r = store.wb(['run', '--rm', '--network', 'none', ...args]);
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('device access', () => {
  test('an image with nodes for host hardware', async () => {
    const tar = join(store.dir, 'hostile.tar');
    writeFileSync(tar, await hostileImageTar());
    const imported = store.wb(['import', tar, 'hostile']);
    assert.equal(imported.status, 0, imported.stderr);
  });

  test('a default container can open neither the disk nor /dev/mem through them', () => {
    const r = run('hostile', 'sh', '-c', `${readFirstBlock('/disk')}; ${readFirstBlock('/mem')}`);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /can't open '\/disk': Operation not permitted/);
    assert.match(r.out, /can't open '\/mem': Operation not permitted/);
  });

  test('exec is held to the same rules: they belong to the cgroup', () => {
    const started = store.wb(['run', '-d', '--network', 'none', 'hostile', 'sleep', '60']);
    assert.equal(started.status, 0, started.stderr);
    const id = started.stdout.trim();
    try {
      const r = store.wb(['exec', id, 'sh', '-c', readFirstBlock('/disk')]);
      assert.match(r.stdout, /can't open '\/disk': Operation not permitted/);
    } finally {
      store.wb(['rm', '-f', id]);
    }
  });

  test(`--privileged opens the block device (${disk.path}) and reads its first bytes`, () => {
    const r = run('--privileged', 'hostile', 'sh', '-c', `${readFirstBlock('/disk')}; ${readFirstBlock(disk.path)}`);
    assert.equal(r.status, 0, r.out);
    assert.equal(r.out, `${disk.firstBytes}\n${disk.firstBytes}\n`);
  });

  test('--device-cgroup-rule allows what it names, and nothing else', () => {
    const r = run('--device-cgroup-rule', `b ${disk.major}:${disk.minor} r`, 'hostile', 'sh', '-c', `${readFirstBlock('/disk')}; ${readFirstBlock('/mem')}`);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, new RegExp(`^${disk.firstBytes}\n`));
    assert.match(r.out, /can't open '\/mem': Operation not permitted/);
  });

  test('--device /dev/null:/dev/mynull makes a usable node of the same kind', () => {
    const r = run('--device', '/dev/null:/dev/mynull', 'busybox', 'sh', '-c', 'echo x > /dev/mynull && ls -l /dev/mynull');
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /^crw-rw-rw- +1 root +root +1, +3 .* \/dev\/mynull\n$/);
  });

  test('--device of the host disk makes it readable under another name', () => {
    const r = run('--device', `${disk.path}:/dev/xdisk:r`, 'busybox', 'sh', '-c', readFirstBlock('/dev/xdisk'));
    assert.equal(r.out, `${disk.firstBytes}\n`);
  });

  test("--device of a missing path: Docker's error, status 125", () => {
    const r = store.wb(['run', '--rm', '--device', '/nonexistent', 'busybox', 'true']);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /error gathering device information while adding custom device "\/nonexistent": no such file or directory/);
    assert.deepEqual(store.wb(['ps', '-aq']).stdout, '', 'no container is left');
  });
});

/**
 * The v2 program alone, through the shim: a child cloned into a fresh cgroup2 directory (on
 * this hybrid host, the unified mount) but left in the test's own v1 cgroups, where the
 * devices controller allows everything. Its own mount namespace holds a tmpfs with a /mem and
 * a /disk node. What it may open then depends on the program alone. The engine always adds v1
 * rules on a hybrid host, so this is the one sound way to see the program decide.
 */
describe('the cgroup v2 device program on its own', () => {
  const driver = detectCgroupDriver(undefined, { parent: store.cgroupParent });
  // Run in the tmpfs, which also takes the error text.
  const probe = (name: string): string => `head -c 1 ${name} >/dev/null 2>err && echo ${name} opened || echo ${name} $(cat err)`;

  /** Runs the probe in a fresh cgroup, with the program for RULES attached to `target(its cgroup2 dir)`. */
  async function probeWith(rules: DeviceCgroupRule[] | undefined, target = (dir: string) => dir): Promise<{ result: LaunchResult; output: string }> {
    const cgroup = driver.create(`v2probe${Math.random().toString(16).slice(2, 10)}`, undefined);
    const dir = mkdtempSync(join(store.dir, 'nodes-'));
    try {
      const cloneInto = cgroup.entry.cloneInto!;
      const add = (op: string, ...args: (string | number)[]): PlanRecord => ({ op, args, describe: `${op} ${args[0] ?? ''}` });
      const plan: PlanRecord[] = [
        add('clone', 0x00020000),
        add('clone-into-cgroup', cloneInto),
        ...(rules ? [add('devices', target(cloneInto), deviceFilter(rules).toString('hex'))] : []),
        add('mount', '', '/', '', MS.REC | MS.PRIVATE, ''),
        add('mount', 'tmpfs', dir, 'tmpfs', 0, ''),
        add('rootfs', dir),
        add('mknod', '/mem', 'c', 1, 1, '600', 0, 0),
        add('mknod', '/disk', 'b', disk.major, disk.minor, '600', 0, 0),
        add('exec', '/usr/bin:/bin', 'sh', '-c', `cd ${dir} && ${probe('mem')} && ${probe('disk')}`),
      ];
      let output = '';
      const result = await launch({ plan, mode: 'foreground', output: (_, chunk) => (output += chunk.toString()) });
      return { result, output };
    } finally {
      cgroup.kill();
      await cgroup.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async function openWith(rules: DeviceCgroupRule[] | undefined): Promise<string> {
    const { result, output } = await probeWith(rules);
    assert.ok(result.started, `${JSON.stringify(result.failed ?? result.fatal)} ${output}`);
    return output;
  }

  test('without the program, the v1 cgroup lets both be opened (/dev/mem then fails in its driver, if at all)', async () => {
    const out = await openWith(undefined);
    assert.doesNotMatch(out, /Operation not permitted/, out);
    assert.match(out, /^disk opened$/m);
  });

  test("with Docker's defaults the program refuses both", async () => {
    const out = await openWith([...DEFAULT_DEVICE_RULES]);
    assert.match(out, /^mem .*Operation not permitted$/m);
    assert.match(out, /^disk .*Operation not permitted$/m);
  });

  test('rules added to the defaults open exactly those devices', async () => {
    const out = await openWith([...DEFAULT_DEVICE_RULES, { allow: true, type: 'b', major: disk.major, minor: disk.minor, access: 'r' }]);
    assert.match(out, /^mem .*Operation not permitted$/m);
    assert.match(out, /^disk opened$/m);
  });

  test('a failed attach is a start failure that names the step and the cause', async () => {
    const { result } = await probeWith([...DEFAULT_DEVICE_RULES], (dir) => join(dir, 'missing'));
    assert.equal(result.started, false);
    assert.equal(result.failed?.record.op, 'devices');
    assert.match(startFailure(result).message, /^failed to start the container: devices .*\/missing: no such file or directory \(ENOENT\)$/);
  });
});
