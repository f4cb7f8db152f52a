import { getSystemErrorMap } from 'node:util';
import { errnoCode, WhaleboxError } from '../../util/errors.js';

/** Turns system errors (which name /proc/self/fd paths) into one line about the file copied. */
export function failure(label: string, err: unknown): unknown {
  const code = errnoCode(err);
  if (code === undefined || err instanceof WhaleboxError) return err;
  const errno = (err as NodeJS.ErrnoException).errno;
  const reason = (errno === undefined ? undefined : getSystemErrorMap().get(errno)?.[1]) ?? code;
  return new WhaleboxError(`${label}: ${reason}`, 1);
}
