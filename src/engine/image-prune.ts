import { listImages } from '../image/image-store.js';
import { familiarString } from '../image/reference.js';
import type { Context } from './context.js';
import { booleanFilter, matchLabels, parseFilters } from './filters.js';
import { deleteImageRows } from './image-gc.js';
import { imageLabels } from './image-list.js';
import { containersUsing, imageRefs, type DeleteRecord } from './image-remove.js';
import { parseLogTime } from './logs.js';

/**
 * `docker image prune`: dangling images (no tag), or with `all` every image no container uses,
 * narrowed by `until` and `label`/`label!` filters (daemon/images/image_prune.go). An image in
 * use by any container is skipped silently, as Docker's conflicts are. All are deleted in one
 * transaction with one garbage collection. Reclaimed: bytes of the layers removed.
 */
export function pruneImages(context: Context, all: boolean, filterArgs: readonly string[]): { records: DeleteRecord[]; reclaimed: number } {
  const filters = parseFilters(filterArgs, ['dangling', 'label', 'label!', 'until']);
  const danglingOnly = booleanFilter(filters, 'dangling', !all);
  const until = (filters.get('until') ?? []).map((value) => Number(parseLogTime(value) / 1_000_000n));
  const labelled = filters.has('label') || filters.has('label!');
  const candidates = listImages(context.db())
    .filter((image) => !danglingOnly || image.references.length === 0)
    .filter((image) => until.every((time) => Date.parse(image.created) <= time))
    .filter((image) => !labelled || matchLabels(filters, imageLabels(context, image.id)))
    .map((image) => image.id);

  const db = context.db();
  const { records, collected } = db
    .transaction(() => {
      // Checked again under the write lock: a container or a tag may have come meanwhile.
      const untagged = (id: string): boolean => imageRefs(db, id).every((ref) => ref.digest !== undefined);
      const doomed = candidates.filter((id) => containersUsing(db, id).length === 0 && (!danglingOnly || untagged(id)));
      const records: DeleteRecord[] = doomed.flatMap((id) => [
        ...imageRefs(db, id).map((ref) => ({ untagged: familiarString(ref) })),
        { deleted: id },
      ]);
      const collected = deleteImageRows(db, context.paths, doomed);
      return { records: [...records, ...collected.layers.map((layer) => ({ deleted: layer }))], collected };
    })
    .immediate();
  collected.finish();
  return { records, reclaimed: collected.reclaimed };
}
