import { statSync } from 'node:fs';
import { isAbsolute, join, posix } from 'node:path';
import { capabilityMask } from './capabilities.js';
import { MS, parseMountOptions } from './mount-options.js';
import type { Field, PlanRecord } from './shim-protocol.js';
import type { LinuxSeccomp, Mount, Process, Spec } from './oci-spec.js';
import { seccompProgram } from './seccomp/compile.js';
import type { Cgroup, CgroupFsMount } from './cgroups/index.js';
import { deviceFilter } from './cgroups/device-filter.js';

/** Annotation naming the overlay that forms the root filesystem (see docs/DESIGN.md). */
export const OVERLAY_ANNOTATION = 'io.whalebox.rootfs.overlay';
/** Annotation naming the directory that the overlay's relative lowerdir names start from. */
export const OVERLAY_LOWER_BASE_ANNOTATION = 'io.whalebox.rootfs.overlay.lowerbase';

const CLONE_NEW: Record<string, number> = {
  mount: 0x00020000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  network: 0x40000000,
  cgroup: 0x02000000,
};

/** The OCI namespace types as /proc/PID/ns names them (the shim's names). */
const PROC_NS_NAME: Record<string, string> = { network: 'net', uts: 'uts', ipc: 'ipc' };

export interface PlanInput {
  readonly spec: Spec;
  readonly bundleDir: string;
  readonly cgroupEntry: Cgroup['entry'];
  readonly cgroupMounts: readonly CgroupFsMount[];
  readonly exitFile: string;
  readonly exitCommand?: readonly string[];
  /** Where the shim writes the container's output (CRI k8s-file lines). */
  readonly logFile?: string;
  /** Nobody waits for the exit (run -d): the shim stops reporting at the start. Otherwise the
   * output goes to the caller's stdout and stderr as well as to the log. */
  readonly detach?: boolean;
  /** The container dies with this process (a build's step): the shim gets PDEATHSIG. */
  readonly dieWithCaller?: boolean;
  /** Where compiled syscall filters are kept (see seccompProgram); without it, compiled each time. */
  readonly seccompCache?: string;
}

/** Devices every container gets, as the OCI spec requires of a runtime. */
const DEFAULT_DEVICES = [
  ['/dev/null', 1, 3],
  ['/dev/zero', 1, 5],
  ['/dev/full', 1, 7],
  ['/dev/random', 1, 8],
  ['/dev/urandom', 1, 9],
  ['/dev/tty', 5, 0],
] as const;

const DEV_SYMLINKS = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
  ['pts/ptmx', '/dev/ptmx'],
  ['/proc/kcore', '/dev/core'],
] as const;

