import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceFilter } from './device-filter.js';
import type { DeviceCgroupRule } from './limits.js';
import { buildPlan } from '../plan.js';
import type { Spec } from '../oci-spec.js';

/**
 * Runs a BPF_PROG_TYPE_CGROUP_DEVICE program as the kernel would, for the instructions the
 * generator may emit; anything else (another opcode, a register read before it is written, a
 * jump out of the program, a store) fails the test.
 */
function run(program: Buffer, type: 'c' | 'b', major: number, minor: number, access: string): boolean {
  assert.equal(program.length % 8, 0, 'whole instructions');
  const count = program.length / 8;
  const accessBits = [...access].reduce((bits, l) => bits | ({ m: 1, r: 2, w: 4 } as Record<string, number>)[l]!, 0);
  // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
  const ctx = Buffer.alloc(12);
  ctx.writeUInt32LE((accessBits << 16) | (type === 'b' ? 1 : 2), 0);
  ctx.writeUInt32LE(major, 4);
  ctx.writeUInt32LE(minor, 8);
  const CTX = Symbol('ctx');
  const regs: (bigint | typeof CTX | undefined)[] = new Array(11).fill(undefined);
  regs[1] = CTX;
  const value = (r: number): bigint => {
    const v = regs[r];
    assert.ok(typeof v === 'bigint', `r${r} is a number when read`);
    return v;
  };
  const u32 = (v: bigint): bigint => BigInt.asUintN(32, v);
  const sext = (imm: number): bigint => BigInt.asUintN(64, BigInt(imm));
  for (let pc = 0, steps = 0; ; pc++, steps++) {
    assert.ok(pc >= 0 && pc < count && steps < 100_000, `pc ${pc} inside the program`);
    const op = program.readUInt8(pc * 8);
    const dst = program.readUInt8(pc * 8 + 1) & 0x0f;
    const src = program.readUInt8(pc * 8 + 1) >> 4;
    const off = program.readInt16LE(pc * 8 + 2);
    const imm = program.readInt32LE(pc * 8 + 4);
    switch (op) {
      case 0x61: // ldxw
        assert.equal(regs[src], CTX, 'loads only from the context');
        assert.ok([0, 4, 8].includes(off), `context offset ${off}`);
        regs[dst] = BigInt(ctx.readUInt32LE(off));
        break;
      case 0x54: // and32 imm
        regs[dst] = u32(value(dst) & u32(BigInt(imm)));
        break;
      case 0x74: // rsh32 imm
        regs[dst] = u32(value(dst)) >> BigInt(imm);
        break;
      case 0xb4: // mov32 imm
        regs[dst] = u32(BigInt(imm));
        break;
      case 0xbc: // mov32 reg
        regs[dst] = u32(value(src));
        break;
      case 0x55: // jne imm (64-bit compare, imm sign-extended)
        if (value(dst) !== sext(imm)) pc += off;
        break;
      case 0x5d: // jne reg
        if (value(dst) !== value(src)) pc += off;
        break;
      case 0x95: {
        const r0 = value(0);
        assert.ok(r0 === 0n || r0 === 1n, 'returns 0 or 1');
        return r0 === 1n;
      }
      default:
        assert.fail(`opcode 0x${op.toString(16)} at ${pc}`);
    }
  }
}

const allow = (type: 'a' | 'c' | 'b', major?: number, minor?: number, access = 'rwm'): DeviceCgroupRule => ({ allow: true, type, major, minor, access });
const deny = (type: 'a' | 'c' | 'b', major?: number, minor?: number, access = 'rwm'): DeviceCgroupRule => ({ allow: false, type, major, minor, access });

/** Docker's defaults as the engine writes them (src/engine/devices.ts). */
const DEFAULTS: DeviceCgroupRule[] = [
  deny('a'),
  allow('c', undefined, undefined, 'm'),
  allow('b', undefined, undefined, 'm'),
  ...[[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1], [5, 2], [10, 200]].map(([major, minor]) => allow('c', major, minor)),
  allow('c', 136),
];

type Row = [type: 'c' | 'b', major: number, minor: number, access: string, allowed: boolean];

function check(rules: DeviceCgroupRule[], rows: Row[]): void {
  const program = deviceFilter(rules);
  for (const [type, major, minor, access, allowed] of rows) {
    assert.equal(run(program, type, major, minor, access), allowed, `${type} ${major}:${minor} ${access}`);
  }
}

