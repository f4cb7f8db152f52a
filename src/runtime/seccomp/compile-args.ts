import type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall } from '../oci-spec.js';

/**
 * The arguments of `whalebox-shim seccomp-compile` (docs/shim-protocol.md): the default action,
 * the architectures, then one per rule, `ACTION NAME,NAME… [INDEX:OP:VALUE:VALUETWO]…`.
 * Throws on anything the shim could not take, naming it.
 */
export function compileArgs(seccomp: LinuxSeccomp): string[] {
  const arches = (seccomp.architectures ?? []).map(archName).join(',');
  return [action(seccomp.defaultAction, seccomp.defaultErrnoRet), arches, ...(seccomp.syscalls ?? []).flatMap(rules)];
}

/** OCI actions and the shim's words for them; ERRNO and TRACE carry a number. */
const ACTIONS: Readonly<Record<string, string>> = {
  SCMP_ACT_ALLOW: 'allow',
  SCMP_ACT_ERRNO: 'errno',
  SCMP_ACT_TRACE: 'trace',
  SCMP_ACT_KILL: 'kill-thread',
  SCMP_ACT_KILL_THREAD: 'kill-thread',
  SCMP_ACT_KILL_PROCESS: 'kill-process',
  SCMP_ACT_TRAP: 'trap',
  SCMP_ACT_LOG: 'log',
};

const OPERATORS: Readonly<Record<string, string>> = {
  SCMP_CMP_NE: 'ne',
  SCMP_CMP_LT: 'lt',
  SCMP_CMP_LE: 'le',
  SCMP_CMP_EQ: 'eq',
  SCMP_CMP_GE: 'ge',
  SCMP_CMP_GT: 'gt',
  SCMP_CMP_MASKED_EQ: 'masked-eq',
};

/** The architectures libseccomp knows, by the names seccomp_arch_resolve_name() takes. */
const ARCHES = new Set([
  'x86', 'x86_64', 'x32', 'arm', 'aarch64', 'mips', 'mips64', 'mips64n32', 'mipsel', 'mipsel64',
  'mipsel64n32', 'ppc', 'ppc64', 'ppc64le', 's390', 's390x', 'parisc', 'parisc64', 'riscv64',
]);

const EPERM = 1;
/** The kernel keeps 16 bits of a filter's return data. */
const RET_MAX = 0xffff;

function action(name: string, ret: number | undefined): string {
  const word = ACTIONS[name];
  if (!word) {
    const hint = name === 'SCMP_ACT_NOTIFY' ? ' (no seccomp agent here to notify)' : '';
    throw new Error(`unsupported seccomp action ${JSON.stringify(name)}${hint}`);
  }
  if (word !== 'errno' && word !== 'trace') return word;
  // runc's default for both: EPERM.
  const value = ret ?? EPERM;
  if (!Number.isInteger(value) || value < 0 || value > RET_MAX) throw new Error(`${name}: the return value ${value} is not within 0-${RET_MAX}`);
  return `${word}:${value}`;
}

function archName(arch: string): string {
  const name = arch.replace(/^SCMP_ARCH_/, '').toLowerCase();
  if (!arch.startsWith('SCMP_ARCH_') || !ARCHES.has(name)) throw new Error(`unknown seccomp architecture ${JSON.stringify(arch)}`);
  return name;
}

function rules(call: LinuxSyscall): string[] {
  if (call.names.length === 0) return [];
  for (const name of call.names) {
    if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`invalid syscall name ${JSON.stringify(name)}`);
  }
  const head = `${action(call.action, call.errnoRet)} ${call.names.join(',')}`;
  const args = call.args ?? [];
  const conditions = args.map(condition);
  // libseccomp refuses two conditions on one argument in a rule; runc then adds each as a rule
  // of its own, so that any of them lets the call through.
  if (new Set(args.map((arg) => arg.index)).size < args.length) return conditions.map((c) => `${head} ${c}`);
  return [[head, ...conditions].join(' ')];
}

function condition(arg: LinuxSeccompArg): string {
  const op = OPERATORS[arg.op];
  if (!op) throw new Error(`unknown seccomp operator ${JSON.stringify(arg.op)}`);
  if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) throw new Error(`seccomp argument index ${arg.index} is not within 0-5`);
  const values = [arg.value, arg.valueTwo ?? 0];
  // Beyond 2^53 a JSON number has already lost its exact value.
  if (!values.every((v) => Number.isSafeInteger(v) && v >= 0)) throw new Error(`seccomp argument values ${values.join(', ')} are not exact unsigned integers`);
  return `${arg.index}:${op}:${values[0]}:${values[1]}`;
}
