import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { WhaleboxError } from '../util/errors.js';

export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: number[];
  readonly home: string;
}

/** Larger account files are not plausible; reading them could hang on a device node. */
const MAX_ACCOUNT_FILE = 1 << 20;

/**
 * The file as the container will see it: the topmost layer that has it wins. Image content is
 * untrusted: symlinks are resolved inside the layer (never on the host), and only a regular
 * file of sane size is read.
 */
function readImageFile(layerDirs: readonly string[], path: string): string | undefined {
  for (let i = layerDirs.length - 1; i >= 0; i--) {
    const file = resolveInLayer(layerDirs[i]!, path);
    const st = file && lstatSync(file, { throwIfNoEntry: false });
    if (st && st.isFile() && st.size <= MAX_ACCOUNT_FILE) return readFileSync(file!, 'utf8');
  }
  return undefined;
}

/** A path inside `root`, following symlinks as the container would (absolute ones re-rooted). */
function resolveInLayer(root: string, path: string): string | undefined {
  const pending = path.split('/').filter(Boolean);
  const resolved: string[] = [];
  for (let hops = 0; pending.length; ) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const host = join(root, ...resolved, part);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) return undefined;
    if (!st.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++hops > 40) return undefined;
    const target = readlinkSync(host);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter(Boolean));
  }
  return join(root, ...resolved);
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
  const outOfRange = [uid, Number(groupPart ?? 0)].find((id) => id > 0x7fffffff);
  if (outOfRange !== undefined) throw new WhaleboxError(`invalid user ${spec}: IDs must be between 0 and 2147483647`);
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
