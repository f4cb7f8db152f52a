import { release } from 'node:os';
import { WhaleboxError } from '../../util/errors.js';
import type { LinuxSeccomp } from '../oci-spec.js';
import { defaultProfile } from './default-profile.js';
import { memo } from './memo.js';
import { compileArgs } from './compile-args.js';

/**
 * Docker's seccomp profiles (moby profiles/seccomp): the file format, and its resolution for one
 * container into the OCI `linux.seccomp` object, as Docker's daemon does it.
 */

/** A profile in Docker's format, as JSON gives it: Go reads null and absent as the zero value. */
export interface DockerProfile {
  readonly defaultAction?: string | null;
  readonly defaultErrnoRet?: number | null;
  readonly architectures?: readonly string[] | null;
  readonly archMap?: readonly { readonly architecture?: string | null; readonly subArchitectures?: readonly string[] | null }[] | null;
  readonly syscalls?: readonly DockerSyscall[] | null;
}

interface DockerSyscall {
  readonly name?: string | null;
  readonly names?: readonly string[] | null;
  readonly action?: string | null;
  readonly errnoRet?: number | null;
  readonly args?: readonly DockerArg[] | null;
  readonly includes?: Condition | null;
  readonly excludes?: Condition | null;
}

interface DockerArg {
  readonly index?: number | null;
  readonly value?: number | null;
  readonly valueTwo?: number | null;
  readonly op?: string | null;
}

/** When a rule applies: all of `includes` hold, none of `excludes`. */
interface Condition {
  readonly caps?: readonly string[] | null;
  readonly arches?: readonly string[] | null;
  /** `MAJOR.MINOR`. */
  readonly minKernel?: string | null;
}


/** What a profile is resolved against. */
export interface SeccompHost {
  /** Docker's name for the architecture: amd64, arm64, x86, … */
  readonly arch: string;
  /** `uname -r`. */
  readonly kernel: string;
}

/**
 * The filter for a container: `unconfined` has none; `default` is Docker's default profile,
 * anything else the text of a profile file. CAPABILITIES is the container's bounding set,
 * which turns on the rules that need them (mount with CAP_SYS_ADMIN, …).
 */
export function containerSeccomp(option: string, capabilities: readonly string[], cache?: string, host: SeccompHost = currentHost()): LinuxSeccomp | undefined {
  if (option === 'unconfined') return undefined;
  if (option === 'default') {
    // The same few capability sets come back start after start: their filters are kept (memo.ts).
    const resolved = memo(cache, 'json', JSON.stringify([capabilities, host]), () => Buffer.from(JSON.stringify(resolveProfile(defaultProfile(), capabilities, host) ?? null)));
    return (JSON.parse(resolved.toString()) as LinuxSeccomp | null) ?? undefined;
  }
  const seccomp = resolveProfile(parseProfileText(option), capabilities, host);
  // Refused now rather than when the container starts: the shim takes only what it can load.
  if (seccomp) decoding(() => compileArgs(seccomp));
  return seccomp;
}

/** Docker's arch names (moby's goToNative) and the seccomp architecture of each, by Node's name. */
const NODE_ARCHES: Readonly<Record<string, readonly [string, string]>> = {
  x64: ['amd64', 'SCMP_ARCH_X86_64'],
  ia32: ['x86', 'SCMP_ARCH_X86'],
  arm: ['arm', 'SCMP_ARCH_ARM'],
  arm64: ['arm64', 'SCMP_ARCH_AARCH64'],
  ppc64: ['ppc64le', 'SCMP_ARCH_PPC64LE'],
  s390x: ['s390x', 'SCMP_ARCH_S390X'],
  riscv64: ['riscv64', 'SCMP_ARCH_RISCV64'],
  mips: ['mips', 'SCMP_ARCH_MIPS'],
  mipsel: ['mipsle', 'SCMP_ARCH_MIPSEL'],
};

function currentHost(): SeccompHost {
  return { arch: NODE_ARCHES[process.arch]?.[0] ?? process.arch, kernel: release() };
}

/** The seccomp architecture of a Docker arch name (amd64 → SCMP_ARCH_X86_64). */
function seccompArch(arch: string): string | undefined {
  return Object.values(NODE_ARCHES).find(([name]) => name === arch)?.[1];
}

/**
 * Docker's setupSeccomp: the architectures of the host's `archMap` entry (or `architectures`),
 * and the rules whose includes/excludes match the host and CAPABILITIES. No default action
 * and no rules means no filter.
 */
