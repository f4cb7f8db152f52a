import { findImage, type ImageRecord } from '../image/image-store.js';
import { familiarString, parseReference } from '../image/reference.js';
import { WhaleboxError } from '../util/errors.js';
import type { Context } from './context.js';

/**
 * An image by name, ID or ID prefix, or Docker's `No such image: busybox:latest` (the name as
 * Docker normalizes it: a tag added, a full ID with `sha256:`). Errors are daemon errors,
 * status 1, as the docker CLI exits for them outside `run`.
 */
export function requireImage(context: Context, nameOrId: string): ImageRecord {
  try {
    const image = findImage(context.db(), context.paths, nameOrId);
    if (image) return image;
  } catch (err) {
    if (err instanceof WhaleboxError) throw new WhaleboxError(err.message, 1);
    throw err;
  }
  const full = /^(?:sha256:)?([a-f0-9]{64})$/.exec(nameOrId);
  throw new WhaleboxError(`No such image: ${full ? `sha256:${full[1]}` : familiarString(parseReference(nameOrId))}`, 1);
}

/** Docker's short ID: 12 hex digits, without `sha256:`. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
