import { WhaleboxError } from './errors.js';

const BINARY_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Docker's RAMInBytes: `20m`, `1.5g`, `512k`, `100` (bytes); units are powers of 1024. */
export function parseBytes(flag: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(value.trim());
  if (!match) {
    throw new WhaleboxError(`invalid argument "${value}" for "${flag}" flag: use a number with an optional unit b, k, m or g (for example 512m)`);
  }
  return Math.round(Number(match[1]) * BINARY_UNITS[match[2]!.toLowerCase()]!);
}

/** A whole number within bounds, named after its flag in errors. */
export function parseInteger(flag: string, value: string, min = Number.MIN_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(value.trim()) || Number(value) < min) {
    throw new WhaleboxError(`invalid argument "${value}" for "${flag}" flag: expected an integer${min > Number.MIN_SAFE_INTEGER ? ` >= ${min}` : ''}`);
  }
  return Number(value);
}

/** `--cpus 1.5`: a positive decimal no larger than the host's CPU count. */
export function parseCpus(value: string, hostCpus: number): number {
  const cpus = /^\d+(\.\d+)?$|^\.\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!(cpus > 0)) {
    throw new WhaleboxError(`invalid argument "${value}" for "--cpus" flag: must be a positive number such as 0.5 or 2`);
  }
  if (cpus < 0.01 || cpus > hostCpus) {
    throw new WhaleboxError(`range of CPUs is from 0.01 to ${hostCpus}.00, as there are only ${hostCpus} CPUs available`);
  }
  return cpus;
}

/** `--cpuset-cpus 0-2,4`: a list of CPU numbers and ranges, each present on the host. */
export function parseCpuList(flag: string, value: string, hostCpus: number): string {
  const valid = /^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value);
  const outside = valid && value.split(/[,-]/).some((n) => Number(n) >= hostCpus);
  if (!valid || outside) {
    throw new WhaleboxError(`invalid argument "${value}" for "${flag}" flag: expected CPU numbers or ranges between 0 and ${hostCpus - 1}, like 0-1,3`);
  }
  return value;
}
