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
  rlimits?: { type: string; soft: number; hard: number }[];
  noNewPrivileges?: boolean;
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
  devices?: { path: string; type: 'c' | 'b' | 'p' | 'u'; major?: number; minor?: number; fileMode?: number; uid?: number; gid?: number }[];
}
