/**
 * LinuxResources (OCI runtime spec) → the cgroup files to write, for cgroup v1 and v2.
 * Pure: no file system access, so every conversion is unit-tested.
 */
import { WhaleboxError } from '../../util/errors.js';
import type { LinuxResources } from '../oci-spec.js';

/** One write into a cgroup: `file` is relative to the cgroup directory (v2) or `controller/file` (v1). */
export interface CgroupWrite {
  readonly file: string;
  readonly value: string;
  /** Skip the write when the kernel does not provide the file (swap accounting disabled). */
  readonly optional?: boolean;
}

/**
 * A device cgroup rule as in the OCI spec's `linux.resources.devices`. v1 gets it written here;
 * v2 as a BPF program (device-filter.ts) that the shim attaches (step `devices`).
 */
export interface DeviceCgroupRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access?: string;
}

export type CgroupResources = LinuxResources;

const DEFAULT_CPU_PERIOD = 100_000;
/** The kernel refuses a CFS quota below 1 ms (EINVAL). */
const MIN_CPU_QUOTA = 1_000;
const MIN_CPU_PERIOD = 1_000;
const MAX_CPU_PERIOD = 1_000_000;
const MIN_SHARES = 2;
const MAX_SHARES = 262_144;

function fail(message: string): never {
  throw new WhaleboxError(`cgroup: ${message}`);
}

function integer(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail(`${what} ${String(value)} is not an integer`);
  return value;
}

/** A byte count: positive, or -1 for unlimited; 0 and undefined mean "not set". */
function bytes(value: number | undefined, what: string): number | undefined {
  if (value === undefined || value === 0) return undefined;
  const n = integer(value, what);
  if (n < -1) fail(`${what} ${n} is invalid (a positive number of bytes, or -1 for unlimited)`);
  return n;
}

const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

function cpuList(value: string | undefined, what: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!CPU_LIST.test(value)) fail(`${what} ${JSON.stringify(value)} is invalid (a list such as 0-3 or 0,2)`);
  for (const range of value.split(',')) {
    const [lo, hi] = range.split('-').map(Number);
    if (hi !== undefined && hi < lo!) fail(`${what} ${JSON.stringify(value)} is invalid (range ${range} runs backwards)`);
  }
  return value;
}

interface Normalized {
  memory?: number; // -1 = unlimited
  memsw?: number; // memory + swap, -1 = unlimited
  reservation?: number;
  swappiness?: number;
  shares?: number;
  quota?: number; // -1 = unlimited
  period?: number;
  cpus?: string;
  mems?: string;
  pids?: number; // <= 0 = unlimited
  devices: DeviceCgroupRule[];
}

function normalize(r: CgroupResources | undefined): Normalized {
  const out: Normalized = { devices: [] };
  if (!r) return out;
  const m = r.memory;
  if (m) {
    out.memory = bytes(m.limit, 'memory limit');
    const swap = bytes(m.swap, 'memory+swap limit');
    if (swap !== undefined && swap !== -1) {
      if (out.memory === undefined || out.memory === -1) fail('a memory+swap limit needs a memory limit as well');
      if (swap < out.memory) fail(`the memory+swap limit ${swap} is smaller than the memory limit ${out.memory}`);
    }
    out.memsw = swap;
    out.reservation = bytes(m.reservation, 'memory reservation');
    if (m.swappiness !== undefined && m.swappiness !== -1) {
      const s = integer(m.swappiness, 'memory swappiness');
      if (s < 0 || s > 100) fail(`memory swappiness ${s} is out of range (0 to 100)`);
      out.swappiness = s;
    }
  }
  const c = r.cpu;
  if (c) {
    if (c.shares !== undefined && c.shares !== 0) {
      const s = integer(c.shares, 'CPU shares');
      if (s < 0) fail(`CPU shares ${s} is negative`);
      out.shares = Math.min(MAX_SHARES, Math.max(MIN_SHARES, s)); // the range the v1 kernel clamps to
    }
    if (c.quota !== undefined && c.quota !== 0) {
      const q = integer(c.quota, 'CPU quota');
      if (q < -1) fail(`CPU quota ${q} is invalid (microseconds per period, or -1 for unlimited)`);
      if (q > 0 && q < MIN_CPU_QUOTA) fail(`CPU quota ${q}µs is below the minimum of ${MIN_CPU_QUOTA}µs (1 ms)`);
      out.quota = q;
    }
    if (c.period !== undefined && c.period !== 0) {
      const p = integer(c.period, 'CPU period');
      if (p < MIN_CPU_PERIOD || p > MAX_CPU_PERIOD) fail(`CPU period ${p}µs is out of range (${MIN_CPU_PERIOD} to ${MAX_CPU_PERIOD})`);
      out.period = p;
    }
    out.cpus = cpuList(c.cpus, 'cpuset CPUs');
    out.mems = cpuList(c.mems, 'cpuset memory nodes');
  }
  if (r.pids) out.pids = integer(r.pids.limit, 'pids limit');
  for (const d of r.devices ?? []) {
    if (d.type !== undefined && !['a', 'c', 'b'].includes(d.type)) fail(`device rule type ${JSON.stringify(d.type)} is invalid (a, c or b)`);
    if (d.access !== undefined && !/^[rwm]{1,3}$/.test(d.access)) fail(`device rule access ${JSON.stringify(d.access)} is invalid (letters of rwm)`);
    for (const n of [d.major, d.minor]) if (n !== undefined && n !== -1 && (!Number.isSafeInteger(n) || n < 0)) fail(`device number ${n} is invalid`);
    out.devices.push(d);
  }
  return out;
}

