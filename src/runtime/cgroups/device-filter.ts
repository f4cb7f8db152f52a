/**
 * Device access control on cgroup v2: the OCI `linux.resources.devices` rules as a
 * BPF_PROG_TYPE_CGROUP_DEVICE program, in bytes (struct bpf_insn, little-endian), which the
 * shim loads and attaches (step `devices`, docs/shim-protocol.md).
 *
 * The rules mean what they mean to the v1 devices controller, as runc's emulator reads them, so
 * that a container gets the same devices on either version (and on a hybrid host, where both
 * apply): a type-`a` rule resets everything to allow-all or deny-all, every other rule adds its
 * access to (or takes it from) the exception for exactly its type:major:minor. For whole rules
 * that is "the last matching rule wins"; it differs where v1 differs, e.g. `allow c 1:3 rw` then
 * `deny c 1:3 w` leaves `r`, so an O_RDWR open is refused.
 */
import { WhaleboxError } from '../../util/errors.js';
import type { DeviceCgroupRule } from './limits.js';

/** <linux/bpf.h>: bpf_cgroup_dev_ctx.access_type is (access << 16) | type. */
const DEV_BLOCK = 1;
const DEV_CHAR = 2;
const ACC_MKNOD = 1;
const ACC_READ = 2;
const ACC_WRITE = 4;
const ACC_ALL = ACC_MKNOD | ACC_READ | ACC_WRITE;

/** What may be done to the devices that one type:major:minor names; -1 is the wildcard `*`. */
interface DeviceException {
  readonly type: 'c' | 'b';
  readonly major: number;
  readonly minor: number;
  /** ACC_* bits. */
  access: number;
}

/** The rules reduced to what the kernel keeps: a default and the exceptions to it. */
interface DevicePolicy {
  readonly defaultAllow: boolean;
  readonly exceptions: readonly DeviceException[];
}

function accessBits(access: string | undefined): number {
  let bits = 0;
  for (const letter of access || 'rwm') bits |= letter === 'r' ? ACC_READ : letter === 'w' ? ACC_WRITE : letter === 'm' ? ACC_MKNOD : 0;
  return bits;
}

/** A device number as the devices cgroup writes it: `*` for any. */
const num = (n: number | undefined): string => (n === undefined || n === -1 ? '*' : String(n));

function ruleText(rule: DeviceCgroupRule): string {
  return `${rule.allow ? 'allow' : 'deny'} ${rule.type ?? 'a'} ${num(rule.major)}:${num(rule.minor)} ${rule.access || 'rwm'}`;
}

/**
 * Applies the rules in order, as the v1 controller would, starting from deny-all (runc's
 * start). Taking access away from a device that a wildcard exception still grants is refused,
 * as runc refuses it: v1 would silently keep the wildcard's access, a false sense of security.
 */
function devicePolicy(rules: readonly DeviceCgroupRule[]): DevicePolicy {
  let defaultAllow = false;
  const exceptions = new Map<string, DeviceException>();
  const keyOf = (type: string, major: number, minor: number): string => `${type} ${num(major)}:${num(minor)}`;
  for (const rule of rules) {
    if (rule.type === undefined || rule.type === 'a') {
      defaultAllow = rule.allow;
      exceptions.clear();
      continue;
    }
    const type = rule.type;
    const major = rule.major ?? -1;
    const minor = rule.minor ?? -1;
    const bits = accessBits(rule.access);
    const key = keyOf(type, major, minor);
    const exception = exceptions.get(key);
    // An allow in allow-all mode (a deny in deny-all mode) takes from an exception.
    if (rule.allow === defaultAllow) {
      for (const wider of [keyOf(type, -1, minor), keyOf(type, major, -1), keyOf(type, -1, -1)]) {
        const grant = wider === key ? undefined : exceptions.get(wider);
        if (grant && (grant.access & bits) !== 0) {
          throw new WhaleboxError(`device rule "${ruleText(rule)}" cannot be applied: it would punch a hole in the wildcard rule for ${wider}, which the devices cgroup cannot do`);
        }
      }
      if (exception) exception.access &= ~bits;
      if (exception?.access === 0) exceptions.delete(key);
    } else if (exception) {
      exception.access |= bits;
    } else {
      exceptions.set(key, { type, major, minor, access: bits });
    }
  }
  return { defaultAllow, exceptions: [...exceptions.values()] };
}

