import { readBlob } from '../image/content-store.js';
import { listImages as listStoredImages } from '../image/image-store.js';
import type { ImageConfig } from '../image/oci-image.js';
import { compileGlob, familiarMatch } from '../image/reference-match.js';
import { parseNormalized, parseReference, type ImageReference } from '../image/reference.js';
import type { Context } from './context.js';
import { booleanFilter, matchLabels, parseFilters } from './filters.js';
import { requireImage } from './image-lookup.js';
import { parseLogTime } from './logs.js';

/** An image as `docker images` lists it: the daemon's ImageSummary. */
export interface ListedImage {
  readonly id: string;
  /** RFC 3339. */
  readonly created: string;
  readonly size: number;
  readonly tags: ImageReference[];
  /** References with a digest (`busybox@sha256:…`). */
  readonly digests: ImageReference[];
}

/**
 * `docker images [REPOSITORY[:TAG]] [--filter …]`, as the daemon filters (daemon/images/images.go):
 * `dangling`, `label`, `before`, `since`, `until`, and `reference` globs (any may match; they
 * also drop the names that do not match). The repository argument is one more reference filter,
 * as in Docker. Newest first. There are no intermediate images here, so `--all` changes nothing.
 */
export function listImages(context: Context, filterArgs: readonly string[], repository?: string): ListedImage[] {
  const filters = parseFilters(filterArgs, ['dangling', 'label', 'before', 'since', 'until', 'reference']);
  const danglingOnly = booleanFilter(filters, 'dangling', false);
  const patterns = [...(filters.get('reference') ?? []), ...(repository === undefined ? [] : [repository])].map(compileGlob);
  const createdOf = (name: string): number => Date.parse(requireImage(context, name).created);
  const before = Math.min(...(filters.get('before') ?? []).map(createdOf));
  const since = Math.max(...(filters.get('since') ?? []).map(createdOf));
  const until = (filters.get('until') ?? []).map((value) => Number(parseLogTime(value) / 1_000_000n));
  const labelled = filters.has('label') || filters.has('label!');

  const listed: ListedImage[] = [];
  for (const image of listStoredImages(context.db())) {
    const created = Date.parse(image.created);
    if (!(created < before && created > since && until.every((time) => created < time))) continue;
    if (labelled && !matchLabels(filters, imageLabels(context, image.id))) continue;
    const matches = (ref: ImageReference): boolean => patterns.length === 0 || patterns.some((pattern) => familiarMatch(pattern, ref));
    const tags = image.references.map((text) => parseReference(text)).filter(matches);
    const digests = image.repoDigests.map((text) => parseNormalized(text)).filter(matches);
    if (tags.length + digests.length === 0) {
      if (filters.has('dangling') && !danglingOnly) continue;
      if (patterns.length > 0) continue;
    } else if (danglingOnly && tags.length > 0) {
      continue;
    }
    listed.push({ id: image.id, created: image.created, size: image.size, tags, digests });
  }
  return listed;
}

/** The labels in an image's config. */
export function imageLabels(context: Context, id: string): Record<string, string> {
  const config = JSON.parse(readBlob(context.paths, id).toString('utf8')) as ImageConfig;
  return config.config?.Labels ?? {};
}