/** Turns an OCI spec into the shim's ordered launch plan (docs/shim-protocol.md). */
export function buildPlan(input: PlanInput): PlanRecord[] {
  const { spec } = input;
  const plan: PlanRecord[] = [];
  const add: Add = (op, args, describe) => {
    plan.push({ op, args, describe });
  };
  const has = (type: string): boolean => spec.linux.namespaces.some((ns) => ns.type === type && !ns.path);

  const cloneFlags = spec.linux.namespaces
    .filter((ns) => !ns.path && ns.type !== 'cgroup')
    .reduce((flags, ns) => flags | (CLONE_NEW[ns.type] ?? 0), 0);
  add('clone', [cloneFlags], 'create the namespaces');
  const { tasks, cloneInto } = input.cgroupEntry;
  if (cloneInto) add('clone-into-cgroup', [cloneInto], `start in cgroup ${cloneInto}`);
  if (spec.process.terminal) add('tty', [], 'relay a terminal');
  if (input.logFile) {
    add('log', [input.logFile], `log the output to ${input.logFile}`);
    if (input.detach) add('detach', [], 'report no further than the start');
    else add('tee', [], 'copy the output to the caller as well');
  }
  add('exit-file', [input.exitFile], 'record the exit status');
  if (input.exitCommand) add('exit-command', input.exitCommand, 'run the exit command');
  if (input.dieWithCaller) add('die-with-caller', [process.pid], `die with the caller (PID ${process.pid})`);

  for (const file of tasks) add('cgroup-join', [file], `join cgroup ${file}`);
  // Device access on cgroup v2 (v1 got its rules with the cgroup): before any node is opened or made.
  const deviceRules = spec.linux.resources?.devices;
  if (cloneInto && deviceRules) add('devices', [cloneInto, deviceFilter(deviceRules).toString('hex')], `attach the device filter to ${cloneInto}`);
  // Namespaces made beforehand (a network the engine configured): joined, not created.
  for (const ns of spec.linux.namespaces) {
    if (!ns.path) continue;
    // Anything else given by path would silently run in the host's namespace: refused.
    if (!PROC_NS_NAME[ns.type]) throw new Error(`joining a ${ns.type} namespace by path is not supported`);
    add('join-ns', [PROC_NS_NAME[ns.type]!, ns.path], `join the ${ns.type} namespace ${ns.path}`);
  }
  if (has('cgroup')) add('unshare', [CLONE_NEW.cgroup!], 'create the cgroup namespace');
  add('mount', ['', '/', '', MS.REC | MS.PRIVATE, ''], 'make all mounts private');
  if (has('uts') && spec.hostname) add('sethostname', [spec.hostname], `set hostname ${spec.hostname}`);
  if (has('network')) add('lo-up', [], 'bring up lo');

  const rootfs = isAbsolute(spec.root.path) ? spec.root.path : join(input.bundleDir, spec.root.path);
  const overlay = spec.annotations?.[OVERLAY_ANNOTATION];
  const lowerBase = spec.annotations?.[OVERLAY_LOWER_BASE_ANNOTATION];
  if (overlay && lowerBase) add('chdir', [lowerBase], 'enter the layer directory (relative lower dirs)');
  if (overlay) add('mount', ['overlay', rootfs, 'overlay', 0, overlay], 'mount the overlay root filesystem');
  else add('mount', [rootfs, rootfs, '', MS.BIND | MS.REC, ''], 'bind the root filesystem');
  add('rootfs', [rootfs], 'open the root filesystem');

  for (const mount of spec.mounts) addMount(add, mount, input);
  // Over a /dev bound from the host, nodes would be made in the host's directory: runc skips them.
  const devIsBind = spec.mounts.some((m) => posix.normalize(m.destination) === '/dev' && m.type === 'bind');
  for (const [path, major, minor] of devIsBind ? [] : DEFAULT_DEVICES) {
    add('mknod', [path, 'c', major, minor, '666', 0, 0], `create ${path}`);
  }
  const parents = new Set(['/dev']);
  for (const device of spec.linux.devices ?? []) {
    // Missing parents are made, as runc makes them (/dev/cpu/0/cpuid, a --device directory's tree).
    const parent = posix.dirname(device.path);
    if (!parents.has(parent)) add('mkdirs', [parent, '755'], `create ${parent}`);
    parents.add(parent);
    const mode = ((device.fileMode ?? 0o666) & 0o7777).toString(8);
    add('mknod', [device.path, device.type, device.major ?? 0, device.minor ?? 0, mode, device.uid ?? 0, device.gid ?? 0], `create ${device.path}`);
  }
  for (const [target, link] of devIsBind ? [] : DEV_SYMLINKS) add('symlink', [target, link], `link ${link} to ${target}`);

  add('pivot-root', [], 'pivot_root into the root filesystem');
  // Before /proc/sys turns read-only: the container's own namespaces' settings.
  for (const [name, value] of Object.entries(spec.linux.sysctl ?? {})) add('sysctl', [name.replace(/\./g, '/'), value], `set ${name}`);
  for (const path of spec.linux.maskedPaths ?? []) add('mask', [path], `mask ${path}`);
  for (const path of spec.linux.readonlyPaths ?? []) add('readonly', [path], `make ${path} read-only`);
  // Docker creates a missing working directory even in a read-only root: before the remount.
  add('mkdirs', [spec.process.cwd, '755'], `create the working directory ${spec.process.cwd}`);
  if (spec.root.readonly) add('remount', ['/', MS.RDONLY], 'make the root filesystem read-only');

  addProcessSteps(add, spec.process, spec.linux.seccomp && seccompProgram(spec.linux.seccomp, input.seccompCache));
  return plan;
}

type Add = (op: string, args: readonly Field[], describe: string) => void;

/**
 * The steps that turn the child into the container's process: terminal or session, working
 * directory, limits, credentials, syscall filter, environment, exec. Shared by a container's
 * init and `exec`.
 */
