/**
 * The part of the OCI runtime specification (config.json, runtime-spec 1.2) that whalebox
 * reads and writes. Field names are the spec's, so any OCI runtime can consume our bundles.
 */
export interface Spec {
  ociVersion: string;
  process: Process;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: Mount[];
  linux: Linux;
  annotations?: Record<string, string>;
}

export interface Process {
  terminal?: boolean;
  user: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: {
    bounding?: string[];
    effective?: string[];
    permitted?: string[];
    inheritable?: string[];
    ambient?: string[];
  };
  /** -1 stands for RLIM_INFINITY. */
  rlimits?: { type: string; soft: number; hard: number }[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
  consoleSize?: { height: number; width: number };
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface LinuxNamespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';
  path?: string;
}

export interface LinuxResources {
  memory?: { limit?: number; reservation?: number; swap?: number; swappiness?: number };
  cpu?: {
    shares?: number;
    quota?: number;
    period?: number;
    cpus?: string;
    mems?: string;
  };
  pids?: { limit: number };
  /** Device cgroup rules, applied in order (the spec's LinuxDeviceCgroup). */
  devices?: { allow: boolean; type?: 'a' | 'c' | 'b'; major?: number; minor?: number; access?: string }[];
}

export interface Linux {
  namespaces: LinuxNamespace[];
  resources?: LinuxResources;
  cgroupsPath?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  rootfsPropagation?: string;
  /** Namespaced sysctls, by dotted name. */
  sysctl?: Record<string, string>;
  devices?: { path: string; type: 'c' | 'b' | 'p' | 'u'; major?: number; minor?: number; fileMode?: number; uid?: number; gid?: number }[];
  seccomp?: LinuxSeccomp;
}

/** The syscall filter (absent: none). Actions and operators are libseccomp's names. */
export interface LinuxSeccomp {
  /** `SCMP_ACT_ERRNO`, `SCMP_ACT_ALLOW`, `SCMP_ACT_KILL_PROCESS`, … */
  defaultAction: string;
  defaultErrnoRet?: number;
  /** `SCMP_ARCH_X86_64`, …; the native architecture is always in the filter. */
  architectures?: string[];
  syscalls?: LinuxSyscall[];
}

export interface LinuxSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  /** All must hold; conditions on the same argument are alternatives instead (runc's reading). */
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  /** `SCMP_CMP_EQ`, `SCMP_CMP_MASKED_EQ` (value is the mask, valueTwo the result), … */
  op: string;
}
