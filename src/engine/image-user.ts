import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WhaleboxError } from '../util/errors.js';

export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: number[];
  readonly home: string;
}

/** The file as the container will see it: the topmost layer that has it wins. */
function readImageFile(layerDirs: readonly string[], path: string): string | undefined {
  for (let i = layerDirs.length - 1; i >= 0; i--) {
    try {
      return readFileSync(join(layerDirs[i]!, path), 'utf8');
    } catch {
      // Not in this layer (a whiteout-aware lookup arrives with multi-layer images).
    }
  }
  return undefined;
}

function entries(text: string | undefined): string[][] {
  return (text ?? '')
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

const NUMERIC = /^\d+$/;

/**
 * Resolves Docker's `--user` forms (`name`, `uid`, `name:group`, `uid:gid`) against the image's
 * /etc/passwd and /etc/group, as runc's user lookup does: a numeric uid need not exist, a name must.
 */
export function resolveUser(layerDirs: readonly string[], spec: string): ResolvedUser {
  const [userPart = '', groupPart] = spec.split(':', 2);
  const passwd = entries(readImageFile(layerDirs, 'etc/passwd'));
  const groups = entries(readImageFile(layerDirs, 'etc/group'));

  const entry = passwd.find((p) => p[0] === userPart || (NUMERIC.test(userPart) && p[2] === userPart));
  if (!entry && !NUMERIC.test(userPart || '0')) {
    throw new WhaleboxError(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  const uid = entry ? Number(entry[2]) : Number(userPart || 0);
  let gid = entry ? Number(entry[3]) : 0;
  if (groupPart !== undefined) {
    const group = groups.find((g) => g[0] === groupPart || (NUMERIC.test(groupPart) && g[2] === groupPart));
    if (!group && !NUMERIC.test(groupPart)) {
      throw new WhaleboxError(`unable to find group ${groupPart}: no matching entries in group file`);
    }
    gid = group ? Number(group[2]) : Number(groupPart);
  }
  // Supplementary groups: those listing the user by name (only when no group was forced).
  const additionalGids =
    entry && groupPart === undefined
      ? groups.filter((g) => (g[3] ?? '').split(',').includes(entry[0]!)).map((g) => Number(g[2])).filter((g) => g !== gid)
      : [];
  return { uid, gid, additionalGids, home: entry?.[5] || '/' };
}
