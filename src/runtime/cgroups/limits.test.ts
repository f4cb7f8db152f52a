import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WhaleboxError } from '../../util/errors.js';
import { type CgroupResources, limitWrites, sharesToWeight } from './limits.js';

const MiB = 1024 * 1024;

/** The writes as [file, value] pairs, optional ones marked with a trailing '?'. */
function table(version: 1 | 2, resources: CgroupResources | undefined): [string, string][] {
  return limitWrites(version, resources).map((w) => [w.optional ? `${w.file}?` : w.file, w.value]);
}

function rejects(version: 1 | 2, resources: CgroupResources, message: RegExp): void {
  assert.throws(() => limitWrites(version, resources), (err: unknown) => err instanceof WhaleboxError && message.test(err.message));
}

describe('limitWrites v1', () => {
  it('writes nothing without resources', () => {
    assert.deepEqual(table(1, undefined), []);
    assert.deepEqual(table(1, {}), []);
  });

  it('memory without swap leaves swap alone (the spec is taken literally)', () => {
    assert.deepEqual(table(1, { memory: { limit: 20 * MiB } }), [['memory/memory.limit_in_bytes', String(20 * MiB)]]);
  });

  it('memory with swap (memory+swap total)', () => {
    assert.deepEqual(table(1, { memory: { limit: 20 * MiB, swap: 30 * MiB } }), [
      ['memory/memory.limit_in_bytes', String(20 * MiB)],
      ['memory/memory.memsw.limit_in_bytes?', String(30 * MiB)],
    ]);
  });

  it('unlimited memory and swap (-1)', () => {
    assert.deepEqual(table(1, { memory: { limit: 20 * MiB, swap: -1 } }), [
      ['memory/memory.limit_in_bytes', String(20 * MiB)],
      ['memory/memory.memsw.limit_in_bytes?', '-1'],
    ]);
    assert.deepEqual(table(1, { memory: { limit: -1 } }), [['memory/memory.limit_in_bytes', '-1']]);
  });

  it('memory reservation and swappiness', () => {
    assert.deepEqual(table(1, { memory: { reservation: 10 * MiB, swappiness: 0 } }), [
      ['memory/memory.soft_limit_in_bytes', String(10 * MiB)],
      ['memory/memory.swappiness', '0'],
    ]);
  });

  it('CPU: shares, then period before quota', () => {
    assert.deepEqual(table(1, { cpu: { shares: 512, quota: 50_000, period: 100_000 } }), [
      ['cpu/cpu.shares', '512'],
      ['cpu/cpu.cfs_period_us', '100000'],
      ['cpu/cpu.cfs_quota_us', '50000'],
    ]);
    assert.deepEqual(table(1, { cpu: { quota: -1 } }), [['cpu/cpu.cfs_quota_us', '-1']]);
  });

  it('cpuset and pids', () => {
    assert.deepEqual(table(1, { cpu: { cpus: '0-1', mems: '0' }, pids: { limit: 20 } }), [
      ['cpuset/cpuset.cpus', '0-1'],
      ['cpuset/cpuset.mems', '0'],
      ['pids/pids.max', '20'],
    ]);
    assert.deepEqual(table(1, { pids: { limit: -1 } }), [['pids/pids.max', 'max']]);
    assert.deepEqual(table(1, { pids: { limit: 0 } }), [['pids/pids.max', 'max']]);
  });

  it('device rules', () => {
    const devices = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c' as const, major: 1, minor: 3, access: 'rwm' }, { allow: true, type: 'c' as const, major: 136 }];
    assert.deepEqual(table(1, { devices }), [
      ['devices/devices.deny', 'a *:* rwm'],
      ['devices/devices.allow', 'c 1:3 rwm'],
      ['devices/devices.allow', 'c 136:* rwm'],
    ]);
  });
});

