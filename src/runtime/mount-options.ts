/** mount(2) flags (linux/mount.h). */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  DIRSYNC: 0x80,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  REC: 0x4000,
  PRIVATE: 0x40000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
} as const;

/** OCI mount option → [flags to set, flags to clear], as runc reads them. */
const FLAG_OPTIONS: Record<string, [number, number]> = {
  ro: [MS.RDONLY, 0],
  rw: [0, MS.RDONLY],
  nosuid: [MS.NOSUID, 0],
  suid: [0, MS.NOSUID],
  nodev: [MS.NODEV, 0],
  dev: [0, MS.NODEV],
  noexec: [MS.NOEXEC, 0],
  exec: [0, MS.NOEXEC],
  sync: [MS.SYNCHRONOUS, 0],
  dirsync: [MS.DIRSYNC, 0],
  noatime: [MS.NOATIME, 0],
  nodiratime: [MS.NODIRATIME, 0],
  relatime: [MS.RELATIME, 0],
  strictatime: [MS.STRICTATIME, 0],
  bind: [MS.BIND, 0],
  rbind: [MS.BIND | MS.REC, 0],
};

/** Propagation options are meaningless inside our private mount namespace. */
const PROPAGATION = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);

/** Splits OCI mount options into mount(2) flags and the filesystem's data string. */
export function parseMountOptions(options: readonly string[] = []): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const option of options) {
    const known = FLAG_OPTIONS[option];
    if (known) flags = (flags | known[0]) & ~known[1];
    else if (!PROPAGATION.has(option)) data.push(option);
  }
  return { flags, data: data.join(',') };
}
