import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DOCKER_DEFAULT_CAPABILITIES } from '../capabilities.js';
import type { LinuxSeccomp } from '../oci-spec.js';
import { defaultProfile } from './default-profile.js';
import { compileArgs } from './compile-args.js';
import { containerSeccomp, parseProfile, parseProfileText, resolveProfile } from './profile.js';
import { allCapabilities } from '../capabilities.js';

const AMD64 = { arch: 'amd64', kernel: '6.18.44-fc-v657' };
const defaults = (caps: readonly string[] = DOCKER_DEFAULT_CAPABILITIES, host = AMD64): LinuxSeccomp => containerSeccomp('default', caps, undefined, host)!;

/** The rules that name SYSCALL, as [action, errnoRet, args]. */
function rulesFor(seccomp: LinuxSeccomp, syscall: string): unknown[][] {
  return (seccomp.syscalls ?? []).filter((s) => s.names.includes(syscall)).map((s) => [s.action, s.errnoRet, s.args]);
}

test("Docker's default profile: EPERM by default, x86_64 with its 32-bit sub-architectures", () => {
  const seccomp = defaults();
  assert.equal(seccomp.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(seccomp.defaultErrnoRet, 1);
  assert.deepEqual(seccomp.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(rulesFor(seccomp, 'read'), [['SCMP_ACT_ALLOW', undefined, undefined]]);
});

test('the default capabilities leave mount, unshare and bpf out; clone only without namespace flags; clone3 is ENOSYS', () => {
  const seccomp = defaults();
  for (const call of ['mount', 'unshare', 'setns', 'bpf', 'keyctl', 'add_key', 'open_by_handle_at', 'reboot']) assert.deepEqual(rulesFor(seccomp, call), [], call);
  assert.deepEqual(rulesFor(seccomp, 'clone'), [['SCMP_ACT_ALLOW', undefined, [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }]]]);
  assert.deepEqual(rulesFor(seccomp, 'clone3'), [['SCMP_ACT_ERRNO', 38, undefined]]);
  assert.deepEqual(rulesFor(seccomp, 'socket'), [['SCMP_ACT_ALLOW', undefined, [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }]]]);
  assert.equal(rulesFor(seccomp, 'personality').length, 5);
  // CAP_SYS_CHROOT is a default capability: chroot is allowed.
  assert.deepEqual(rulesFor(seccomp, 'chroot'), [['SCMP_ACT_ALLOW', undefined, undefined]]);
  assert.deepEqual(rulesFor(seccomp, 'arch_prctl'), [['SCMP_ACT_ALLOW', undefined, undefined]]);
});

test('capabilities in the bounding set open their syscalls, and CAP_SYS_ADMIN lifts the clone filter', () => {
  const seccomp = defaults([...DOCKER_DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE']);
  assert.deepEqual(rulesFor(seccomp, 'unshare'), [['SCMP_ACT_ALLOW', undefined, undefined]]);
  assert.deepEqual(rulesFor(seccomp, 'clone'), [['SCMP_ACT_ALLOW', undefined, undefined]]);
  assert.deepEqual(rulesFor(seccomp, 'clone3'), [['SCMP_ACT_ALLOW', undefined, undefined]]);
  assert.ok(rulesFor(seccomp, 'kcmp').length === 1);
  assert.deepEqual(rulesFor(defaults([]), 'chroot'), []);
});

test('arch and kernel conditions follow the host', () => {
  const arm64 = defaults(DOCKER_DEFAULT_CAPABILITIES, { arch: 'arm64', kernel: '5.10.0' });
  assert.deepEqual(arm64.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.deepEqual(rulesFor(arm64, 'arch_prctl'), []);
  assert.equal(rulesFor(arm64, 'set_tls').length, 1);
  const s390x = defaults(DOCKER_DEFAULT_CAPABILITIES, { arch: 's390x', kernel: '6.1' });
  assert.deepEqual(rulesFor(s390x, 'clone'), [['SCMP_ACT_ALLOW', undefined, [{ index: 1, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }]]]);
  // ptrace is in the default set from kernel 4.8 on (minKernel).
  assert.equal(rulesFor(defaults(DOCKER_DEFAULT_CAPABILITIES, { arch: 'amd64', kernel: '4.4.0' }), 'ptrace').length, 0);
  assert.equal(rulesFor(defaults(), 'ptrace').length, 1);
});

test('the default profile passes the file checks, and the shim can take it on every architecture', () => {
  const profile = defaultProfile();
  assert.equal(parseProfile(profile), profile);
  for (const arch of ['amd64', 'x86', 'arm64', 'arm', 's390x', 'ppc64le', 'riscv64', 'mips64']) {
    for (const caps of [[], DOCKER_DEFAULT_CAPABILITIES, allCapabilities()]) {
      assert.doesNotThrow(() => compileArgs(defaults(caps, { arch, kernel: '6.1.0' })), arch);
    }
  }
});

test('unconfined has no filter', () => {
  assert.equal(containerSeccomp('unconfined', DOCKER_DEFAULT_CAPABILITIES, undefined, AMD64), undefined);
});

test('a custom profile: name or names, architectures kept, no default action and no rules is no filter', () => {
  const text = JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [{ name: 'mkdir', action: 'SCMP_ACT_ERRNO', errnoRet: 1 }, { names: ['mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, unknownKey: true }],
  });
  assert.deepEqual(containerSeccomp(text, [], undefined, AMD64), {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      { names: ['mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    ],
  });
  assert.equal(containerSeccomp('{"syscalls": null}', [], undefined, AMD64), undefined);
  assert.equal(resolveProfile(parseProfileText('{}'), [], AMD64), undefined);
});

test('a malformed profile is refused with Docker\'s words and what is wrong', () => {
  const refused = (text: string, why: RegExp): void => {
    assert.throws(() => containerSeccomp(text, [], undefined, AMD64), (err: Error & { exitCode?: number }) => {
      assert.equal(err.exitCode, 125);
      assert.match(err.message, /^Decoding seccomp profile failed: /);
      assert.match(err.message, why);
      return true;
    });
  };
  refused('{"defaultAction": ', /JSON/);
  refused('[]', /the profile: expected an object/);
  refused('{"defaultAction": 1}', /defaultAction: expected a string/);
  refused('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "mkdir"}]}', /syscalls\[0\]\.names: expected a list/);
  refused('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"]}]}', /use either 'name' or 'names'/);
  refused('{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86"}]}', /both 'architectures' and 'archMap'/);
  refused('{"defaultAction": "SCMP_ACT_DENY"}', /unsupported seccomp action "SCMP_ACT_DENY"/);
  refused('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}', /operator "SCMP_CMP_ABOUT"/);
  refused('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": -1}]}', /errnoRet: expected an unsigned integer/);
  refused('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "six"}}]}', /invalid kernel version "six"/);
  refused('{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}', /unknown seccomp architecture "SCMP_ARCH_Z80"/);
  refused('{"defaultAction": "SCMP_ACT_NOTIFY"}', /no seccomp agent/);
});
