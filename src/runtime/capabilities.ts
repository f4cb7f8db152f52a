import { WhaleboxError } from '../util/errors.js';

/** Linux capability numbers (linux/capability.h), in order. */
const CAPABILITY_NAMES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID',
  'SETPCAP', 'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW',
  'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT',
  'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD',
  'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG',
  'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
] as const;

/** Docker's default set (moby oci/caps/defaults.go): CapEff 00000000a80425fb. */
export const DOCKER_DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Every capability this code knows; the shim keeps those the host grants (--privileged). */
export function allCapabilities(): string[] {
  return CAPABILITY_NAMES.map((name) => `CAP_${name}`);
}

/** `NET_ADMIN`, `net_admin` or `CAP_NET_ADMIN` → `CAP_NET_ADMIN`; unknown names are an error. */
export function normalizeCapability(name: string): string {
  const bare = name.toUpperCase().replace(/^CAP_/, '');
  if (!(CAPABILITY_NAMES as readonly string[]).includes(bare)) {
    throw new WhaleboxError(`unknown capability: "${name}"`);
  }
  return `CAP_${bare}`;
}

/** The capability set as the hexadecimal mask the shim and /proc/PID/status use. */
export function capabilityMask(names: readonly string[] = []): string {
  let mask = 0n;
  for (const name of names) {
    mask |= 1n << BigInt(CAPABILITY_NAMES.indexOf(normalizeCapability(name).slice(4) as never));
  }
  return mask.toString(16);
}