function deviceRule(d: DeviceCgroupRule): string {
  const type = d.type ?? 'a';
  const num = (n: number | undefined): string => (n === undefined || n === -1 ? '*' : String(n));
  return `${type} ${num(d.major)}:${num(d.minor)} ${d.access || 'rwm'}`;
}

/** cgroup v2 `cpu.weight` from v1 `cpu.shares`, as runc converts: [2, 262144] → [1, 10000]. */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - MIN_SHARES) * 9999) / (MAX_SHARES - MIN_SHARES));
}

/**
 * Which files get which values, in the order they must be written (v1 memory before memsw,
 * CFS period before quota). Throws WhaleboxError on values the kernel would refuse.
 * Swap follows the OCI spec and runc: `memory.swap` is memory+swap in total, -1 unlimited,
 * unset leaves the kernel's default (Docker's "twice the memory" default is the engine's).
 */
export function limitWrites(version: 1 | 2, resources: CgroupResources | undefined): CgroupWrite[] {
  const n = normalize(resources);
  const w: CgroupWrite[] = [];
  if (version === 1) {
    if (n.cpus !== undefined) w.push({ file: 'cpuset/cpuset.cpus', value: n.cpus });
    if (n.mems !== undefined) w.push({ file: 'cpuset/cpuset.mems', value: n.mems });
    if (n.memory !== undefined) w.push({ file: 'memory/memory.limit_in_bytes', value: String(n.memory) });
    if (n.memsw !== undefined) w.push({ file: 'memory/memory.memsw.limit_in_bytes', value: String(n.memsw), optional: true });
    if (n.reservation !== undefined) w.push({ file: 'memory/memory.soft_limit_in_bytes', value: String(n.reservation) });
    if (n.swappiness !== undefined) w.push({ file: 'memory/memory.swappiness', value: String(n.swappiness) });
    if (n.shares !== undefined) w.push({ file: 'cpu/cpu.shares', value: String(n.shares) });
    if (n.period !== undefined) w.push({ file: 'cpu/cpu.cfs_period_us', value: String(n.period) });
    if (n.quota !== undefined) w.push({ file: 'cpu/cpu.cfs_quota_us', value: String(n.quota) });
    if (n.pids !== undefined) w.push({ file: 'pids/pids.max', value: n.pids > 0 ? String(n.pids) : 'max' });
    for (const d of n.devices) w.push({ file: d.allow ? 'devices/devices.allow' : 'devices/devices.deny', value: deviceRule(d) });
    return w;
  }
  // v2. Swappiness has no v2 file (Docker ignores it there too); devices are a BPF program (device-filter.ts).
  if (n.cpus !== undefined) w.push({ file: 'cpuset.cpus', value: n.cpus });
  if (n.mems !== undefined) w.push({ file: 'cpuset.mems', value: n.mems });
  if (n.memory !== undefined) w.push({ file: 'memory.max', value: n.memory === -1 ? 'max' : String(n.memory) });
  if (n.memsw !== undefined) {
    const swap = n.memsw === -1 ? 'max' : String(n.memsw - (n.memory ?? 0));
    w.push({ file: 'memory.swap.max', value: swap, optional: true });
  }
  if (n.reservation !== undefined) w.push({ file: 'memory.low', value: n.reservation === -1 ? 'max' : String(n.reservation) });
  if (n.shares !== undefined) w.push({ file: 'cpu.weight', value: String(sharesToWeight(n.shares)) });
  if (n.quota !== undefined || n.period !== undefined) {
    const quota = n.quota === undefined || n.quota === -1 ? 'max' : String(n.quota);
    w.push({ file: 'cpu.max', value: `${quota} ${n.period ?? DEFAULT_CPU_PERIOD}` });
  }
  if (n.pids !== undefined) w.push({ file: 'pids.max', value: n.pids > 0 ? String(n.pids) : 'max' });
  return w;
}

/** The controller a write needs: `memory/memory.max` (v1) or `memory.max` (v2) → `memory`. */
export function controllerOf(version: 1 | 2, file: string): string {
  return version === 1 ? file.slice(0, file.indexOf('/')) : file.slice(0, file.indexOf('.'));
}

/** What a controller is needed for, in words, for error messages. */
export function controllerPurpose(controller: string): string {
  const purposes: Record<string, string> = {
    memory: 'a memory limit',
    cpu: 'a CPU limit',
    cpuset: 'a cpuset (CPUs or memory nodes)',
    pids: 'a pids limit',
    devices: 'device rules',
  };
  return purposes[controller] ?? `the ${controller} settings`;
}
