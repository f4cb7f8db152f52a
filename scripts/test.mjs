// Runs every unit test (src/**/*.test.ts) and then every integration test (test/*.test.ts) with
// Node's test runner, one file at a time: integration tests touch the host kernel.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testFiles = (dir) =>
  readdirSync(join(root, dir), { recursive: true })
    .filter((file) => file.endsWith('.test.ts'))
    .sort()
    .map((file) => join(dir, file));

// The leftover check goes last: it inspects the host after everything else has run.
const files = [...testFiles('src'), ...testFiles('test')];
const args = process.argv.slice(2);
const selected = args.length ? args : files;
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...selected],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
