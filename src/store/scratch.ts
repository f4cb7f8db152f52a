import { randomBytes } from 'node:crypto';
import { isSameProcessAlive, processStartTime } from '../runtime/processes.js';

/**
 * Names for scratch files and directories in the store (unpacks in progress, blobs being
 * written, archive work directories) that say which process made them:
 * `<prefix><pid>.<start time>-<random>`. `system prune` removes only those whose maker is gone,
 * so it never pulls a directory from under a pull that is still unpacking into it.
 */

let owner: string | undefined;

export function scratchName(prefix: string): string {
  owner ??= `${process.pid}.${processStartTime(process.pid) ?? 0}`;
  return `${prefix}${owner}-${randomBytes(6).toString('hex')}`;
}

/** Whether a scratch entry's maker has exited; names without an owner (older versions) count as abandoned. */
export function isAbandoned(name: string, prefix: string): boolean {
  if (!name.startsWith(prefix)) return false;
  const made = /^(\d+)\.(\d+)-/.exec(name.slice(prefix.length));
  return made === null || !isSameProcessAlive(Number(made[1]), Number(made[2]));
}
