import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { pack, type Header } from 'tar-stream';
import { WhaleboxError } from '../util/errors.js';
import { fsOps } from '../native/fsops.js';
import { unpackLayer } from './layer-unpack.js';
import { installPaxCodec, xattrText } from './tar-pax.js';

type Entry = Partial<Header> & { name: string; content?: string };

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const archive = pack();
  for (const { content, ...header } of entries) {
    archive.entry({ mtime: new Date(1_700_000_000_000), ...header }, content ?? '');
  }
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function withTempDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'whalebox-unpack-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'unpacks files, directories, links with their metadata',
  withTempDir(async (dir) => {
    const tar = await makeTar([
      // A file before its directory, and the directory later with its own mode and owner.
      { name: 'usr/local/bin/tool', content: '#!/bin/sh\n', mode: 0o4755, uid: 0, gid: 0 },
      { name: 'usr/local/', type: 'directory', mode: 0o750, uid: 33, gid: 34, mtime: new Date(1_600_000_000_000) },
      { name: './tmp/', type: 'directory', mode: 0o1777 },
      { name: 'home/user/notes', content: 'hello', mode: 0o600, uid: 1000, gid: 1001, mtime: new Date(1_650_000_000_000) },
      { name: 'bin/sh', type: 'symlink', linkname: '/usr/local/bin/tool', uid: 5, gid: 6 },
      { name: 'bin/tool-link', type: 'link', linkname: 'usr/local/bin/tool' },
      { name: 'replaced', content: 'first' },
      { name: 'replaced', type: 'symlink', linkname: 'elsewhere' },
      { name: 'dir-then-file/', type: 'directory' },
      { name: 'dir-then-file/child', content: 'x' },
      { name: 'dir-then-file', content: 'now a file' },
    ]);
    const layers = join(dir, 'layers');
    const teed: Buffer[] = [];
    const layer = await unpackLayer(Readable.from([tar]), layers, { tee: (chunk) => teed.push(chunk) });

    assert.equal(layer.diffId, sha256(tar));
    assert.equal(layer.chainId, layer.diffId);
    assert.deepEqual(Buffer.concat(teed), tar);
    assert.equal(layer.dir, join(layers, layer.diffId.slice(7), 'diff'));
    assert.deepEqual(readdirSync(layers), [layer.diffId.slice(7), 'l']);
    assert.equal(readlinkSync(join(layers, 'l', layer.diffId.slice(7, 19))), `../${layer.diffId.slice(7)}/diff`);
    assert.equal(layer.newestMtime.getTime(), 1_700_000_000_000);
    // Bytes of the files and symlink targets left in the tree (hard links count once).
    assert.equal(layer.size, 10 + 5 + '/usr/local/bin/tool'.length + 'elsewhere'.length + 'now a file'.length);

    const root = layer.dir;
    const tool = statSync(join(root, 'usr/local/bin/tool'));
    assert.equal(tool.mode & 0o7777, 0o4755);
    assert.equal(statSync(join(root, 'usr/local')).mode & 0o7777, 0o750);
    assert.equal(statSync(join(root, 'usr/local')).uid, 33);
    assert.equal(statSync(join(root, 'usr/local')).gid, 34);
    assert.equal(statSync(join(root, 'usr/local')).mtimeMs, 1_600_000_000_000);
    assert.equal(statSync(join(root, 'usr')).mode & 0o7777, 0o755); // implied, never listed
    assert.equal(statSync(join(root, 'tmp')).mode & 0o7777, 0o1777);
    assert.equal(statSync(root).mode & 0o7777, 0o755);
    const notes = statSync(join(root, 'home/user/notes'));
    assert.equal(readFileSync(join(root, 'home/user/notes'), 'utf8'), 'hello');
    assert.deepEqual([notes.mode & 0o7777, notes.uid, notes.gid, notes.mtimeMs], [0o600, 1000, 1001, 1_650_000_000_000]);
    const sh = lstatSync(join(root, 'bin/sh'));
    assert.ok(sh.isSymbolicLink());
    assert.equal(readlinkSync(join(root, 'bin/sh')), '/usr/local/bin/tool');
    assert.deepEqual([sh.uid, sh.gid, sh.mtimeMs], [5, 6, 1_700_000_000_000]);
    assert.equal(statSync(join(root, 'bin/tool-link')).ino, tool.ino);
    assert.equal(readlinkSync(join(root, 'replaced')), 'elsewhere');
    assert.equal(readFileSync(join(root, 'dir-then-file'), 'utf8'), 'now a file');
  }),
);

