import { join, posix } from 'node:path';
import { WhaleboxError } from '../util/errors.js';
import type { LinuxNamespace, LinuxResources, Mount, Spec } from '../runtime/oci-spec.js';
import { OVERLAY_ANNOTATION, OVERLAY_LOWER_BASE_ANNOTATION } from '../runtime/plan.js';
import { layerLinkOf } from '../image/layer-links.js';
import { networkNamespace } from './networking.js';
import type { ContainerConfig, Resources } from './container-config.js';
import type { ResolvedUser } from './image-user.js';
import { DEFAULT_SECURITY } from './security-options.js';
import { checkUlimits, privilegedMounts, processSecurity } from './security-spec.js';
import { containerSeccomp } from '../runtime/seccomp/profile.js';
import { deviceAccess, type DeviceRule } from './devices.js';

/** The image's runtime defaults (the `config` object of an OCI image config). */
export interface ImageRuntimeConfig {
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  User?: string;
}

export interface SpecInput {
  readonly id: string;
  readonly config: ContainerConfig;
  readonly image: ImageRuntimeConfig;
  /** Unpacked image layers, base layer first. */
  readonly layerDirs: readonly string[];
  readonly user: ResolvedUser;
  readonly bundleDir: string;
  readonly hostname: string;
  /** The cgroup that holds the containers' cgroups (`--cgroup-parent`, default whalebox). */
  readonly cgroupParent: string;
  /** Where resolved seccomp filters are kept (the run root's); none: resolved each time. */
  readonly seccompCache?: string;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's default mounts (moby oci/defaults.go). */
const DEFAULT_MOUNTS: Mount[] = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
];

const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The command Docker would run: entrypoint + cmd, with --entrypoint and arguments overriding. */
export function containerArgs(config: ContainerConfig, image: ImageRuntimeConfig): string[] {
  const entrypoint =
    config.entrypoint === undefined ? image.Entrypoint ?? [] : config.entrypoint === '' ? [] : [config.entrypoint];
  // Overriding the entrypoint drops the image's Cmd, as Docker does.
  const cmd = config.cmd?.length ? config.cmd : config.entrypoint === undefined ? image.Cmd ?? [] : [];
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new WhaleboxError('No command specified');
  return args;
}

/** Image env, then the user's, later keys replacing earlier ones; PATH and HOME always set. */
export function containerEnv(config: ContainerConfig, image: ImageRuntimeConfig, hostname: string, home: string): string[] {
  const env = new Map<string, string>();
  const put = (entry: string): void => {
    const eq = entry.indexOf('=');
    env.set(eq < 0 ? entry : entry.slice(0, eq), entry);
  };
  put(DEFAULT_PATH);
  put(`HOSTNAME=${hostname}`);
  for (const entry of image.Env ?? []) put(entry);
  if (config.tty) put('TERM=xterm');
  for (const entry of config.env) put(entry);
  if (!env.has('HOME')) put(`HOME=${home}`);
  return [...env.values()];
}

function ociResources(resources: Resources, devices: DeviceRule[]): LinuxResources {
  const out: LinuxResources = { devices };
  if (resources.memory !== undefined) {
    // Docker: with a memory limit and no swap setting, the container may swap as much again.
    out.memory = { limit: resources.memory, swap: resources.memorySwap ?? resources.memory * 2 };
  }
  if (resources.cpus !== undefined || resources.cpuShares !== undefined || resources.cpusetCpus !== undefined) {
    const period = 100_000;
    out.cpu = {
      shares: resources.cpuShares,
      period: resources.cpus !== undefined ? period : undefined,
      quota: resources.cpus !== undefined ? Math.round(resources.cpus * period) : undefined,
      cpus: resources.cpusetCpus,
    };
  }
  if (resources.pidsLimit !== undefined) out.pids = { limit: resources.pidsLimit > 0 ? resources.pidsLimit : -1 };
  return out;
}

/** Parents before children: mounts sorted by depth, as Docker sorts them. */
function depth(path: string): number {
  return posix.normalize(path).split('/').filter(Boolean).length;
}

/** The bundle's init layer directory (see buildSpec; made by createContainer). */
export const INIT_LAYER = 'init';

