import { normalizeCapability } from '../runtime/capabilities.js';
import { WhaleboxError } from '../util/errors.js';

/**
 * What `run`/`create` ask of the container's confinement: Docker's --privileged, --cap-add,
 * --cap-drop, --security-opt, --device, --device-cgroup-rule, --ulimit, --oom-score-adj and
 * --sysctl, parsed and checked as the docker CLI and daemon do.
 */
export interface SecurityConfig {
  readonly privileged: boolean;
  /** `CAP_*` names, or `ALL`. */
  readonly capAdd: readonly string[];
  readonly capDrop: readonly string[];
  readonly noNewPrivileges: boolean;
  /** `default`, `unconfined`, or a Docker seccomp profile (its JSON text, read at create as Docker does). */
  readonly seccomp: string;
  readonly devices: readonly DeviceMapping[];
  /** `c 1:3 rwm`, `b *:* r`, `a`: device cgroup rules added to the defaults. */
  readonly deviceCgroupRules: readonly string[];
  readonly ulimits: readonly Ulimit[];
  readonly oomScoreAdj?: number;
  readonly sysctls: Readonly<Record<string, string>>;
}

/** `--device HOST[:CONTAINER][:PERMISSIONS]`. */
export interface DeviceMapping {
  readonly host: string;
  readonly container: string;
  /** Some of `rwm`. */
  readonly permissions: string;
}

export interface Ulimit {
  /** Docker's names: nofile, nproc, core, … */
  readonly name: string;
  /** -1: unlimited (RLIM_INFINITY). */
  readonly soft: number;
  readonly hard: number;
}

export const DEFAULT_SECURITY: SecurityConfig = {
  privileged: false,
  capAdd: [],
  capDrop: [],
  noNewPrivileges: false,
  seccomp: 'default',
  devices: [],
  deviceCgroupRules: [],
  ulimits: [],
  sysctls: {},
};

/** `--cap-add`/`--cap-drop` values: `NET_ADMIN`, `cap_net_admin`, `ALL`. */
export function parseCapabilities(values: readonly string[]): string[] {
  return values.map((value) => (value.toUpperCase() === 'ALL' ? 'ALL' : normalizeCapability(value)));
}

/**
 * `--security-opt`: `seccomp=unconfined|PROFILE`, `no-new-privileges[=true|false]` (also with
 * `:`), `label=…` and `apparmor=…` (no LSM here: accepted for `disable`/`unconfined`, refused
 * otherwise). `readProfile` reads a profile file.
 */
export function parseSecurityOpts(values: readonly string[], readProfile: (path: string) => string): Pick<SecurityConfig, 'seccomp' | 'noNewPrivileges'> {
  let seccomp = 'default';
  let noNewPrivileges = false;
  for (const value of values) {
    const match = /^([a-z-]+)(?:[=:](.*))?$/s.exec(value);
    const [key, arg] = match ? [match[1]!, match[2]] : ['', undefined];
    if (key === 'no-new-privileges') {
      if (arg !== undefined && arg !== 'true' && arg !== 'false') throw new WhaleboxError(`invalid --security-opt 2: "${value}"`);
      noNewPrivileges = arg !== 'false';
    } else if (key === 'seccomp' && arg) {
      seccomp = arg === 'unconfined' ? 'unconfined' : readProfile(arg);
    } else if ((key === 'apparmor' && arg === 'unconfined') || (key === 'label' && arg === 'disable')) {
      // Nothing to relax: this engine loads no LSM policy.
    } else {
      throw new WhaleboxError(`invalid --security-opt: ${JSON.stringify(value)} (use seccomp=unconfined|PROFILE.json or no-new-privileges)`);
    }
  }
  return { seccomp, noNewPrivileges };
}