function addProcessSteps(add: Add, proc: Process, filter: Buffer | undefined, init = true): void {
  if (proc.terminal) add('console', [init ? 1 : 0], 'set up the terminal');
  else add('setsid', [], 'start a session');
  add('chdir', [proc.cwd], `change to the working directory ${proc.cwd}`);
  if (proc.oomScoreAdj !== undefined) add('oom-score-adj', [proc.oomScoreAdj], `set the OOM score adjustment to ${proc.oomScoreAdj}`);
  for (const limit of proc.rlimits ?? []) {
    add('rlimit', [rlimitNumber(limit.type), limit.soft, limit.hard], `set ${limit.type}`);
  }
  add('umask', [(proc.user.umask ?? 0o022).toString(8)], 'set the umask');
  // Without no_new_privs, loading a filter takes CAP_SYS_ADMIN: before the capabilities go (runc's
  // order), so the filter must allow what the shim does afterwards, as Docker's default does.
  if (filter && !proc.noNewPrivileges) addSeccomp(add, filter);
  const caps = proc.capabilities ?? {};
  add('bounding', [capabilityMask(caps.bounding)], 'drop capabilities from the bounding set');
  add('user', [proc.user.uid, proc.user.gid, (proc.user.additionalGids ?? []).join(',')], `switch to user ${proc.user.uid}:${proc.user.gid}`);
  add('caps', [capabilityMask(caps.effective), capabilityMask(caps.permitted), capabilityMask(caps.inheritable)], 'set capabilities');
  if (proc.noNewPrivileges) add('no-new-privs', [], 'set no_new_privs');
  add('env', proc.env, 'set the environment');
  // With no_new_privs, anyone may load a filter: as late as possible, so it constrains only the command.
  if (filter && proc.noNewPrivileges) addSeccomp(add, filter);
  const path = proc.env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '';
  add('exec', [path, ...proc.args], `exec ${JSON.stringify(proc.args[0])}`);
}

function addSeccomp(add: Add, filter: Buffer): void {
  add('seccomp', [filter.toString('hex')], `load the seccomp filter (${filter.length / 8} BPF instructions)`);
}

/** The namespaces `exec` joins, in the order setns needs them: the mount namespace last. */
const EXEC_NAMESPACES = ['cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt'] as const;

export interface ExecPlanInput {
  /** The container's init, as the host sees it. */
  readonly pid: number;
  readonly process: Process;
  /** Files to write "0" into: v1 `tasks`, and `cgroup.procs` of the cgroup2 directory. */
  readonly cgroupFiles: readonly string[];
  /** The container's syscall filter (none for `exec --privileged`). */
  readonly seccomp?: LinuxSeccomp;
  /** Where compiled syscall filters are kept (see seccompProgram). */
  readonly seccompCache?: string;
}

/** A plan that runs one more process inside a running container (`exec`). */
export function buildExecPlan(input: ExecPlanInput): PlanRecord[] {
  const plan: PlanRecord[] = [];
  const add: Add = (op, args, describe) => {
    plan.push({ op, args, describe });
  };
  add('clone', [0], 'start the process');
  if (input.process.terminal) add('tty', [], 'relay a terminal');
  for (const type of EXEC_NAMESPACES) add('setns', [type, `/proc/${input.pid}/ns/${type}`], `join the ${type} namespace`);
  for (const file of input.cgroupFiles) add('cgroup-join', [file], `join cgroup ${file}`);
  addProcessSteps(add, input.process, input.seccomp && seccompProgram(input.seccomp, input.seccompCache), false);
  return plan;
}

function addMount(add: Add, mount: Mount, input: PlanInput): void {
  const target = posix.normalize(mount.destination);
  if (mount.type === 'cgroup') {
    for (const m of input.cgroupMounts) {
      const flags = MS.NOSUID | MS.NODEV | MS.NOEXEC | (m.fstype === 'tmpfs' ? 0 : MS.RDONLY);
      add('cmount', [m.fstype, m.target, m.fstype, flags, m.data, 'dir'], `mount ${m.fstype} on ${m.target}`);
    }
    // The tmpfs holding the v1 hierarchies becomes read-only once they are in place.
    if (input.cgroupMounts.some((m) => m.fstype === 'tmpfs')) add('remount', [target, MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC], `make ${target} read-only`);
    return;
  }
  const { flags, data } = parseMountOptions(mount.options);
  const isBind = (flags & MS.BIND) !== 0 || mount.type === 'bind';
  const source = mount.source ?? mount.type ?? 'none';
  // A bind target is created in the shape of its source: a file over a file.
  const create = isBind && !statSync(source).isDirectory() ? 'file' : 'dir';
  add(
    'cmount',
    [source, target, isBind ? '' : mount.type ?? '', isBind ? flags | MS.BIND : flags, data, create],
    `mount ${isBind ? source : mount.type} on ${target}`,
  );
}

const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

function rlimitNumber(type: string): number {
  const number = RLIMITS[type];
  if (number === undefined) throw new Error(`unknown rlimit ${type}`);
  return number;
}