describe('the cgroup v2 device filter', () => {
  test("Docker's defaults: the harmless nodes, ptys, mknod of anything; no disk, no /dev/mem", () => {
    check(DEFAULTS, [
      ['c', 1, 3, 'rw', true],
      ['c', 1, 9, 'r', true],
      ['c', 5, 2, 'rw', true],
      ['c', 136, 7, 'rw', true],
      ['c', 10, 200, 'rw', true],
      ['c', 4, 1, 'm', true],
      ['b', 254, 0, 'm', true],
      ['b', 254, 0, 'r', false],
      ['b', 254, 0, 'rm', false],
      ['c', 1, 1, 'r', false],
      ['c', 10, 229, 'rw', false],
      ['c', 136, 7, 'rwm', true],
      ['b', 136, 7, 'r', false],
    ]);
  });

  test('added allow rules: exact and access-limited', () => {
    check([...DEFAULTS, allow('b', 8, 0, 'rw'), allow('c', 1, 1, 'r')], [
      ['b', 8, 0, 'r', true],
      ['b', 8, 0, 'rw', true],
      ['b', 8, 1, 'r', false],
      ['c', 1, 1, 'r', true],
      ['c', 1, 1, 'w', false],
      ['c', 1, 1, 'rw', false],
    ]);
  });

  test('wildcards on either number, and the type always checked', () => {
    check([deny('a'), allow('c', 4), allow('b', undefined, 0, 'r')], [
      ['c', 4, 0, 'rw', true],
      ['c', 4, 77, 'rwm', true],
      ['c', 5, 77, 'r', false],
      ['b', 9, 0, 'r', true],
      ['b', 9, 1, 'r', false],
      ['b', 9, 0, 'w', false],
      ['c', 9, 0, 'r', false],
    ]);
  });

  test('a deny after an allow takes its access away, as v1 does', () => {
    check([...DEFAULTS, allow('b', 8, 0), deny('b', 8, 0, 'w'), deny('c', 1, 3, 'rw')], [
      ['b', 8, 0, 'r', true],
      ['b', 8, 0, 'm', true],
      ['b', 8, 0, 'w', false],
      // One request for both: the exception no longer covers it (last-match-wins would allow it).
      ['b', 8, 0, 'rw', false],
      ['c', 1, 3, 'r', false],
      ['c', 1, 3, 'm', true],
    ]);
    // Access given in two rules adds up, as v1 merges an exception.
    check([deny('a'), allow('c', 1, 1, 'r'), allow('c', 1, 1, 'w')], [['c', 1, 1, 'rw', true]]);
  });

  test('a hole in a wildcard is refused: v1 would silently keep the access', () => {
    assert.throws(() => deviceFilter([...DEFAULTS, deny('c', 136, 3)]), /punch a hole in the wildcard rule for c 136:\*/);
    assert.throws(() => deviceFilter([...DEFAULTS, deny('c', 1, 3, 'm')]), /wildcard rule for c \*:\*/);
  });

  test('allow-all (--privileged), with and without later denies; the last type-a rule resets', () => {
    check([allow('a')], [
      ['b', 254, 0, 'rw', true],
      ['c', 1, 1, 'rwm', true],
    ]);
    check([allow('a'), deny('b', 8, 0)], [
      ['b', 8, 0, 'r', false],
      ['b', 8, 1, 'rw', true],
      ['c', 8, 0, 'r', true],
    ]);
    check([deny('b', 8, 1), allow('a'), deny('b', 8, 2)], [
      ['b', 8, 1, 'r', true],
      ['b', 8, 2, 'r', false],
    ]);
    check([...DEFAULTS, allow('a'), deny('a')], [['c', 1, 3, 'r', false]]);
    check([], [['c', 1, 3, 'r', false]]);
  });

  test('the bytes: struct bpf_insn, little-endian, src and dst in one byte', () => {
    const program = deviceFilter([allow('a')]);
    // ldxw r2, [r1 + 0]; and32 r2, 0xffff; ldxw r3, [r1]; rsh32 r3, 16; ldxw r4, [r1+4]; ldxw r5, [r1+8]; mov32 r0, 1; exit
    assert.equal(
      program.toString('hex'),
      '6112000000000000' + '54020000ffff0000' + '6113000000000000' + '7403000010000000' + '6114040000000000' + '6115080000000000' + 'b400000001000000' + '9500000000000000',
    );
  });
});

describe('the plan', () => {
  const spec = (devices?: DeviceCgroupRule[]): Spec => ({
    ociVersion: '1.2.0',
    process: { user: { uid: 0, gid: 0 }, args: ['true'], env: [], cwd: '/' },
    root: { path: '/rootfs' },
    mounts: [],
    linux: { namespaces: [{ type: 'mount' }], resources: { devices } },
  });
  const plan = (devices: DeviceCgroupRule[] | undefined, cloneInto: string | undefined) =>
    buildPlan({ spec: spec(devices), bundleDir: '/b', cgroupEntry: { tasks: ['/cg/devices/x/tasks'], cloneInto }, cgroupMounts: [], exitFile: '/b/exit' });

  test('attaches the program to the cgroup2 directory right after joining the cgroups', () => {
    const ops = plan(DEFAULTS, '/cg/unified/x');
    const at = ops.findIndex((r) => r.op === 'devices');
    assert.equal(ops[at - 1]?.op, 'cgroup-join');
    assert.deepEqual(ops[at]?.args, ['/cg/unified/x', deviceFilter(DEFAULTS).toString('hex')]);
    assert.ok(at < ops.findIndex((r) => r.op === 'mknod'));
  });

  test('no program without rules, or without a cgroup2 directory (v1 alone decides)', () => {
    assert.ok(!plan(undefined, '/cg/unified/x').some((r) => r.op === 'devices'));
    assert.ok(!plan(DEFAULTS, undefined).some((r) => r.op === 'devices'));
  });
});
