// Integration test of `whalebox import` and `whalebox images` through the built CLI bundle
// (`npm run build` first), with a busybox root filesystem from scripts/make-busybox-rootfs.sh.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = join(REPO, 'dist', 'whalebox.cjs');
const BUSYBOX = '/bin/busybox';
const skip = existsSync(BUSYBOX) ? false : `${BUSYBOX} is missing (apt-get install -y busybox-static)`;

let work: string;
let busyboxTar: string;

before(() => {
  assertBundleFresh();
  work = mkdtempSync(join(tmpdir(), 'whalebox-images-test-'));
  busyboxTar = join(work, 'busybox.tar');
  if (skip) return;
  const made = spawnSync(join(REPO, 'scripts', 'make-busybox-rootfs.sh'), [busyboxTar], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
});

after(() => rmSync(work, { recursive: true, force: true }));

/** A stale bundle silently tests old code (FIELD-NOTES.md): insist on one newer than src/. */
function assertBundleFresh(): void {
  assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: run npm run build first`);
  const built = statSync(BUNDLE).mtimeMs;
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((entry) =>
        entry.isDirectory() ? newest(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs,
      ),
    );
  assert.ok(newest(join(REPO, 'src')) <= built, `${BUNDLE} is older than src/: run npm run build first`);
}

interface Store {
  root: string;
  whalebox(args: string[], input?: Buffer): { status: number | null; stdout: string; stderr: string };
}

/** Runs `fn` with its own store root, removed afterwards. */
function withStore(fn: (store: Store) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'whalebox-store-'));
    const root = join(dir, 'root');
    try {
      await fn({
        root,
        whalebox: (args, input) => {
          const result = spawnSync(
            process.execPath,
            [join(REPO, 'bin', 'whalebox'), '--root', root, '--run-root', join(dir, 'run'), ...args],
            { input, encoding: 'utf8' },
          );
          return { status: result.status, stdout: result.stdout, stderr: result.stderr };
        },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function makeTar(entries: Array<Partial<Header> & { name: string; content?: string }>): Promise<Buffer> {
  const archive = pack();
  for (const { content, ...header } of entries) archive.entry(header, content ?? '');
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function tableRows(output: string): string[][] {
  return output
    .trimEnd()
    .split('\n')
    .map((line) => line.split(/ {3,}/));
}

describe('whalebox import / images', { skip }, () => {
  test(
    'imports the busybox rootfs into the OCI store',
    withStore(({ root, whalebox }) => {
      const imported = whalebox(['import', busyboxTar, 'busybox']);
      assert.equal(imported.status, 0, imported.stderr);
      assert.match(imported.stdout, /^sha256:[a-f0-9]{64}\n$/);
      const id = imported.stdout.trim();

      const images = whalebox(['images']);
      assert.equal(images.status, 0, images.stderr);
      const [header, ...rows] = tableRows(images.stdout);
      assert.deepEqual(header, ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']);
      assert.equal(rows.length, 1);
      const [repository, tag, shortId, created, size] = rows[0]!;
      assert.deepEqual([repository, tag, shortId], ['busybox', 'latest', id.slice(7, 19)]);
      assert.match(created!, /^(Less than a second|\d+ \w+|About an? \w+) ago$/);
      assert.match(size!, /^\d(\.\d+)?MB$/);
      // The columns start where the header's do (tabwriter alignment).
      const lines = images.stdout.split('\n');
      for (const heading of ['TAG', 'IMAGE ID', 'CREATED', 'SIZE']) {
        const column = lines[0]!.indexOf(heading);
        assert.match(lines[1]!.slice(column - 3, column + 1), /^ {3}\S$/, heading);
      }

      // Every blob hashes to its name: the layer (the tar itself), the config, the manifest.
      const blobs = join(root, 'blobs', 'sha256');
      const names = readdirSync(blobs);
      assert.equal(names.length, 3);
      for (const name of names) assert.equal(sha256Hex(readFileSync(join(blobs, name))), name);
      const tarHex = sha256Hex(readFileSync(busyboxTar));
      assert.ok(names.includes(tarHex));
      assert.ok(names.includes(id.slice(7)));
      const config = JSON.parse(readFileSync(join(blobs, id.slice(7)), 'utf8'));
      assert.deepEqual(config.rootfs, { type: 'layers', diff_ids: [`sha256:${tarHex}`] });
      assert.equal(config.os, 'linux');

      // The unpacked layer.
      const diff = join(root, 'layers', tarHex, 'diff');
      assert.deepEqual(readdirSync(join(root, 'layers')), [tarHex, 'l']);
      const busybox = statSync(join(diff, 'bin', 'busybox'));
      assert.equal(busybox.mode & 0o7777, 0o755);
      assert.equal(busybox.size, statSync(BUSYBOX).size);
      for (const applet of ['bin/sh', 'bin/ls', 'usr/bin/wget', 'sbin/ifconfig']) {
        assert.ok(lstatSync(join(diff, applet)).isSymbolicLink(), applet);
        assert.equal(readlinkSync(join(diff, applet)), '/bin/busybox', applet);
      }
      assert.equal(statSync(join(diff, 'tmp')).mode & 0o7777, 0o1777);
      assert.match(readFileSync(join(diff, 'etc', 'passwd'), 'utf8'), /^root:x:0:0:root:\/root:\/bin\/sh$/m);

      // Again, and gzipped through stdin: same image, the layer stored once.
      const again = whalebox(['import', busyboxTar, 'busybox']);
      assert.equal(again.stdout, imported.stdout);
      const gzipped = whalebox(['import', '-', 'localhost:5000/tools/busybox:1'], gzipSync(readFileSync(busyboxTar)));
      assert.equal(gzipped.status, 0, gzipped.stderr);
      assert.equal(gzipped.stdout, imported.stdout);
      assert.deepEqual(readdirSync(join(root, 'layers')), [tarHex, 'l']);
      assert.equal(readdirSync(blobs).length, 3);
      assert.deepEqual(
        tableRows(whalebox(['images']).stdout).slice(1).map((row) => row.slice(0, 3)),
        [
          ['busybox', 'latest', id.slice(7, 19)],
          ['localhost:5000/tools/busybox', '1', id.slice(7, 19)],
        ],
      );
      // One line a row, as Docker prints them: the image has two names.
      assert.equal(whalebox(['images', '-q']).stdout, `${id.slice(7, 19)}\n${id.slice(7, 19)}\n`);
      const filtered = tableRows(whalebox(['images', 'localhost:5000/tools/busybox']).stdout);
      assert.deepEqual(filtered.slice(1).map((row) => row.slice(0, 2)), [['localhost:5000/tools/busybox', '1']]);
      assert.equal(whalebox(['images', 'busybox:2']).stdout.split('\n').length, 2); // the header alone
    }),
  );

  test(
    'a tag that moves leaves the old image dangling',
    withStore(async ({ whalebox }) => {
      const first = whalebox(['import', '-', 'app'], await makeTar([{ name: 'a', content: 'one', mtime: new Date(1_000_000) }]));
      const second = whalebox(['import', '-', 'app'], await makeTar([{ name: 'a', content: 'two', mtime: new Date(2_000_000) }]));
      assert.equal(first.status, 0, first.stderr);
      assert.equal(second.status, 0, second.stderr);
      const rows = tableRows(whalebox(['images']).stdout).slice(1);
      assert.deepEqual(
        rows.map((row) => row.slice(0, 3)),
        [
          ['app', 'latest', second.stdout.slice(7, 19)],
          ['<none>', '<none>', first.stdout.slice(7, 19)],
        ],
      );
      assert.deepEqual(rows.map((row) => row[4]), ['3B', '3B']);
      assert.equal(whalebox(['images', '-q']).stdout, `${second.stdout.slice(7, 19)}\n${first.stdout.slice(7, 19)}\n`);
    }),
  );

  const hostile: Array<[string, Array<Partial<Header> & { name: string; content?: string }>, RegExp]> = [
    ['a ../ entry', [{ name: 'ok', content: 'x' }, { name: '../escape', content: 'x' }], /leaves the layer root/],
    ['an absolute entry', [{ name: '/abs', content: 'x' }], /is an absolute path/],
    [
      'a write through a symlink it planted',
      [
        { name: 'evil', type: 'symlink', linkname: '/tmp' },
        { name: 'evil/whalebox-escape', content: 'pwned' },
      ],
      /its parent "evil" is a symbolic link/,
    ],
  ];
  for (const [what, entries, message] of hostile) {
    test(
      `refuses ${what} with status 125 and stores nothing`,
      withStore(async ({ root, whalebox }) => {
        const result = whalebox(['import', '-', 'hostile'], await makeTar(entries));
        assert.equal(result.status, 125);
        assert.match(result.stderr, /^whalebox: refusing layer entry /);
        assert.match(result.stderr, message);
        assert.equal(result.stdout, '');
        assert.deepEqual(readdirSync(join(root, 'layers')), []);
        assert.deepEqual(readdirSync(join(root, 'blobs')), ['sha256']);
        assert.deepEqual(readdirSync(join(root, 'blobs', 'sha256')), []);
        assert.ok(!existsSync('/tmp/whalebox-escape'));
        assert.ok(!existsSync(join(root, '..', 'escape')));
        assert.equal(whalebox(['images', '-q']).stdout, '');
      }),
    );
  }

  test(
    'a truncated gzip fails cleanly',
    withStore(({ root, whalebox }) => {
      const gz = gzipSync(readFileSync(busyboxTar));
      const result = whalebox(['import', '-', 'truncated'], gz.subarray(0, Math.floor(gz.length / 2)));
      assert.equal(result.status, 125);
      assert.equal(result.stderr, 'whalebox: failed to unpack layer: unexpected end of file\n');
      assert.deepEqual(readdirSync(join(root, 'layers')), []);
      assert.deepEqual(readdirSync(join(root, 'blobs', 'sha256')), []);
      assert.deepEqual(readdirSync(join(root, 'blobs')), ['sha256']);
    }),
  );

  test(
    'rejects a bad reference or a missing file before reading anything',
    withStore(({ root, whalebox }) => {
      const upper = whalebox(['import', busyboxTar, 'BusyBox']);
      assert.equal(upper.status, 125);
      assert.equal(upper.stderr, 'whalebox: invalid reference format: repository name (library/BusyBox) must be lowercase\n');
      const bad = whalebox(['import', busyboxTar, 'busybox:']);
      assert.equal(bad.status, 125);
      assert.equal(bad.stderr, 'whalebox: invalid reference format\n');
      const digest = whalebox(['import', busyboxTar, `busybox@sha256:${'a'.repeat(64)}`]);
      assert.equal(digest.stderr, 'whalebox: cannot import digest reference\n');
      const missing = whalebox(['import', join(root, 'nope.tar')]);
      assert.equal(missing.status, 125);
      assert.equal(missing.stderr, `whalebox: open ${join(root, 'nope.tar')}: no such file or directory\n`);
      assert.ok(!existsSync(join(root, 'layers')));
    }),
  );

  test(
    '--change and --message shape the image config',
    withStore(({ root, whalebox }) => {
      const result = whalebox(['import', '-c', 'CMD ["sh"]', '--change', 'ENV PATH=/bin', '-m', 'rootfs', busyboxTar, 'busybox']);
      assert.equal(result.status, 0, result.stderr);
      const config = JSON.parse(readFileSync(join(root, 'blobs', 'sha256', result.stdout.trim().slice(7)), 'utf8'));
      assert.deepEqual(config.config, { Cmd: ['sh'], Env: ['PATH=/bin'] });
      assert.equal(config.history[0].comment, 'rootfs');
    }),
  );
});
