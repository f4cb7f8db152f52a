// Builds the two artefacts a clone needs: the CLI as one CommonJS bundle (fast to load, see
// FIELD-NOTES.md) and the C shim. Run by `npm install` (prepare) and by `npm run build`.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { rmSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

await build({
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: join(root, 'dist/whalebox.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Loaded from node_modules at run time: a native addon, and tar-stream, whose pax codec
  // src/image/tar-pax.ts replaces inside the package's own module instance.
  external: ['better-sqlite3', 'tar-stream'],
  sourcemap: 'linked',
  // src/util/install-root.ts reads import.meta only where __dirname is missing (ESM under tsx).
  logOverride: { 'empty-import-meta': 'silent' },
  // The bundle runs as a vm.Script (for its code cache), which has no loader for import():
  // every dynamic import, of Node's built-ins too, becomes a require().
  supported: { 'dynamic-import': false },
  logLevel: 'warning',
});

// bin/whalebox writes a fresh V8 code cache on the next run.
rmSync(join(root, 'dist/whalebox.cjs.cache'), { force: true });

execFileSync('make', ['-s', '-C', join(root, 'native')], { stdio: 'inherit' });
