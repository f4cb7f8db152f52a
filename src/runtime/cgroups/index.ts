export { DEFAULT_PARENT, detectCgroupDriver } from './cgroup.js';
export type { Cgroup, CgroupDriver, CgroupStats, CgroupFsMount, DriverOptions } from './cgroup.js';
export { controllerOf, limitWrites, sharesToWeight } from './limits.js';
export type { CgroupResources, CgroupWrite, DeviceCgroupRule } from './limits.js';
export { CgroupV1Driver, parseCgroupMounts } from './v1.js';
export type { CgroupHierarchy } from './v1.js';
export { CgroupV2Driver } from './v2.js';
