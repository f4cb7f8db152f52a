import type { Db } from './database.js';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'exited' | 'dead';

/** A container as the database holds it. `config` is the engine's JSON, opaque here. */
export interface ContainerRow {
  readonly id: string;
  readonly name: string;
  readonly imageId: string;
  readonly imageRef: string;
  readonly created: string;
  readonly config: string;
  readonly status: ContainerStatus;
  readonly pid: number | null;
  readonly shimPid: number | null;
  readonly shimStart: number | null;
  readonly exitCode: number | null;
  readonly oomKilled: boolean;
  readonly error: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly restartCount: number;
  readonly stopRequested: boolean;
  /** A token of the current run; a late exit command of an earlier run must not touch it. */
  readonly runId: string | null;
}

const COLUMNS: Record<keyof ContainerRow, string> = {
  id: 'id',
  name: 'name',
  imageId: 'image_id',
  imageRef: 'image_ref',
  created: 'created',
  config: 'config',
  status: 'status',
  pid: 'pid',
  shimPid: 'shim_pid',
  shimStart: 'shim_start',
  exitCode: 'exit_code',
  oomKilled: 'oom_killed',
  error: 'error',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  restartCount: 'restart_count',
  stopRequested: 'stop_requested',
  runId: 'run_id',
};

const SELECT = `SELECT ${Object.entries(COLUMNS)
  .map(([key, column]) => `${column} AS ${key}`)
  .join(', ')} FROM containers`;

type Raw = Omit<ContainerRow, 'oomKilled' | 'stopRequested'> & { oomKilled: number; stopRequested: number };

function fromRaw(raw: Raw | undefined): ContainerRow | undefined {
  return raw && { ...raw, oomKilled: raw.oomKilled !== 0, stopRequested: raw.stopRequested !== 0 };
}

function toColumn(value: unknown): unknown {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

/** The queries on the containers table. */
export class ContainerTable {
  constructor(private readonly db: Db) {}

  get(id: string): ContainerRow | undefined {
    return fromRaw(this.db.prepare(`${SELECT} WHERE id = ?`).get(id) as Raw | undefined);
  }

  /** By exact name, full ID, or unique ID prefix, as Docker resolves container references. */
  find(reference: string): ContainerRow[] {
    const name = reference.replace(/^\//, '');
    const exact = this.db.prepare(`${SELECT} WHERE id = ? OR name = ?`).all(reference, name) as Raw[];
    if (exact.length || !/^[0-9a-f]+$/.test(reference)) return exact.map((r) => fromRaw(r)!);
    return (this.db.prepare(`${SELECT} WHERE id >= ? AND id < ? LIMIT 2`).all(reference, `${reference}g`) as Raw[]).map(
      (r) => fromRaw(r)!,
    );
  }

  /** Newest first. */
  list(): ContainerRow[] {
    return (this.db.prepare(`${SELECT} ORDER BY created DESC, rowid DESC`).all() as Raw[]).map((r) => fromRaw(r)!);
  }

  insert(row: Pick<ContainerRow, 'id' | 'name' | 'imageId' | 'imageRef' | 'created' | 'config'>): void {
    this.db
      .prepare(`INSERT INTO containers (id, name, image_id, image_ref, created, config, status) VALUES (?, ?, ?, ?, ?, ?, 'created')`)
      .run(row.id, row.name, row.imageId, row.imageRef, row.created, row.config);
  }

  update(id: string, fields: Partial<Omit<ContainerRow, 'id'>>): void {
    const entries = Object.entries(fields);
    if (!entries.length) return;
    const assignments = entries.map(([key]) => `${COLUMNS[key as keyof ContainerRow]} = ?`).join(', ');
    this.db.prepare(`UPDATE containers SET ${assignments} WHERE id = ?`).run(...entries.map(([, v]) => toColumn(v)), id);
  }

  /**
   * Moves a container from one status to another only if nobody changed it meanwhile (and, when
   * given, `check` accepts the row as it is). Returns the row as it was, or undefined.
   */
  transition(
    id: string,
    from: readonly ContainerStatus[],
    fields: Partial<Omit<ContainerRow, 'id'>>,
    check: (row: ContainerRow) => boolean = () => true,
  ): ContainerRow | undefined {
    return this.db.transaction(() => {
      const row = this.get(id);
      if (!row || !from.includes(row.status) || !check(row)) return undefined;
      this.update(id, fields);
      return row;
    }).immediate();
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
  }
}
