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
  // Native addon: loaded from node_modules at run time.
  external: ['better-sqlite3'],
  sourcemap: 'linked',
  logLevel: 'warning',
});

// bin/whalebox writes a fresh V8 code cache on the next run.
rmSync(join(root, 'dist/whalebox.cjs.cache'), { force: true });

execFileSync('make', ['-s', '-C', join(root, 'native')], { stdio: 'inherit' });