/* The few eBPF instructions the program needs (opcode = class | operation | source). */
const LDX_MEM_W = 0x61; // dst = *(u32 *)(src + off)
const ALU32_AND_K = 0x54; // wdst &= imm
const ALU32_RSH_K = 0x74; // wdst >>= imm
const ALU32_MOV_K = 0xb4; // wdst = imm
const ALU32_MOV_X = 0xbc; // wdst = wsrc
const JMP_JNE_K = 0x55; // if dst != imm goto pc + 1 + off
const JMP_JNE_X = 0x5d; // if dst != src goto pc + 1 + off
const JMP_EXIT = 0x95;

interface Insn {
  readonly op: number;
  readonly dst: number;
  readonly src: number;
  /** For a jump: -1 until the end of its block is known. */
  off: number;
  readonly imm: number;
}

const insn = (op: number, dst: number, src: number, off: number, imm: number): Insn => ({ op, dst, src, off, imm });
/** A jump past the end of the block it belongs to (the offset is filled in by `block`). */
const skip = (op: number, dst: number, src: number, imm: number): Insn => insn(op, dst, src, -1, imm);
const verdict = (allow: boolean): Insn[] => [insn(ALU32_MOV_K, 0, 0, 0, allow ? 1 : 0), insn(JMP_EXIT, 0, 0, 0, 0)];

/** r1 is the context; r2 = type, r3 = requested access, r4 = major, r5 = minor. */
const PROLOGUE: readonly Insn[] = [
  insn(LDX_MEM_W, 2, 1, 0, 0),
  insn(ALU32_AND_K, 2, 0, 0, 0xffff),
  insn(LDX_MEM_W, 3, 1, 0, 0),
  insn(ALU32_RSH_K, 3, 0, 0, 16),
  insn(LDX_MEM_W, 4, 1, 4, 0),
  insn(LDX_MEM_W, 5, 1, 8, 0),
];

/** Resolves the block's "skip" jumps to the instruction after it. */
function block(insns: Insn[]): Insn[] {
  insns.forEach((i, pc) => {
    if (i.off === -1) i.off = insns.length - pc - 1;
  });
  return insns;
}

/** Jump immediates are signed 32-bit: device numbers are far below (12-bit major, 20-bit minor). */
function deviceNumber(n: number, exception: DeviceException): number {
  if (n > 0x7fffffff) throw new WhaleboxError(`device rule ${exception.type} ${exception.major}:${exception.minor}: ${n} is not a device number`);
  return n;
}

/** One exception: when the request matches it in every checked respect, the exception's verdict. */
function exceptionBlock(exception: DeviceException, allow: boolean): Insn[] {
  const checks = [skip(JMP_JNE_K, 2, 0, exception.type === 'c' ? DEV_CHAR : DEV_BLOCK)];
  // The request must ask for nothing the exception lacks: (access & granted) == access.
  if (exception.access !== ACC_ALL) {
    checks.push(insn(ALU32_MOV_X, 1, 3, 0, 0), insn(ALU32_AND_K, 1, 0, 0, exception.access), skip(JMP_JNE_X, 1, 3, 0));
  }
  if (exception.major !== -1) checks.push(skip(JMP_JNE_K, 4, 0, deviceNumber(exception.major, exception)));
  if (exception.minor !== -1) checks.push(skip(JMP_JNE_K, 5, 0, deviceNumber(exception.minor, exception)));
  return block([...checks, ...verdict(allow)]);
}

/** struct bpf_insn, little-endian (x86-64, arm64): the shim hands the bytes to the kernel as they are. */
function encode(insns: readonly Insn[]): Buffer {
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach((i, n) => {
    out.writeUInt8(i.op, n * 8);
    out.writeUInt8((i.src << 4) | i.dst, n * 8 + 1);
    out.writeInt16LE(i.off, n * 8 + 2);
    out.writeInt32LE(i.imm, n * 8 + 4);
  });
  return out;
}

/** The BPF_PROG_TYPE_CGROUP_DEVICE program for the rules: 1 allows the access, 0 refuses it. */
export function deviceFilter(rules: readonly DeviceCgroupRule[]): Buffer {
  const policy = devicePolicy(rules);
  return encode([
    ...PROLOGUE,
    ...policy.exceptions.flatMap((exception) => exceptionBlock(exception, !policy.defaultAllow)),
    ...verdict(policy.defaultAllow),
  ]);
}
