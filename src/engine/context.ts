import type { Db } from '../store/database.js';
import { openDatabase } from '../store/database.js';
import { DEFAULT_ROOT, DEFAULT_RUN_ROOT, storePaths, type StorePaths } from '../store/paths.js';

/** What every command needs: where the store is, and the database (opened on first use). */
export interface Context {
  readonly paths: StorePaths;
  /** The cgroup under which new containers' cgroups are made. */
  readonly cgroupParent: string;
  /** Registries (host[:port]) reached over plain HTTP when HTTPS fails, besides loopback ones. */
  readonly insecureRegistries: readonly string[];
  db(): Db;
  /**
   * Opens the database only if the store exists, for work that must never recreate a store
   * that is gone (the shim's exit command after a reset). False when there is none.
   */
  openExisting(): boolean;
  /** Closes the database if it is open (before its files are removed). */
  close(): void;
}

export interface GlobalOptions {
  root?: string;
  runRoot?: string;
  cgroupParent?: string;
  insecureRegistry?: string[];
}

export function createContext(options: GlobalOptions): Context {
  const paths = storePaths(
    options.root ?? process.env.WHALEBOX_ROOT ?? DEFAULT_ROOT,
    options.runRoot ?? process.env.WHALEBOX_RUN_ROOT ?? DEFAULT_RUN_ROOT,
  );
  let db: Db | undefined;
  return {
    paths,
    cgroupParent: options.cgroupParent ?? process.env.WHALEBOX_CGROUP_PARENT ?? 'whalebox',
    insecureRegistries: options.insecureRegistry ?? (process.env.WHALEBOX_INSECURE_REGISTRIES ?? '').split(',').filter(Boolean),
    db: () => (db ??= openDatabase(paths.database)),
    openExisting: () => {
      try {
        db ??= openDatabase(paths.database, false);
        return true;
      } catch {
        return false;
      }
    },
    close: () => {
      db?.close();
      db = undefined;
    },
  };
}