test(
  'gzip input gives the diff ID of the uncompressed tar; the same layer is stored once',
  withTempDir(async (dir) => {
    const tar = await makeTar([{ name: 'a', content: 'a' }]);
    const layers = join(dir, 'layers');
    const plain = await unpackLayer(Readable.from([tar]), layers);
    // Split the gzip stream into tiny chunks: the format sniffing must not depend on chunking.
    const gz = gzipSync(tar);
    const chunks = Array.from({ length: gz.length }, (_, i) => gz.subarray(i, i + 1));
    const gzipped = await unpackLayer(Readable.from(chunks, { objectMode: false }), layers);
    assert.equal(gzipped.diffId, plain.diffId);
    assert.equal(gzipped.dir, plain.dir);
    assert.deepEqual(readdirSync(layers), [plain.diffId.slice(7), 'l']);
  }),
);

test(
  'a layer above a parent is named by its chain ID',
  withTempDir(async (dir) => {
    const parent = `sha256:${'1'.repeat(64)}`;
    const tar = await makeTar([{ name: 'a', content: 'a' }]);
    const layer = await unpackLayer(Readable.from([tar]), join(dir, 'layers'), { parent });
    assert.equal(layer.chainId, sha256(`${parent} ${layer.diffId}`));
    assert.ok(existsSync(join(dir, 'layers', layer.chainId.slice(7), 'diff', 'a')));
  }),
);

const refused: Array<[string, Entry[], RegExp]> = [
  ['a parent-directory escape', [{ name: '../escape', content: 'x' }], /refusing layer entry "..\/escape": ".*" leaves the layer root/],
  ['an escape in the middle', [{ name: 'a/../../escape', content: 'x' }], /leaves the layer root/],
  ['an absolute path', [{ name: '/abs', content: 'x' }], /refusing layer entry "\/abs": "\/abs" is an absolute path/],
  [
    'a write through a symlink planted by an earlier entry',
    [
      { name: 'evil', type: 'symlink', linkname: 'OUTSIDE' },
      { name: 'evil/file', content: 'pwned' },
    ],
    /refusing layer entry "evil\/file": its parent "evil" is a symbolic link/,
  ],
  [
    'a write below a file',
    [
      { name: 'file', content: 'x' },
      { name: 'file/child', content: 'y' },
    ],
    /its parent "file" is not a directory/,
  ],
  ['a hard link out of the layer', [{ name: 'h', type: 'link', linkname: '../outside' }], /leaves the layer root/],
  ['a hard link to an absolute path', [{ name: 'h', type: 'link', linkname: '/etc/passwd' }], /is an absolute path/],
  ['a hard link to nothing', [{ name: 'h', type: 'link', linkname: 'missing' }], /is not a file unpacked earlier/],
  [
    'a hard link through a symlink',
    [
      { name: 'evil', type: 'symlink', linkname: 'OUTSIDE' },
      { name: 'h', type: 'link', linkname: 'evil/file' },
    ],
    /its parent "evil" is a symbolic link/,
  ],
  [
    'an overlay xattr',
    [{ name: 'dir', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } }],
    /it sets trusted.overlay.opaque, which belongs to overlayfs/,
  ],
  ['a whiteout of ..', [{ name: 'etc/.wh...', content: '' }], /invalid whiteout/],
];

