import { parseNormalized, referenceString, type ImageReference } from '../image/reference.js';
import { WhaleboxError } from '../util/errors.js';
import type { Context } from './context.js';
import { requireImage } from './image-lookup.js';

/**
 * `docker tag SOURCE TARGET`: points the target reference (tag `latest` when none is given) at
 * the source image; an image the target named before keeps its other names, or becomes `<none>`.
 * Both are checked as the docker client does before the source is looked up.
 */
export function tagImage(context: Context, source: string, target: string): void {
  if (!/^(?:sha256:)?[a-f0-9]{64}$/.test(source)) parseTagReference(source);
  const ref = parseTagReference(target);
  if (ref.digest !== undefined) throw new WhaleboxError('refusing to create a tag with a digest reference', 1);
  const image = requireImage(context, source);
  context
    .db()
    .prepare('INSERT INTO tags (reference, image_id) VALUES (?, ?) ON CONFLICT (reference) DO UPDATE SET image_id = excluded.image_id')
    .run(referenceString({ ...ref, tag: ref.tag ?? 'latest' }), image.id);
}

function parseTagReference(text: string): ImageReference {
  try {
    return parseNormalized(text);
  } catch (err) {
    if (!(err instanceof WhaleboxError)) throw err;
    throw new WhaleboxError(`Error parsing reference: ${JSON.stringify(text)} is not a valid repository/tag: ${err.message}`, 1);
  }
}
