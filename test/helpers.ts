import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export const REPO = join(import.meta.dirname, '..');
export const CLI = join(REPO, 'bin', 'whalebox');
export const BUSYBOX_TAR = join(REPO, 'build', 'busybox-rootfs.tar');

/** The busybox rootfs tarball that scripts/setup.sh makes; made here when a test runs alone. */
export function busyboxTar(): string {
  if (!existsSync(BUSYBOX_TAR)) {
    const made = spawnSync('bash', [join(REPO, 'scripts', 'make-busybox-rootfs.sh'), BUSYBOX_TAR], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`make-busybox-rootfs.sh failed: ${made.stderr}`);
  }
  return BUSYBOX_TAR;
}

export interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A private store (its own --root and --run-root) for one test file. */
export class Store {
  readonly dir = mkdtempSync(join(tmpdir(), 'whalebox-test-'));
  readonly root = join(this.dir, 'root');
  readonly runRoot = join(this.dir, 'run');
  /** Its own cgroup parent, so that tests (and whatever else runs here) never see each other's. */
  readonly cgroupParent = `whalebox-test-${basename(this.dir).slice('whalebox-test-'.length)}`;

  /** A store with busybox:latest imported. */
  static withBusybox(): Store {
    const store = new Store();
    store.importBusybox();
    return store;
  }

  importBusybox(): void {
    const imported = this.wb(['import', busyboxTar(), 'busybox:latest']);
    if (imported.status !== 0) throw new Error(`import failed: ${imported.stderr}`);
  }

  args(args: string[]): string[] {
    return [CLI, '--root', this.root, '--run-root', this.runRoot, '--cgroup-parent', this.cgroupParent, ...args];
  }

  /** Runs the CLI; `env` adds to (or overrides) this process's environment. */
  wb(args: string[], options: { input?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {}): Result {
    const result: SpawnSyncReturns<string> = spawnSync(process.execPath, this.args(args), {
      encoding: 'utf8',
      input: options.input ?? '',
      timeout: options.timeout ?? 60_000,
      env: { ...process.env, ...options.env },
    });
    return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
  }

  /** Starts the CLI without waiting, for tests that signal it. */
  spawn(args: string[]) {
    return spawn(process.execPath, this.args(args), { stdio: ['ignore', 'pipe', 'pipe'] });
  }

  containerIds(): string[] {
    try {
      return readdirSync(join(this.root, 'containers'));
    } catch {
      return [];
    }
  }

  /** The container cgroups under this store's parent, in every hierarchy. */
  cgroups(): string[] {
    return containerCgroups(this.cgroupParent);
  }

  /** Waits (a few seconds at most) for this store's exit commands to finish, then deletes it. */
  remove(): void {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && spawnSync('pgrep', ['-f', this.root]).status === 0) spawnSync('sleep', ['0.1']);
    // Bridges and firewall rules of the store's networks live outside its directory.
    if (existsSync(this.root)) this.wb(['system', 'reset', '--force']);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The container cgroups under one parent, in every hierarchy (v1 dirs and a cgroup2 root). */
export function containerCgroups(parentName: string): string[] {
  const found: string[] = [];
  for (const hierarchy of ['', ...readdirSync(CGROUP_ROOT)]) {
    const parent = join(CGROUP_ROOT, hierarchy, parentName);
    if (!existsSync(parent)) continue;
    for (const entry of readdirSync(parent, { withFileTypes: true })) {
      if (entry.isDirectory()) found.push(join(parent, entry.name));
    }
  }
  return found;
}

/** Every cgroup directory whose name starts with `whalebox`, two levels down in any hierarchy. */
export function whaleboxCgroupParents(): string[] {
  return ['', ...readdirSync(CGROUP_ROOT)].flatMap((hierarchy) => {
    const dir = join(CGROUP_ROOT, hierarchy);
    try {
      return readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory() && e.name.startsWith('whalebox'))
        .map((e) => join(dir, e.name));
    } catch {
      return [];
    }
  });
}

/** Mount points on the host whose path mentions the given directory. */
export function mountsUnder(dir: string): string[] {
  const mountinfo = spawnSync('cat', ['/proc/self/mountinfo'], { encoding: 'utf8' }).stdout;
  return mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(dir));
}

/**
 * A busybox store for one test file: made before its tests; after them every container is
 * force-removed, the host is checked for what they might have left (mounts, cgroups), and the
 * store is deleted whatever the checks found.
 */
export function storeForFile(): Store {
  const store = new Store();
  before(() => store.importBusybox());
  after(() => {
    try {
      const ids = store.wb(['ps', '-aq', '--no-trunc']).stdout.trim().split('\n').filter(Boolean);
      if (ids.length) store.wb(['rm', '-f', ...ids]);
      assert.deepEqual(mountsUnder(store.dir), [], 'no mount is left under the store');
      assert.deepEqual(store.cgroups(), [], 'no container cgroup is left');
    } finally {
      store.remove();
    }
  });
  return store;
}
