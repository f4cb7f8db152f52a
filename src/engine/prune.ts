import { isBuildInProgress } from './names.js';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Context } from './context.js';
import { bundleDir, cleanupContainer, containerTable, refreshContainer, removeContainer } from './containers.js';
import { treeSize } from './container-view.js';
import { deleteContainer } from './lifecycle.js';
import { isAbandoned } from '../store/scratch.js';
import { deleteBridge } from '../network/bridge.js';
import { removeNetworkRules } from '../network/firewall.js';
import { listNetworks } from '../network/networks.js';

export interface PruneReport {
  readonly deleted: string[];
  readonly reclaimed: number;
}

/** Docker's container prune: every container that is not running, with its files. */
export async function pruneContainers(context: Context): Promise<PruneReport> {
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const stored of containerTable(context).list()) {
    if (isBuildInProgress(stored.name)) continue;
    const row = await refreshContainer(context, stored);
    if (row.status === 'running' || row.status === 'paused') continue;
    reclaimed += treeSize(join(bundleDir(context, row.id), 'diff'));
    await cleanupContainer(context, row.id);
    removeContainer(context, row.id);
    deleted.push(row.id);
  }
  return { deleted, reclaimed };
}

/**
 * What crashes leave behind, found and removed: container directories without a record, the
 * temporary directories of interrupted imports, and the trash of interrupted image deletions.
 * Running containers are left alone.
 */
export function removeOrphans(context: Context): string[] {
  const removed: string[] = [];
  const known = new Set(containerTable(context).list().map((row) => row.id));
  const remove = (path: string): void => {
    rmSync(path, { recursive: true, force: true, maxRetries: 5 });
    removed.push(path);
  };
  const entries = (dir: string): string[] => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  for (const id of entries(context.paths.containers)) if (!known.has(id)) remove(join(context.paths.containers, id));
  // Scratch entries of commands still running are theirs; trash is garbage whoever made it.
  const leftovers: Array<[dir: string, prefixes: string[]]> = [
    [context.paths.layers, ['tmp-']],
    [dirname(context.paths.blobs), ['.tmp-']],
    [context.paths.root, ['tmp-load-', 'tmp-save-', 'tmp-build-']],
  ];
  for (const [dir, prefixes] of leftovers) {
    for (const name of entries(dir)) {
      if (name.startsWith('trash-') || prefixes.some((prefix) => isAbandoned(name, prefix))) remove(join(dir, name));
    }
  }
  return removed;
}

/** Everything whalebox made under this store: containers (killed first), then the store itself. */
export async function resetStore(context: Context): Promise<void> {
  for (const row of containerTable(context).list()) await deleteContainer(context, row, true);
  // The networks' host side: bridges and firewall rules outlive the files below.
  for (const network of listNetworks(context)) {
    await removeNetworkRules(network);
    await deleteBridge(network.bridge);
  }
  context.close();
  rmSync(context.paths.root, { recursive: true, force: true, maxRetries: 5 });
  rmSync(context.paths.runRoot, { recursive: true, force: true, maxRetries: 5 });
}