/** `--device /dev/sda[:/dev/xvda[:rwm]]`, as the docker CLI splits it. */
export function parseDevice(value: string): DeviceMapping {
  const parts = value.split(':');
  const invalid = (): WhaleboxError => new WhaleboxError(`invalid device specification: ${value}`);
  if (parts.length > 3 || !parts[0]) throw invalid();
  let [host, container, permissions] = parts as [string, string | undefined, string | undefined];
  if (parts.length === 2 && /^[rwm]+$/.test(container!)) [container, permissions] = [undefined, container];
  permissions ??= 'rwm';
  if (!/^[rwm]{1,3}$/.test(permissions)) throw new WhaleboxError(`invalid device mode: ${permissions}`);
  container ??= host;
  if (!host.startsWith('/') || !container.startsWith('/')) throw invalid();
  return { host, container, permissions };
}

/** `--device-cgroup-rule 'c 1:3 rwm'`: type, major:minor (`*` allowed), access; Docker's `a *:* rwm` or just `a` for all. */
export function parseDeviceCgroupRule(value: string): string {
  if (!/^(a|[acb] (\d+|\*):(\d+|\*) [rwm]{1,3})$/.test(value.trim())) throw new WhaleboxError(`invalid device cgroup rule: ${JSON.stringify(value)} (use "c|b MAJOR:MINOR rwm", * for any)`);
  return value.trim();
}

/** Docker's ulimit names and the RLIMIT_ each stands for. */
export const ULIMIT_NAMES: Readonly<Record<string, string>> = {
  core: 'RLIMIT_CORE',
  cpu: 'RLIMIT_CPU',
  data: 'RLIMIT_DATA',
  fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE',
  nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS',
  rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING',
  stack: 'RLIMIT_STACK',
  as: 'RLIMIT_AS',
};

/** `--ulimit nofile=1024:2048` (or one value for both; -1 is unlimited), as go-units parses it. */
export function parseUlimit(value: string): Ulimit {
  const match = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(value);
  if (!match) throw new WhaleboxError(`invalid ulimit argument: ${value}`);
  const name = match[1]!;
  if (!ULIMIT_NAMES[name]) throw new WhaleboxError(`invalid ulimit type: ${name}`);
  const soft = Number(match[2]);
  const hard = match[3] === undefined ? soft : Number(match[3]);
  const above = (a: number, b: number): boolean => b !== -1 && (a === -1 || a > b);
  if (above(soft, hard)) throw new WhaleboxError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { name, soft, hard };
}

/** `--oom-score-adj`: -1000 to 1000. */
export function parseOomScoreAdj(value: string): number {
  const score = Number(value);
  if (!/^-?\d+$/.test(value) || score < -1000 || score > 1000) throw new WhaleboxError(`Invalid value ${value}, range for oom score adj is [-1000, 1000]`);
  return score;
}

/** IPC sysctls a private IPC namespace owns (Docker's list), besides every `fs.mqueue.*`. */
const IPC_SYSCTLS = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];

/**
 * `--sysctl NAME=VALUE`, only for what the container's own namespaces hold (Docker's
 * ValidateSysctl): IPC ones, and `net.*` and the host name ones unless the network (and so,
 * here, the UTS name) is the host's. Host-wide ones get Docker's refusal.
 */
export function parseSysctls(values: readonly string[], network: string): Record<string, string> {
  const sysctls: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new WhaleboxError(`invalid argument "${value}" for "--sysctl" flag: sysctl '${value}' is not allowed`);
    const name = value.slice(0, eq).replace(/\//g, '.');
    const namespaced = IPC_SYSCTLS.includes(name) || name.startsWith('fs.mqueue.') || name.startsWith('net.') || name === 'kernel.hostname' || name === 'kernel.domainname';
    // The CLI's refusal for what no namespace holds; the daemon's for the host's own network.
    if (!namespaced) throw new WhaleboxError(`invalid argument "${value}" for "--sysctl" flag: sysctl '${value}' is not allowed`);
    if (network === 'host' && !IPC_SYSCTLS.includes(name) && !name.startsWith('fs.mqueue.')) {
      throw new WhaleboxError(`sysctl "${name}" not allowed in host network namespace`);
    }
    sysctls[name] = value.slice(eq + 1);
  }
  return sysctls;
}