for (const [what, entries, message] of refused) {
  test(
    `refuses ${what} and stores nothing`,
    withTempDir(async (dir) => {
      const outside = join(dir, 'outside');
      const tar = await makeTar(
        [{ name: 'ok', content: 'fine' }, ...entries].map((entry) =>
          entry.linkname === 'OUTSIDE' ? { ...entry, linkname: outside } : entry,
        ),
      );
      const layers = join(dir, 'layers');
      await assert.rejects(
        unpackLayer(Readable.from([tar]), layers),
        (err: unknown) => err instanceof WhaleboxError && err.exitCode === 125 && message.test(err.message),
      );
      assert.deepEqual(readdirSync(layers), []);
      assert.ok(!existsSync(outside));
      assert.ok(!existsSync(join(dir, 'escape')));
    }),
  );
}

test(
  'truncated or foreign input fails cleanly',
  withTempDir(async (dir) => {
    const tar = await makeTar([{ name: 'big', content: 'z'.repeat(100_000) }]);
    const layers = join(dir, 'layers');
    const gz = gzipSync(tar);
    const cases: Array<[Buffer, RegExp]> = [
      [gz.subarray(0, gz.length - 10), /^failed to unpack layer: unexpected end of file$/],
      [tar.subarray(0, 5000), /^failed to unpack layer: Unexpected end of data$/],
      [Buffer.from('not a tar at all\n'.repeat(64)), /^failed to unpack layer: Invalid tar header/],
      [Buffer.concat([Buffer.from('BZh9'), tar]), /^failed to unpack layer: invalid bzip2 data/],
      [Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2]), /^failed to unpack layer: invalid xz data/],
      [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0]), /^failed to unpack layer: invalid zstd data/],
    ];
    for (const [input, message] of cases) {
      await assert.rejects(
        unpackLayer(Readable.from([input]), layers),
        (err: unknown) => err instanceof WhaleboxError && message.test(err.message),
        message.source,
      );
      assert.deepEqual(readdirSync(layers), []);
    }
  }),
);

test(
  'bzip2 and xz layers unpack through the system tools',
  withTempDir(async (dir) => {
    const tar = await makeTar([{ name: 'file', content: 'compressed' }]);
    for (const command of ['bzip2', 'xz']) {
      const compressed = spawnSync(command, ['-c'], { input: tar }).stdout;
      const layer = await unpackLayer(Readable.from([compressed]), join(dir, command));
      assert.equal(readFileSync(join(dir, command, layer.chainId.slice('sha256:'.length), 'diff', 'file'), 'utf8'), 'compressed');
    }
  }),
);

test(
  'a failing tee aborts the unpack',
  withTempDir(async (dir) => {
    const tar = await makeTar([{ name: 'a', content: 'a' }]);
    const layers = join(dir, 'layers');
    await assert.rejects(
      unpackLayer(Readable.from([tar]), layers, {
        tee: () => {
          throw new Error('disk full');
        },
      }),
      /failed to unpack layer: disk full/,
    );
    assert.deepEqual(readdirSync(layers), []);
  }),
);

test(
  'a refused entry fails at once even while the input stays open',
  withTempDir(async (dir) => {
    const tar = await makeTar([{ name: '../escape', content: 'x' }]);
    // Like a stalled download: the bytes of the bad entry, then nothing, and no end.
    let sent = false;
    const input = new Readable({
      read() {
        if (!sent) this.push(tar.subarray(0, 1024));
        sent = true;
      },
    });
    await assert.rejects(unpackLayer(input, join(dir, 'layers')), /leaves the layer root/);
    assert.ok(input.destroyed);
  }),
);

test(
  'short and empty inputs',
  withTempDir(async (dir) => {
    const layers = join(dir, 'layers');
    const empty = await unpackLayer(Readable.from([], { objectMode: false }), layers);
    assert.equal(empty.diffId, sha256(''));
    assert.deepEqual(readdirSync(empty.dir), []);
    await assert.rejects(unpackLayer(Readable.from([Buffer.from('abc')], { objectMode: false }), layers), /Unexpected end of data/);
    await assert.rejects(unpackLayer(Readable.from([Buffer.from([0x1f, 0x8b])], { objectMode: false }), layers), /unexpected end of file/);
  }),
);

