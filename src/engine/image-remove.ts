import type { Db } from '../store/database.js';
import type { StorePaths } from '../store/paths.js';
import { familiarString, parseNormalized, parseReference, referenceString, repositoryName, type ImageReference } from '../image/reference.js';
import { WhaleboxError } from '../util/errors.js';
import { containerTable, refreshContainer } from './containers.js';
import type { Context } from './context.js';
import { deleteImageRows, type Collected } from './image-gc.js';
import { requireImage, shortId } from './image-lookup.js';

/** One line of `rmi` and `image prune` output. */
export type DeleteRecord = { readonly untagged: string } | { readonly deleted: string };

/** The references that name an image: its tags, then its repo digests. */
export function imageRefs(db: Db, id: string): ImageReference[] {
  const tags = db.prepare('SELECT reference FROM tags WHERE image_id = ? ORDER BY reference').pluck().all(id) as string[];
  const digests = db
    .prepare("SELECT repository || '@' || digest FROM repo_digests WHERE image_id = ? ORDER BY 1")
    .pluck()
    .all(id) as string[];
  return [...tags.map((tag) => parseReference(tag)), ...digests.map((digest) => parseNormalized(digest))];
}

/** The containers (any state) made from an image, oldest first. */
export function containersUsing(db: Db, id: string): Array<{ id: string; running: boolean }> {
  const rows = db.prepare('SELECT id, status FROM containers WHERE image_id = ? ORDER BY created').all(id) as Array<{ id: string; status: string }>;
  return rows.map((row) => ({ id: row.id, running: row.status === 'running' || row.status === 'paused' }));
}

/**
 * `docker rmi NAME`, with the daemon's rules (daemon/images/image_delete.go): a name that is one
 * of several only untags; the last name, or an ID, deletes the image, refused while containers
 * use it (even with force for a running one), or, by ID, while it has names in several
 * repositories (unless forced). Returns the Untagged/Deleted records.
 */
export async function removeImage(context: Context, name: string, force: boolean): Promise<DeleteRecord[]> {
  // Statuses must be current (a dead shim is a stopped container), and refreshing is async:
  // it runs before the transaction, which then decides on the rows alone.
  const { id } = requireImage(context, name);
  for (const row of containerTable(context).list()) if (row.imageId === id) await refreshContainer(context, row);
  const db = context.db();
  const outcome = db.transaction(() => deleteOrUntag(db, context.paths, requireImage(context, name).id, name, force)).immediate();
  outcome.collected?.finish();
  return outcome.records;
}

function deleteOrUntag(
  db: Db,
  paths: StorePaths,
  id: string,
  name: string,
  force: boolean,
): { records: DeleteRecord[]; collected?: Collected } {
  const records: DeleteRecord[] = [];
  const untag = (ref: ImageReference): void => {
    if (ref.digest !== undefined) db.prepare('DELETE FROM repo_digests WHERE repository = ? AND digest = ?').run(repositoryName(ref), ref.digest);
    else db.prepare('DELETE FROM tags WHERE reference = ?').run(referenceString(ref));
    records.push({ untagged: familiarString(ref) });
  };
  const users = containersUsing(db, id);
  let refs = imageRefs(db, id);
  let removedLastName = false;
  if (!isImageIdPrefix(id, name)) {
    if (!force && isSingleReference(refs) && users.length > 0) {
      throw new WhaleboxError(
        `conflict: unable to remove repository reference ${JSON.stringify(name)} (must force) - container ${shortId(users[0]!.id)} is using its referenced image ${shortId(id)}`,
        1,
      );
    }
    const named = parseReference(name);
    untag(named);
    refs = imageRefs(db, id);
    // The last tag of a repository takes that repository's digests along.
    const sameRepository = (ref: ImageReference): boolean => repositoryName(ref) === repositoryName(named);
    if (named.digest === undefined && !refs.some((ref) => ref.digest === undefined && sameRepository(ref))) {
      refs.filter(sameRepository).forEach(untag);
      refs = refs.filter((ref) => !sameRepository(ref));
    }
    if (refs.length > 0) return { records };
    removedLastName = true;
  } else if (isSingleReference(refs)) {
    const conflict = deleteConflict(id, users, refs, { references: false, stopped: !force });
    if (conflict) throw conflict;
    refs.forEach(untag);
    refs = [];
  }
  const conflict = deleteConflict(id, users, refs, { references: !force, stopped: !force });
  if (conflict) {
    // Docker: with its last name removed, an image in use stays, as <none>, without an error.
    if (removedLastName && conflict.used) return { records };
    throw conflict;
  }
  refs.forEach(untag);
  // Unlike Docker, which deletes an image a stopped container uses (reached only with force),
  // it stays, dangling: the container's config.json names the image's layer directories, and
  // the container must still be able to start. `image prune` takes it once the container goes.
  if (users.length > 0) return { records };
  const collected = deleteImageRows(db, paths, [id]);
  records.push({ deleted: id }, ...collected.layers.map((layer) => ({ deleted: layer })));
  return { records, collected };
}

class DeleteConflict extends WhaleboxError {
  constructor(
    id: string,
    hard: boolean,
    /** A container uses the image (not merely a name). */
    readonly used: boolean,
    reason: string,
  ) {
    super(`conflict: unable to delete ${shortId(id)} (${hard ? 'cannot be forced' : 'must be forced'}) - ${reason}`, 1);
  }
}

/** Docker's checkImageDeleteConflict: a running container always; the rest as asked. */
function deleteConflict(
  id: string,
  users: ReturnType<typeof containersUsing>,
  refs: readonly ImageReference[],
  check: { references: boolean; stopped: boolean },
): DeleteConflict | undefined {
  const running = users.find((user) => user.running);
  if (running) return new DeleteConflict(id, true, true, `image is being used by running container ${shortId(running.id)}`);
  if (check.references && refs.length > 0) return new DeleteConflict(id, false, false, 'image is referenced in multiple repositories');
  const stopped = users[0];
  if (check.stopped && stopped) return new DeleteConflict(id, false, true, `image is being used by stopped container ${shortId(stopped.id)}`);
  return undefined;
}

/** Docker's test of whether the user named the image by ID (`sha256:` optional) rather than by a name. */
function isImageIdPrefix(id: string, name: string): boolean {
  return id.startsWith(name) || id.slice('sha256:'.length).startsWith(name);
}

/** At most one tag, and every reference in one repository (Docker's isSingleReference). */
function isSingleReference(refs: readonly ImageReference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  if (refs.filter((ref) => ref.digest === undefined).length > 1) return false;
  return new Set(refs.map(repositoryName)).size === 1;
}
