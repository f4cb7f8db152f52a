import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileArgs } from './compile-args.js';

test('default action, architectures, then one field per rule', () => {
  assert.deepEqual(
    compileArgs({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      ],
    }),
    ['errno:1', 'x86_64,x86,x32', 'allow read,write', 'allow clone 0:masked-eq:2114060288:0', 'errno:38 clone3'],
  );
});

test('every action has its word; ERRNO and TRACE without a number are EPERM, as in runc', () => {
  const word = (action: string, errnoRet?: number): string => compileArgs({ defaultAction: action, ...(errnoRet === undefined ? {} : { defaultErrnoRet: errnoRet }) })[0]!;
  assert.equal(word('SCMP_ACT_ALLOW'), 'allow');
  assert.equal(word('SCMP_ACT_KILL'), 'kill-thread');
  assert.equal(word('SCMP_ACT_KILL_THREAD'), 'kill-thread');
  assert.equal(word('SCMP_ACT_KILL_PROCESS'), 'kill-process');
  assert.equal(word('SCMP_ACT_TRAP'), 'trap');
  assert.equal(word('SCMP_ACT_LOG'), 'log');
  assert.equal(word('SCMP_ACT_ERRNO'), 'errno:1');
  assert.equal(word('SCMP_ACT_TRACE', 5), 'trace:5');
  assert.throws(() => word('SCMP_ACT_ERRNO', 70000), /not within 0-65535/);
});

test('no architectures is an empty field (the native one only); rules without names vanish', () => {
  assert.deepEqual(compileArgs({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }), ['allow', '']);
});

test('conditions on one argument become rules of their own (any of them matches), as runc adds them', () => {
  const fields = compileArgs({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      {
        names: ['personality'],
        action: 'SCMP_ACT_ALLOW',
        args: [
          { index: 0, value: 0, op: 'SCMP_CMP_EQ' },
          { index: 0, value: 8, op: 'SCMP_CMP_EQ' },
        ],
      },
      { names: ['x'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_GE' }, { index: 2, value: 3, valueTwo: 4, op: 'SCMP_CMP_LT' }] },
    ],
  });
  assert.deepEqual(fields.slice(2), ['allow personality 0:eq:0:0', 'allow personality 0:eq:8:0', 'allow x 0:ge:1:0 2:lt:3:4']);
});

test('what the shim could not take is refused, named', () => {
  const rule = (extra: object): string[] => compileArgs({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', ...extra }] });
  assert.throws(() => rule({ names: ['read write'] }), /invalid syscall name "read write"/);
  assert.throws(() => rule({ args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }), /index 6 is not within 0-5/);
  assert.throws(() => rule({ args: [{ index: 0, value: 2 ** 60, op: 'SCMP_CMP_EQ' }] }), /not exact unsigned integers/);
  assert.throws(() => compileArgs({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['x86_64'] }), /unknown seccomp architecture "x86_64"/);
});
