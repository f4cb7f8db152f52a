import type { ImageConfig } from '../image/oci-image.js';
import { familiarString, parseReference } from '../image/reference.js';
import { WhaleboxError } from '../util/errors.js';
import type { Context } from './context.js';
import { requireImage } from './image-lookup.js';

/** One row of `docker history`: the daemon's HistoryResponseItem. */
export interface HistoryRow {
  /** The image ID on the newest row, `<missing>` below (the steps have no image of their own). */
  readonly id: string;
  /** RFC 3339; Go's zero time when the step has none. */
  readonly created: string;
  readonly createdBy: string;
  /** Bytes of the step's layer; 0 for a step that made none. */
  readonly size: number;
  readonly comment: string;
  /** Familiar tags of the image, on the newest row only. */
  readonly tags: string[];
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * The config's history, newest first. Entries that are not `empty_layer` take the layers in
 * order, base first, for their sizes (Docker's ImageHistory).
 */
export function historyRows(id: string, config: ImageConfig, layerSizes: readonly number[], tags: readonly string[]): HistoryRow[] {
  let layer = 0;
  const rows = (config.history ?? []).map((entry) => {
    let size = 0;
    if (!entry.empty_layer) {
      if (layer >= layerSizes.length) throw new WhaleboxError('too many non-empty layers in History section', 1);
      size = layerSizes[layer++]!;
    }
    return { id: '<missing>', created: entry.created ?? ZERO_TIME, createdBy: entry.created_by ?? '', size, comment: entry.comment ?? '', tags: [] as string[] };
  });
  rows.reverse();
  if (rows[0]) rows[0] = { ...rows[0], id, tags: [...tags] };
  return rows;
}

/** `docker history IMAGE`. */
export function imageHistory(context: Context, name: string): HistoryRow[] {
  const image = requireImage(context, name);
  const size = context.db().prepare('SELECT size FROM layers WHERE chain_id = ?').pluck();
  const sizes = image.chainIds.map((chainId) => (size.get(chainId) as number | undefined) ?? 0);
  return historyRows(image.id, image.config, sizes, image.references.map((ref) => familiarString(parseReference(ref))));
}