test(
  'whiteouts, opaque directories, device nodes, fifos and xattrs take overlayfs form',
  withTempDir(async (dir) => {
    installPaxCodec();
    // vfs_cap_data v2, effective: CAP_NET_RAW and CAP_SETFCAP permitted (0x80: not UTF-8).
    const capability = Buffer.from([0x01, 0, 0, 0x02, 0x00, 0x20, 0x00, 0x80, ...Array(12).fill(0)]);
    const tar = await makeTar([
      { name: 'etc', type: 'directory', mode: 0o755 },
      { name: 'etc/.wh.passwd', content: '' },
      { name: 'opt', type: 'directory', mode: 0o711 },
      { name: 'opt/.wh..wh..opq', content: '' },
      { name: 'opt/kept', content: 'k' },
      { name: '.wh..wh.plnk', type: 'directory' },
      { name: 'dev', type: 'directory', mode: 0o755 },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'pipe', type: 'fifo', mode: 0o640 },
      { name: 'ping', content: 'elf', mode: 0o755, pax: { 'SCHILY.xattr.security.capability': xattrText(capability), 'SCHILY.xattr.user.note': xattrText(Buffer.from('héllo')) } },
    ]);
    const layer = await unpackLayer(Readable.from([tar]), join(dir, 'layers'));
    const at = (path: string) => lstatSync(join(layer.dir, path));
    assert.ok(at('etc/passwd').isCharacterDevice());
    assert.equal(at('etc/passwd').rdev, 0);
    assert.ok(!existsSync(join(layer.dir, 'etc/.wh.passwd')));
    assert.deepEqual(fsOps().lgetxattr(join(layer.dir, 'opt'), 'trusted.overlay.opaque'), Buffer.from('y'));
    assert.equal(at('opt').mode & 0o7777, 0o711);
    assert.deepEqual(readdirSync(join(layer.dir, 'opt')), ['kept']);
    assert.ok(!existsSync(join(layer.dir, '.wh..wh.plnk')));
    assert.ok(at('dev/sda').isBlockDevice());
    assert.equal(at('dev/sda').rdev, (8 << 8) | 0);
    assert.equal(at('dev/sda').mode & 0o7777, 0o660);
    assert.equal(at('dev/sda').gid, 6);
    assert.ok(at('dev/null').isCharacterDevice());
    assert.equal(at('dev/null').rdev, (1 << 8) | 3);
    assert.ok(at('pipe').isFIFO());
    assert.equal(at('pipe').mode & 0o7777, 0o640);
    assert.deepEqual(fsOps().lgetxattr(join(layer.dir, 'ping'), 'security.capability'), capability);
    assert.equal(fsOps().lgetxattr(join(layer.dir, 'ping'), 'user.note')?.toString(), 'héllo');
  }),
);

test(
  'zstd layers unpack to the diff ID of the plain tar',
  withTempDir(async (dir) => {
    const tar = await makeTar([{ name: 'a', content: 'zstd '.repeat(10_000) }]);
    const zstd = spawnSync('zstd', ['-q', '-c'], { input: tar });
    assert.equal(zstd.status, 0, 'the zstd tool (Debian package zstd) makes the test input');
    const layer = await unpackLayer(Readable.from([zstd.stdout]), join(dir, 'layers'));
    assert.equal(layer.diffId, sha256(tar));
    assert.equal(readFileSync(join(layer.dir, 'a'), 'utf8'), 'zstd '.repeat(10_000));
    const truncated = zstd.stdout.subarray(0, zstd.stdout.length - 8);
    await assert.rejects(unpackLayer(Readable.from([truncated]), join(dir, 'other')), /failed to unpack layer/);
    assert.deepEqual(readdirSync(join(dir, 'other')), []);
  }),
);

test(
  'a layer whose content differs from the promised diff ID is not stored',
  withTempDir(async (dir) => {
    const tar = await makeTar([{ name: 'a', content: 'a' }]);
    const layers = join(dir, 'layers');
    await assert.rejects(
      unpackLayer(Readable.from([tar]), layers, { expectedDiffId: sha256('something else') }),
      /does not match the image config/,
    );
    assert.deepEqual(readdirSync(layers), []);
  }),
);
