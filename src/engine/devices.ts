/**
 * Which device nodes a container gets and which devices it may use: Docker's defaults,
 * `--device`, `--device-cgroup-rule` and `--privileged`, as moby's WithDevices makes them
 * (`linux.devices`, created by the shim's mknod steps, and `linux.resources.devices`, the rules
 * both cgroup versions enforce).
 */
import { lstatSync, readdirSync, realpathSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import type { Linux, LinuxResources } from '../runtime/oci-spec.js';
import { errnoCode, WhaleboxError } from '../util/errors.js';
import type { DeviceMapping, SecurityConfig } from './security-options.js';

export type DeviceNode = NonNullable<Linux['devices']>[number];
export type DeviceRule = NonNullable<LinuxResources['devices']>[number];

export interface DeviceAccess {
  readonly nodes: DeviceNode[];
  readonly rules: DeviceRule[];
}

const rwm = (type: 'c' | 'b', major?: number, minor?: number): DeviceRule => ({ allow: true, type, major, minor, access: 'rwm' });

/**
 * Docker's default device cgroup: deny everything, then mknod of any node and use of the
 * harmless ones. Moby's default spec allows null, zero, urandom, random, tty and console, and
 * runc appends its own allowed list (full, ptmx, the ptys of major 136, tun); this is the union,
 * so that a device node shipped in an image cannot reach host hardware.
 */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  ...[[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1], [5, 2], [10, 200]].map(([major, minor]) => rwm('c', major, minor)),
  rwm('c', 136),
];

/** What the container's /dev holds beyond the defaults, and the device rules, from its security settings. */
export function deviceAccess(security: SecurityConfig): DeviceAccess {
  if (security.privileged) {
    // Docker: every host device, and mappings that rename one; all of them usable.
    const renamed = security.devices.filter((m) => m.host !== m.container);
    return { nodes: [...hostDevices(), ...renamed.flatMap(mappedDevices)], rules: [{ allow: true, access: 'rwm' }] };
  }
  const mapped = security.devices.flatMap((mapping) => mappedDevices(mapping).map((node) => ({ node, permissions: mapping.permissions })));
  return {
    nodes: mapped.map(({ node }) => node),
    rules: [...DEFAULT_DEVICE_RULES, ...mapped.flatMap(({ node, permissions }) => nodeRule(node, permissions)), ...security.deviceCgroupRules.map(parseRule)],
  };
}

/** The rule that lets a mapped node be used; none for a FIFO, which no cgroup rule is about. */
function nodeRule(node: DeviceNode, access: string): DeviceRule[] {
  return node.type === 'c' || node.type === 'b' ? [{ allow: true, type: node.type, major: node.major, minor: node.minor, access }] : [];
}

/** `c 1:3 rwm`, `b *:* r` or `a` (already checked by parseDeviceCgroupRule): an allow rule. */
function parseRule(text: string): DeviceRule {
  const [type, numbers = '*:*', access = 'rwm'] = text.split(' ') as ['a' | 'c' | 'b', string?, string?];
  if (type === 'a') return { allow: true, access };
  const [major, minor] = numbers.split(':').map((n) => (n === '*' ? undefined : Number(n)));
  return { allow: true, type, major, minor, access };
}

/** glibc's gnu_dev_major/minor: the two numbers are split across the 64 bits of a dev_t. */
export function majorMinor(dev: number): [major: number, minor: number] {
  const d = BigInt(dev);
  return [Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n)), Number((d & 0xffn) | ((d >> 12n) & 0xffffff00n))];
}

/** A device node's OCI description (runc's DeviceFromPath: lstat, so a symlink is none), or undefined. */
function deviceAt(stats: Stats, containerPath: string): DeviceNode | undefined {
  const type = stats.isCharacterDevice() ? 'c' : stats.isBlockDevice() ? 'b' : stats.isFIFO() ? 'p' : undefined;
  if (!type) return undefined;
  const [major, minor] = majorMinor(stats.rdev);
  return { path: containerPath, type, major, minor, fileMode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid };
}

/** The C library's text for a system error, in Docker's (Go's) lower case. */
function errorText(err: unknown): string {
  const errno = typeof err === 'object' && err !== null && 'errno' in err ? Number(err.errno) : NaN;
  return getSystemErrorMap().get(errno)?.[1] ?? String(err);
}

/**
 * `--device HOST[:CONTAINER]`, as moby's DevicesFromPath: a symlink is followed, a device node
 * is taken as it is, a directory gives every device node below it (its path renamed under
 * CONTAINER); anything else is Docker's error.
 */
function mappedDevices(mapping: DeviceMapping): DeviceNode[] {
  const fail = (cause: string): never => {
    throw new WhaleboxError(`error gathering device information while adding custom device "${mapping.host}": ${cause}`);
  };
  let resolved = mapping.host;
  try {
    if (lstatSync(resolved).isSymbolicLink()) resolved = realpathSync(resolved);
  } catch {
    // As Docker: the path as given, which the lstat below judges.
  }
  let stats: Stats;
  try {
    stats = lstatSync(resolved);
  } catch (err) {
    return fail(errorText(err));
  }
  const node = deviceAt(stats, mapping.container);
  if (node) return [node];
  const found = stats.isDirectory() ? devicesUnder(resolved, mapping.container, () => false) : [];
  return found.length > 0 ? found : fail('not a device node');
}

/** runc's GetDevices: what /dev holds besides the kernel's virtual file systems and the console. */
const SKIPPED_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every character and block device under `dir` (recursively), at its path under `containerDir`. */
function devicesUnder(dir: string, containerDir: string, skip: (name: string, isDir: boolean) => boolean): DeviceNode[] {
  const found: DeviceNode[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (skip(entry.name, entry.isDirectory())) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      found.push(...devicesUnder(path, join(containerDir, entry.name), skip));
      continue;
    }
    let stats: Stats;
    try {
      stats = lstatSync(path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue; // gone meanwhile
      throw err;
    }
    const node = deviceAt(stats, join(containerDir, entry.name));
    if (node) found.push(node);
  }
  return found;
}

/**
 * `--privileged`: the host's /dev as runc's HostDevices() reads it (no FIFOs, nothing under
 * pts, shm, fd, mqueue, no console), except /dev/ptmx, which the runtime makes a link to the
 * container's own pts/ptmx (as runc replaces it).
 */
function hostDevices(): DeviceNode[] {
  const skip = (name: string, isDir: boolean): boolean => (isDir ? SKIPPED_DIRS.has(name) : name === 'console');
  return devicesUnder('/dev', '/dev', skip).filter((node) => node.type !== 'p' && node.path !== '/dev/ptmx');
}