/** Builds the OCI config.json that describes the container to the runtime. */
export function buildSpec(input: SpecInput): Spec {
  const { config, image, user } = input;
  for (const path of [input.bundleDir, ...input.layerDirs]) {
    if (/[,:]/.test(path)) throw new WhaleboxError(`the store path ${path} contains ',' or ':', which overlayfs cannot take`);
  }
  const userMounts: Mount[] = [
    ...config.volumes.map((v) => ({
      destination: v.destination,
      type: 'bind',
      source: v.source,
      options: ['rbind', 'rprivate', ...(v.readonly ? ['ro'] : [])],
    })),
    ...config.tmpfs.map((t) => ({ destination: t.destination, type: 'tmpfs', source: 'tmpfs', options: t.options })),
  ].sort((a, b) => depth(a.destination) - depth(b.destination));
  const taken = new Set(userMounts.map((m) => posix.normalize(m.destination)));
  const etcFiles: Mount[] = ['resolv.conf', 'hostname', 'hosts'].map((file) => ({
    destination: `/etc/${file}`,
    type: 'bind',
    source: join(input.bundleDir, file),
    options: ['rbind', 'rprivate'],
  }));
  // One depth order for all: a default under a user mount (/dev/pts under a user /dev) follows it.
  const mounts = [...DEFAULT_MOUNTS, ...etcFiles]
    .filter((m) => !taken.has(m.destination))
    .concat(userMounts)
    .sort((a, b) => depth(a.destination) - depth(b.destination));

  const namespaces: LinuxNamespace[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
  const network = networkNamespace(input.id, config.network);
  if (network) namespaces.push(network);

  // Short relative names (layers/l/…), resolved from the layers directory: full paths of 100+
  // layers would overflow the page that mount(2) takes for options.
  const lower = [...input.layerDirs].reverse().map(layerLinkOf);
  // On top, the container's init layer: the mount points the runtime needs, so that they are
  // never created in the upper dir (and never committed), as Docker's "-init" layer.
  const lowerdir = [join(input.bundleDir, INIT_LAYER), ...lower.map(({ link }) => link)].join(':');
  // Redirects and metadata-only copy-ups (on by default on some kernels) would put overlay
  // bookkeeping in the upper dir that `commit` cannot turn into a layer: off, as Docker needs.
  const overlay = [`lowerdir=${lowerdir}`, `upperdir=${join(input.bundleDir, 'diff')}`, `workdir=${join(input.bundleDir, 'work')}`, 'redirect_dir=off', 'metacopy=off'];
  // volatile skips the syncfs at unmount; safe only when the upper dir is thrown away.
  if (config.autoRemove) overlay.push('volatile');

  const workdir = config.workdir || image.WorkingDir || '/';
  if (!posix.isAbsolute(workdir)) {
    throw new WhaleboxError(`the working directory '${workdir}' is invalid, it needs to be an absolute path`);
  }
  const security = config.security ?? DEFAULT_SECURITY;
  checkUlimits(security.ulimits);
  const devices = deviceAccess(security);
  const spec: Spec = {
    ociVersion: '1.2.0',
    process: {
      terminal: config.tty,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids, umask: 0o022 },
      args: containerArgs(config, image),
      env: containerEnv(config, image, input.hostname, user.home),
      cwd: workdir,
      ...processSecurity(security),
    },
    root: { path: 'rootfs', readonly: config.readonlyRootfs },
    hostname: input.hostname,
    mounts: security.privileged ? privilegedMounts(mounts) : mounts,
    linux: {
      namespaces,
      resources: ociResources(config.resources, devices.rules),
      cgroupsPath: `${input.cgroupParent}/${input.id}`,
      // --privileged masks nothing and leaves /proc writable, as Docker.
      maskedPaths: security.privileged ? [] : MASKED_PATHS,
      readonlyPaths: security.privileged ? [] : READONLY_PATHS,
      ...(Object.keys(security.sysctls).length > 0 ? { sysctl: { ...security.sysctls } } : {}),
      rootfsPropagation: 'rprivate',
      devices: devices.nodes,
    },
    annotations: { [OVERLAY_ANNOTATION]: overlay.join(','), [OVERLAY_LOWER_BASE_ANNOTATION]: lower[0]?.layersDir ?? '/' },
  };
  // The profile's rules follow the capabilities the container holds; --privileged has no filter (Docker).
  const seccomp = security.privileged ? undefined : containerSeccomp(security.seccomp, spec.process.capabilities?.bounding ?? [], input.seccompCache);
  if (seccomp) spec.linux.seccomp = seccomp;
  return spec;
}
