import { readFileSync } from 'node:fs';
import { allCapabilities, DOCKER_DEFAULT_CAPABILITIES } from '../runtime/capabilities.js';
import type { Mount, Process } from '../runtime/oci-spec.js';
import { WhaleboxError } from '../util/errors.js';
import { ULIMIT_NAMES, type SecurityConfig, type Ulimit } from './security-options.js';

/**
 * The parts of the OCI spec that --privileged, --cap-add/--cap-drop, no-new-privileges,
 * --ulimit and --oom-score-adj decide, as Docker's daemon derives them.
 */

/**
 * Docker's TweakCapabilities: --privileged gets every capability (the shim keeps those the host
 * grants); `--cap-add ALL` starts from all of them, `--cap-drop ALL` from none, otherwise from
 * Docker's default 14; then drops, then adds.
 */
export function containerCapabilities(security: SecurityConfig): string[] {
  if (security.privileged) return allCapabilities();
  const { capAdd, capDrop } = security;
  const adds = capAdd.filter((cap) => cap !== 'ALL');
  if (capDrop.includes('ALL') && !capAdd.includes('ALL')) return [...new Set(adds)];
  const base = capAdd.includes('ALL') ? allCapabilities() : [...DOCKER_DEFAULT_CAPABILITIES];
  return [...new Set([...base.filter((cap) => !capDrop.includes(cap)), ...adds])];
}

/** The process fields: capabilities, no_new_privs, rlimits, oom_score_adj. */
export function processSecurity(security: SecurityConfig): Pick<Process, 'capabilities' | 'noNewPrivileges' | 'rlimits' | 'oomScoreAdj'> {
  const caps = containerCapabilities(security);
  return {
    capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [] },
    ...(security.noNewPrivileges ? { noNewPrivileges: true } : {}),
    ...(security.ulimits.length > 0 ? { rlimits: security.ulimits.map(rlimit) } : {}),
    ...(security.oomScoreAdj === undefined ? {} : { oomScoreAdj: security.oomScoreAdj }),
  };
}

/**
 * --privileged lifts the read-only /sys and cgroup mounts (Docker's), and masks nothing: the
 * masked and read-only /proc paths are left out by the caller.
 */
export function privilegedMounts(mounts: readonly Mount[]): Mount[] {
  return mounts.map((mount) =>
    mount.type === 'sysfs' || mount.type === 'cgroup' ? { ...mount, options: (mount.options ?? []).filter((option) => option !== 'ro') } : mount,
  );
}

/** Whether this process holds CAP_SYS_RESOURCE (bit 24), which raising a hard limit needs. */
function hasSysResource(): boolean {
  const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return (BigInt(`0x${effective}`) & (1n << 24n)) !== 0n;
}

/** The hard limits this process has (`/proc/self/limits`), by RLIMIT_ name; Infinity for unlimited. */
function hardLimits(): Map<string, number> {
  const rows: Array<[string, string]> = [
    ['RLIMIT_CPU', 'Max cpu time'], ['RLIMIT_FSIZE', 'Max file size'], ['RLIMIT_DATA', 'Max data size'],
    ['RLIMIT_STACK', 'Max stack size'], ['RLIMIT_CORE', 'Max core file size'], ['RLIMIT_RSS', 'Max resident set'],
    ['RLIMIT_NPROC', 'Max processes'], ['RLIMIT_NOFILE', 'Max open files'], ['RLIMIT_MEMLOCK', 'Max locked memory'],
    ['RLIMIT_AS', 'Max address space'], ['RLIMIT_LOCKS', 'Max file locks'], ['RLIMIT_SIGPENDING', 'Max pending signals'],
    ['RLIMIT_MSGQUEUE', 'Max msgqueue size'], ['RLIMIT_NICE', 'Max nice priority'], ['RLIMIT_RTPRIO', 'Max realtime priority'],
    ['RLIMIT_RTTIME', 'Max realtime timeout'],
  ];
  const text = readFileSync('/proc/self/limits', 'utf8');
  const limits = new Map<string, number>();
  for (const [type, label] of rows) {
    const hard = new RegExp(`^${label}\\s+\\S+\\s+(\\S+)`, 'm').exec(text)?.[1];
    if (hard !== undefined) limits.set(type, hard === 'unlimited' ? Infinity : Number(hard));
  }
  return limits;
}

/**
 * Raising a hard limit above the engine's own needs CAP_SYS_RESOURCE. Where the engine runs
 * without it (some hosts, rootless later), the container could not start: said now, clearly,
 * instead of a failed setrlimit at start.
 */
export function checkUlimits(ulimits: readonly Ulimit[]): void {
  if (ulimits.length === 0 || hasSysResource()) return;
  const limits = hardLimits();
  for (const ulimit of ulimits) {
    const type = ULIMIT_NAMES[ulimit.name]!;
    const current = limits.get(type) ?? Infinity;
    const wanted = ulimit.hard === -1 ? Infinity : ulimit.hard;
    if (wanted > current) {
      throw new WhaleboxError(
        `--ulimit ${ulimit.name}: the hard limit ${wanted === Infinity ? 'unlimited' : wanted} is above this host's ${current} for whalebox, and raising a hard limit needs CAP_SYS_RESOURCE, which whalebox does not have here`,
      );
    }
  }
}

/** An OCI rlimit; -1 stands for RLIM_INFINITY, which JSON numbers cannot hold (the shim reads it so). */
function rlimit(ulimit: Ulimit): { type: string; soft: number; hard: number } {
  return { type: ULIMIT_NAMES[ulimit.name]!, soft: ulimit.soft, hard: ulimit.hard };
}
