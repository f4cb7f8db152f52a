import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, constants, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import { fsOps } from '../native/fsops.js';
import { packLayer, packMerged } from './layer-pack.js';
import { installPaxCodec, xattrValue } from './tar-pax.js';

interface Read {
  header: Header;
  content: string;
}

async function readTar(tar: Readable): Promise<Read[]> {
  installPaxCodec();
  const read: Read[] = [];
  const parser = extract();
  tar.pipe(parser as unknown as NodeJS.WritableStream);
  for await (const entry of parser) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    read.push({ header: entry.header, content: Buffer.concat(chunks).toString() });
  }
  return read;
}

async function bytes(tar: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function withTempDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'whalebox-pack-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const whiteout = (path: string): void => fsOps().mknod(path, constants.S_IFCHR | 0o600, 0, 0);
const opaque = (path: string): void => fsOps().lsetxattr(path, 'trusted.overlay.opaque', Buffer.from('y'));
const names = (read: Read[]): string[] => read.map((entry) => entry.header.name);

/** A container's upper dir: a new file with a hard link and a binary xattr, a deletion, an opaque directory, a fifo, a symlink. */
function upperDir(dir: string): void {
  mkdirSync(join(dir, 'etc'));
  writeFileSync(join(dir, 'etc', 'conf'), 'hello\n', { mode: 0o640 });
  chownSync(join(dir, 'etc', 'conf'), 1000, 2000);
  utimesSync(join(dir, 'etc', 'conf'), 1_700_000_000, 1_700_000_000);
  linkSync(join(dir, 'etc', 'conf'), join(dir, 'etc', 'copy'));
  fsOps().lsetxattr(join(dir, 'etc', 'conf'), 'trusted.whalebox', Buffer.from([0, 0xff, 0x80]));
  fsOps().lsetxattr(join(dir, 'etc', 'conf'), 'trusted.overlay.origin', Buffer.from('x'));
  whiteout(join(dir, 'etc', 'gone'));
  mkdirSync(join(dir, 'var'));
  opaque(join(dir, 'var'));
  writeFileSync(join(dir, 'var', 'only'), '');
  spawnSync('mkfifo', [join(dir, 'pipe')]);
  symlinkSync('/etc/conf', join(dir, 'link'));
}

test(
  'packLayer writes whiteouts, opaque markers, xattrs and hard links in sorted order',
  withTempDir(async (dir) => {
    upperDir(dir);
    const read = await readTar(packLayer(dir));
    assert.deepEqual(names(read), ['etc/', 'etc/conf', 'etc/copy', 'etc/.wh.gone', 'link', 'pipe', 'var/', 'var/.wh..wh..opq', 'var/only']);
    const byName = new Map(read.map((entry) => [entry.header.name, entry]));
    const conf = byName.get('etc/conf')!.header;
    assert.equal(conf.type, 'file');
    assert.equal(byName.get('etc/conf')!.content, 'hello\n');
    assert.deepEqual([conf.mode! & 0o7777, conf.uid, conf.gid, conf.mtime?.getTime()], [0o640, 1000, 2000, 1_700_000_000_000]);
    const pax = conf.pax as Record<string, string>;
    assert.deepEqual(xattrValue(pax['SCHILY.xattr.trusted.whalebox']!), Buffer.from([0, 0xff, 0x80]));
    assert.ok(!Object.keys(pax).some((key) => key.includes('trusted.overlay')), 'no overlay xattr in the tar');
    assert.deepEqual([byName.get('etc/copy')!.header.type, byName.get('etc/copy')!.header.linkname], ['link', 'etc/conf']);
    const gone = byName.get('etc/.wh.gone')!.header;
    assert.deepEqual([gone.type, gone.size, gone.mode! & 0o7777], ['file', 0, 0o600]);
    assert.equal(byName.get('var/.wh..wh..opq')!.header.type, 'file');
    assert.ok(!Object.keys((byName.get('var/')!.header.pax ?? {}) as object).length, 'the opaque xattr is not copied');
    assert.equal(byName.get('pipe')!.header.type, 'fifo');
    assert.deepEqual([byName.get('link')!.header.type, byName.get('link')!.header.linkname], ['symlink', '/etc/conf']);

    // The same tree, the same bytes (and so the same diff ID).
    assert.deepEqual(await bytes(packLayer(dir)), await bytes(packLayer(dir)));
  }),
);

test(
  'packMerged shows the union of the layers as overlayfs does',
  withTempDir(async (dir) => {
    const [lower, middle, upper] = ['lower', 'middle', 'upper'].map((name) => join(dir, name)) as [string, string, string];
    for (const layer of [lower, middle, upper]) mkdirSync(layer);
    mkdirSync(join(lower, 'bin'));
    writeFileSync(join(lower, 'bin', 'sh'), 'lower sh');
    writeFileSync(join(lower, 'bin', 'vi'), 'vi');
    mkdirSync(join(lower, 'var', 'cache'), { recursive: true });
    writeFileSync(join(lower, 'var', 'cache', 'old'), '');
    writeFileSync(join(lower, 'file-then-dir'), '');
    mkdirSync(join(middle, 'bin'));
    writeFileSync(join(middle, 'bin', 'sh'), 'middle sh');
    whiteout(join(middle, 'bin', 'vi'));
    mkdirSync(join(middle, 'file-then-dir'));
    writeFileSync(join(middle, 'file-then-dir', 'inside'), '');
    mkdirSync(join(upper, 'var'));
    opaque(join(upper, 'var'));
    writeFileSync(join(upper, 'var', 'new'), 'new');
    writeFileSync(join(upper, 'top'), '');

    const read = await readTar(packMerged([upper, middle, lower]));
    assert.deepEqual(names(read), ['bin/', 'bin/sh', 'file-then-dir/', 'file-then-dir/inside', 'top', 'var/', 'var/new']);
    assert.equal(read.find((entry) => entry.header.name === 'bin/sh')!.content, 'middle sh');
    for (const entry of read) assert.ok(!Object.keys((entry.header.pax ?? {}) as object).length, `${entry.header.name} has no pax records`);

    // GNU tar reads it as it is.
    const out = join(dir, 'tar');
    writeFileSync(out, await bytes(packMerged([upper, middle, lower])));
    const listed = spawnSync('tar', ['-tf', out], { encoding: 'utf8' });
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(listed.stdout.trim().split('\n'), names(read));
  }),
);

test('packLayer fails on a missing directory', async () => {
  await assert.rejects(bytes(packLayer('/nonexistent/whalebox-layer')), /nonexistent\/whalebox-layer: no such file or directory/);
});