export function resolveProfile(profile: DockerProfile, capabilities: readonly string[], host: SeccompHost): LinuxSeccomp | undefined {
  const calls = profile.syscalls ?? [];
  if (!profile.defaultAction && calls.length === 0) return undefined;
  const kernel = kernelVersion(host.kernel);
  const applies = (call: DockerSyscall): boolean =>
    !matchesAny(call.excludes ?? {}, capabilities, host.arch, kernel) && matchesAll(call.includes ?? {}, capabilities, host.arch, kernel);
  const entry = profile.archMap?.find((a) => a.architecture === seccompArch(host.arch));
  const architectures = profile.architectures?.length ? [...profile.architectures] : entry?.architecture ? [entry.architecture, ...(entry.subArchitectures ?? [])] : [];
  return {
    defaultAction: profile.defaultAction ?? '',
    ...(typeof profile.defaultErrnoRet === 'number' ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    ...(architectures.length ? { architectures } : {}),
    syscalls: calls.filter(applies).map((call) => ({
      names: call.name ? [call.name] : [...(call.names ?? [])],
      action: call.action ?? '',
      ...(typeof call.errnoRet === 'number' ? { errnoRet: call.errnoRet } : {}),
      ...(call.args?.length
        ? { args: call.args.map((a) => ({ index: a.index ?? 0, value: a.value ?? 0, ...(typeof a.valueTwo === 'number' ? { valueTwo: a.valueTwo } : {}), op: a.op ?? '' })) }
        : {}),
    })),
  };
}

type Version = readonly [number, number];

/** `excludes`: any capability held, the host's arch, or a kernel at least minKernel. */
function matchesAny(c: Condition, caps: readonly string[], arch: string, kernel: Version): boolean {
  return (c.arches ?? []).includes(arch) || (c.caps ?? []).some((cap) => caps.includes(cap)) || (!!c.minKernel && atLeast(kernel, c.minKernel));
}

/** `includes`: every capability held, the host's arch among the arches, a kernel at least minKernel. */
function matchesAll(c: Condition, caps: readonly string[], arch: string, kernel: Version): boolean {
  const arches = c.arches ?? [];
  return (arches.length === 0 || arches.includes(arch)) && (c.caps ?? []).every((cap) => caps.includes(cap)) && (!c.minKernel || atLeast(kernel, c.minKernel));
}

function atLeast([major, minor]: Version, minKernel: string): boolean {
  const [wantMajor, wantMinor] = kernelVersion(minKernel);
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

/** `6.18.44-fc-v657` → [6, 18]. */
function kernelVersion(text: string): Version {
  const match = /^(\d+)\.(\d+)/.exec(text);
  if (!match) throw new WhaleboxError(`cannot read the kernel version ${JSON.stringify(text)}`);
  return [Number(match[1]), Number(match[2])];
}

/** A profile file's text; a bad one is refused with Docker's words. */
export function parseProfileText(text: string): DockerProfile {
  return decoding(() => parseProfile(JSON.parse(text)));
}

function decoding<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    throw new WhaleboxError(`Decoding seccomp profile failed: ${(err as Error).message}`);
  }
}

/**
 * Checks that parsed JSON is a profile, as Go's decoder would meet it (null is an absent value,
 * unknown keys are ignored), plus Docker's own checks. Returns it as it is.
 */
export function parseProfile(json: unknown): DockerProfile {
  const root = object(json, 'the profile');
  string(root.defaultAction, 'defaultAction');
  number(root.defaultErrnoRet, 'defaultErrnoRet');
  const architectures = list(root.architectures, 'architectures', string);
  const archMap = list(root.archMap, 'archMap', (entry, at) => {
    const fields = object(entry, at);
    string(fields.architecture, `${at}.architecture`);
    list(fields.subArchitectures, `${at}.subArchitectures`, string);
  });
  if (architectures.length && archMap.length) {
    throw new Error("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  list(root.syscalls, 'syscalls', syscall);
  return root as DockerProfile;
}

function syscall(json: unknown, at: string): void {
  const fields = object(json, at);
  const names = list(fields.names, `${at}.names`, string);
  if (string(fields.name, `${at}.name`) && names.length) throw new Error(`${at}: use either 'name' or 'names'`);
  string(fields.action, `${at}.action`);
  number(fields.errnoRet, `${at}.errnoRet`);
  list(fields.args, `${at}.args`, (arg, argAt) => {
    const argFields = object(arg, argAt);
    for (const key of ['index', 'value', 'valueTwo']) number(argFields[key], `${argAt}.${key}`);
    string(argFields.op, `${argAt}.op`);
  });
  for (const key of ['includes', 'excludes']) {
    const condition = object(fields[key], `${at}.${key}`);
    list(condition.caps, `${at}.${key}.caps`, string);
    list(condition.arches, `${at}.${key}.arches`, string);
    const minKernel = string(condition.minKernel, `${at}.${key}.minKernel`);
    if (minKernel && !/^\d+\.\d+$/.test(minKernel)) throw new Error(`${at}.${key}.minKernel: invalid kernel version ${JSON.stringify(minKernel)} (expected MAJOR.MINOR)`);
  }
}

/** The checks: each returns what it found (a zero value for null or absent), or throws. */

function object(json: unknown, at: string): Record<string, unknown> {
  if (json === undefined || json === null) return {};
  if (typeof json !== 'object' || Array.isArray(json)) throw new Error(`${at}: expected an object`);
  return json as Record<string, unknown>;
}

function list<T>(json: unknown, at: string, item: (value: unknown, at: string) => T): T[] {
  if (json === undefined || json === null) return [];
  if (!Array.isArray(json)) throw new Error(`${at}: expected a list`);
  return json.map((value, i) => item(value, `${at}[${i}]`));
}

function string(json: unknown, at: string): string {
  if (json === undefined || json === null) return '';
  if (typeof json !== 'string') throw new Error(`${at}: expected a string`);
  return json;
}

function number(json: unknown, at: string): void {
  if (json === undefined || json === null) return;
  if (typeof json !== 'number' || !Number.isInteger(json) || json < 0) throw new Error(`${at}: expected an unsigned integer`);
}