describe('limitWrites v2', () => {
  it('memory without swap leaves swap alone', () => {
    assert.deepEqual(table(2, { memory: { limit: 20 * MiB } }), [['memory.max', String(20 * MiB)]]);
  });

  it('memory with swap: memory.swap.max = swap − memory (runc)', () => {
    assert.deepEqual(table(2, { memory: { limit: 20 * MiB, swap: 30 * MiB } }), [
      ['memory.max', String(20 * MiB)],
      ['memory.swap.max?', String(10 * MiB)],
    ]);
    assert.deepEqual(table(2, { memory: { limit: 20 * MiB, swap: 20 * MiB } }), [
      ['memory.max', String(20 * MiB)],
      ['memory.swap.max?', '0'],
    ]);
  });

  it('unlimited memory and swap (-1 → max)', () => {
    assert.deepEqual(table(2, { memory: { limit: -1, swap: -1 } }), [
      ['memory.max', 'max'],
      ['memory.swap.max?', 'max'],
    ]);
    assert.deepEqual(table(2, { memory: { limit: -1 } }), [['memory.max', 'max']]);
  });

  it('reservation becomes memory.low; swappiness has no v2 file', () => {
    assert.deepEqual(table(2, { memory: { reservation: 10 * MiB, swappiness: 60 } }), [['memory.low', String(10 * MiB)]]);
  });

  it('cpu.max', () => {
    assert.deepEqual(table(2, { cpu: { quota: 50_000, period: 100_000 } }), [['cpu.max', '50000 100000']]);
    assert.deepEqual(table(2, { cpu: { quota: 150_000 } }), [['cpu.max', '150000 100000']]);
    assert.deepEqual(table(2, { cpu: { quota: -1, period: 50_000 } }), [['cpu.max', 'max 50000']]);
    assert.deepEqual(table(2, { cpu: { period: 200_000 } }), [['cpu.max', 'max 200000']]);
  });

  it('cpu.weight from shares (runc conversion)', () => {
    assert.equal(sharesToWeight(2), 1);
    assert.equal(sharesToWeight(1024), 39);
    assert.equal(sharesToWeight(262_144), 10_000);
    assert.deepEqual(table(2, { cpu: { shares: 1024 } }), [['cpu.weight', '39']]);
    assert.deepEqual(table(2, { cpu: { shares: 1 } }), [['cpu.weight', '1']]); // clamped to 2, as v1 does
    assert.deepEqual(table(2, { cpu: { shares: 1_000_000 } }), [['cpu.weight', '10000']]);
  });

  it('cpuset and pids', () => {
    assert.deepEqual(table(2, { cpu: { cpus: '0,1', mems: '0' }, pids: { limit: 20 } }), [
      ['cpuset.cpus', '0,1'],
      ['cpuset.mems', '0'],
      ['pids.max', '20'],
    ]);
    assert.deepEqual(table(2, { pids: { limit: -1 } }), [['pids.max', 'max']]);
  });

  it('device rules are not files on v2', () => {
    assert.deepEqual(table(2, { devices: [{ allow: false }] }), []);
  });
});

describe('limitWrites rejects what the kernel would', () => {
  for (const version of [1, 2] as const) {
    it(`v${version}`, () => {
      rejects(version, { cpu: { quota: 500 } }, /CPU quota 500µs is below the minimum of 1000µs/);
      rejects(version, { cpu: { quota: 999, period: 100_000 } }, /below the minimum/);
      rejects(version, { cpu: { quota: -5 } }, /CPU quota -5 is invalid/);
      rejects(version, { cpu: { period: 500 } }, /CPU period 500µs is out of range/);
      rejects(version, { cpu: { quota: 1.5 } }, /not an integer/);
      rejects(version, { cpu: { cpus: '0-' } }, /cpuset CPUs "0-" is invalid/);
      rejects(version, { cpu: { cpus: '3-1' } }, /runs backwards/);
      rejects(version, { memory: { limit: 20 * MiB, swap: 10 * MiB } }, /smaller than the memory limit/);
      rejects(version, { memory: { swap: 10 * MiB } }, /needs a memory limit/);
      rejects(version, { memory: { limit: -7 } }, /memory limit -7 is invalid/);
      rejects(version, { memory: { swappiness: 101 } }, /swappiness 101 is out of range/);
    });
  }
});

