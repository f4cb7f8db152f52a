// Builds the two artefacts a clone needs: the CLI as one CommonJS bundle (fast to load, see
// FIELD-NOTES.md) and the C shim. Run by `npm install` (prepare) and by `npm run build`.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

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

execFileSync('make', ['-s', '-C', join(root, 'native')], { stdio: 'inherit' });
