import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { mountsUnder, storeForFile } from './helpers.js';

const store = storeForFile();
/** The host tree copied around: a subdirectory, a 0750 file owned by 1234:5678, a symlink, an empty file. */
let tree: string;
let hostOnly: string;

before(() => {
  tree = join(store.dir, 'src', 'tree');
  mkdirSync(join(tree, 'sub'), { recursive: true });
  writeFileSync(join(tree, 'sub', 'secret'), 'secret\n');
  chownSync(join(tree, 'sub', 'secret'), 1234, 5678);
  chmodSync(join(tree, 'sub', 'secret'), 0o750);
  chmodSync(join(tree, 'sub'), 0o700);
  symlinkSync('sub/secret', join(tree, 'link'));
  writeFileSync(join(tree, 'empty'), '');
  const then = new Date('2021-02-03T04:05:06Z');
  lutimesSync(join(tree, 'link'), then, then);
  for (const path of ['sub/secret', 'empty', 'sub', '.']) utimesSync(join(tree, path), then, then);
  hostOnly = join(store.dir, 'host-only');
  writeFileSync(hostOnly, 'the host file\n');
});

after(() => assert.deepEqual(helpers(), [], 'no mount helper is left'));

/** Processes still holding a stopped container's private mount (`unshare` … this store …). */
function helpers(): string[] {
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      } catch {
        return '';
      }
    })
    .filter((cmdline) => cmdline.includes(store.dir) && /\bmount -t overlay\b/.test(cmdline));
}

/** One line per file: path, mode, owner, mtime (seconds), and contents or link target. */
function describeTree(root: string): string[] {
  const lines: string[] = [];
  const visit = (relative: string): void => {
    const path = join(root, relative);
    const stat = lstatSync(path);
    const what = stat.isSymbolicLink() ? `-> ${readlinkSync(path)}` : stat.isFile() ? JSON.stringify(readFileSync(path, 'utf8')) : 'dir';
    lines.push(`${relative || '.'} ${(stat.mode & 0o7777).toString(8)} ${stat.uid}:${stat.gid} ${Math.floor(stat.mtimeMs / 1000)} ${what}`);
    if (stat.isDirectory()) for (const name of readdirSync(path).sort()) visit(relative ? `${relative}/${name}` : name);
  };
  visit('');
  return lines;
}

/** `stat` inside the container (as root): name, mode, owner, size and type of each path. */
function statIn(container: string, ...paths: string[]): string[] {
  const r = store.wb(['exec', '-u', '0', container, 'stat', '-c', '%n %a %u:%g %s %F', ...paths]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n');
}

function catIn(container: string, path: string): string {
  const r = store.wb(['exec', container, 'cat', path]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function cp(...args: string[]): void {
  const r = store.wb(['cp', ...args]);
  assert.equal(r.status, 0, `cp ${args.join(' ')}: ${r.stderr}`);
  assert.equal(r.stdout, '');
}

/** `cp` that must fail as Docker does: status 1 and this message. */
function cpFails(message: string | RegExp, ...args: string[]): void {
  const r = store.wb(['cp', ...args]);
  assert.equal(r.status, 1, `cp ${args.join(' ')} should fail: ${r.stdout}${r.stderr}`);
  if (typeof message === 'string') assert.equal(r.stderr, `whalebox: ${message}\n`);
  else assert.match(r.stderr, message);
}

/** A tar made here, entry by entry. */
async function tarOf(entries: Array<{ header: Parameters<ReturnType<typeof pack>['entry']>[0]; contents?: string }>): Promise<Buffer> {
  const archive = pack();
  for (const { header, contents } of entries) archive.entry(header, contents ?? '');
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const hostDir = (name: string): string => join(store.dir, name);

describe('cp with a running container', () => {
  before(() => {
    const r = store.wb(['run', '-d', '--name', 'web', 'busybox', 'sleep', '300']);
    assert.equal(r.status, 0, r.stderr);
  });

  test('-a copies a tree in and back out: modes, owners, times, links and contents unchanged', () => {
    cp('-a', tree, 'web:/tree');
    assert.deepEqual(statIn('web', '/tree', '/tree/sub', '/tree/sub/secret', '/tree/link', '/tree/empty'), [
      '/tree 755 0:0 4096 directory',
      '/tree/sub 700 0:0 4096 directory',
      '/tree/sub/secret 750 1234:5678 7 regular file',
      '/tree/link 777 0:0 10 symbolic link',
      '/tree/empty 644 0:0 0 regular empty file',
    ]);
    assert.equal(catIn('web', '/tree/link'), 'secret\n');

    cp('-a', 'web:/tree', hostDir('out'));
    assert.deepEqual(describeTree(hostDir('out')), describeTree(tree));

    // `dir/.` into an existing directory copies the contents, and leaves the directory as it is.
    mkdirSync(hostDir('contents'), { mode: 0o711 });
    cp('-a', 'web:/tree/.', hostDir('contents'));
    assert.deepEqual(describeTree(hostDir('contents')).slice(1), describeTree(tree).slice(1));
    assert.equal(lstatSync(hostDir('contents')).mode & 0o777, 0o711);
  });

  test("Docker's destination rules", () => {
    cp(join(tree, 'empty'), 'web:/tmp'); // into an existing directory, under its own name
    cp(join(tree, 'sub', 'secret'), 'web:/tmp/renamed'); // a new file, in an existing directory
    cp(tree, 'web:/newdir'); // a new directory with the source's contents
    cp(tree, 'web:/tmp/'); // a directory into an existing one
    cp(join(tree, 'sub', 'secret'), 'web:/tmp/empty'); // a file over a file
    assert.deepEqual(statIn('web', '/tmp/renamed', '/newdir/sub/secret', '/tmp/tree/link', '/tmp/empty'), [
      '/tmp/renamed 750 0:0 7 regular file',
      '/newdir/sub/secret 750 0:0 7 regular file',
      '/tmp/tree/link 777 0:0 10 symbolic link',
      '/tmp/empty 750 0:0 7 regular file',
    ]);
    cpFails('no such directory', join(tree, 'empty'), 'web:/nodir/');
    cpFails('cannot copy directory', tree, 'web:/tmp/renamed');

    // Out, the same rules; without -a the copies belong to whoever copies.
    mkdirSync(hostDir('rules'));
    cp('web:/etc/hostname', hostDir('rules'));
    cp('web:/tmp/renamed', join(hostDir('rules'), 'named'));
    cp('web:/newdir', join(hostDir('rules'), 'dir'));
    assert.equal(readFileSync(join(hostDir('rules'), 'hostname'), 'utf8'), catIn('web', '/etc/hostname'));
    assert.deepEqual(describeTree(join(hostDir('rules'), 'dir')).slice(1), describeTree(tree).slice(1).map((line) => line.replace('1234:5678', '0:0')));
    assert.equal(lstatSync(join(hostDir('rules'), 'named')).mode & 0o7777, 0o750);
    cpFails(`invalid output path: directory "${hostDir('nowhere')}" does not exist`, 'web:/etc/hostname', join(hostDir('nowhere'), 'x'));
  });

  test("without -a, what is copied in belongs to the container's user", () => {
    const r = store.wb(['run', '-d', '--name', 'user', '-u', '4321:8765', 'busybox', 'sleep', '300']);
    assert.equal(r.status, 0, r.stderr);
    cp(tree, 'user:/tmp/t');
    assert.deepEqual(statIn('user', '/tmp/t', '/tmp/t/sub/secret'), ['/tmp/t 755 4321:8765 4096 directory', '/tmp/t/sub/secret 750 4321:8765 7 regular file']);
    cp('-a', tree, 'user:/tmp/a');
    assert.deepEqual(statIn('user', '/tmp/a/sub/secret'), ['/tmp/a/sub/secret 750 1234:5678 7 regular file']);
    assert.equal(store.wb(['rm', '-f', 'user']).status, 0);
  });

  test("the container's symlinks are followed inside the container only", async () => {
    for (const [target, link] of [['/etc', '/evil'], ['../../../../../etc/passwd', '/up'], [hostOnly, '/hostlink']]) {
      assert.equal(store.wb(['exec', 'web', 'ln', '-s', target!, link!]).status, 0);
    }
    const passwd = catIn('web', '/etc/passwd');
    assert.notEqual(passwd, readFileSync('/etc/passwd', 'utf8'));

    cp('web:/evil/passwd', hostDir('passwd'));
    assert.equal(readFileSync(hostDir('passwd'), 'utf8'), passwd);
    cp('-L', 'web:/up', hostDir('up'));
    assert.equal(readFileSync(hostDir('up'), 'utf8'), passwd);
    cp('web:/up', hostDir('up-link')); // without -L, the link itself
    assert.equal(readlinkSync(hostDir('up-link')), '../../../../../etc/passwd');
    cpFails('No such container:path: web:/hostlink', '-L', 'web:/hostlink', hostDir('x'));

    const name = `whalebox-cp-test-${process.pid}`;
    cp(join(tree, 'sub', 'secret'), `web:/evil/${name}`);
    assert.equal(existsSync(`/etc/${name}`), false, 'nothing was written on the host');
    assert.equal(catIn('web', `/etc/${name}`), 'secret\n');
    // A tar cannot plant a symlink and write through it either.
    const planted = await tarOf([
      { header: { name: 'out/l', type: 'symlink', linkname: '/etc' } },
      { header: { name: `out/l/${name}-2`, type: 'file' }, contents: 'x\n' },
    ]);
    assert.equal(store.wb(['exec', 'web', 'mkdir', '/planted']).status, 0);
    const r = spawnSync(process.execPath, store.args(['cp', '-', 'web:/planted']), { input: planted });
    assert.equal(r.status, 1);
    assert.match(String(r.stderr), /refusing to write through web:\/planted\/out\/l, a symbolic link from the copied archive/);
    assert.equal(store.wb(['exec', 'web', 'test', '-e', `/etc/${name}-2`]).status, 1);
  });

  test('- streams a tar to stdout, and from stdin into a directory', () => {
    const out = spawnSync(process.execPath, store.args(['cp', 'web:/etc/hostname', '-']));
    assert.equal(out.status, 0, String(out.stderr));
    const listing = spawnSync('tar', ['-tvf', '-'], { input: out.stdout, encoding: 'utf8' });
    assert.match(listing.stdout, /^-rw-r--r-- 0\/0 +13 \S+ \S+ hostname\n$/);
    const contents = spawnSync('tar', ['-xOf', '-', 'hostname'], { input: out.stdout, encoding: 'utf8' });
    assert.equal(contents.stdout, catIn('web', '/etc/hostname'));

    const archive = spawnSync('tar', ['-cf', '-', '-C', join(tree, '..'), 'tree']);
    assert.equal(store.wb(['exec', 'web', 'mkdir', '/fromtar']).status, 0);
    const r = spawnSync(process.execPath, store.args(['cp', '-a', '-', 'web:/fromtar']), { input: archive.stdout });
    assert.equal(r.status, 0, String(r.stderr));
    assert.deepEqual(statIn('web', '/fromtar/tree/sub/secret', '/fromtar/tree/link'), [
      '/fromtar/tree/sub/secret 750 1234:5678 7 regular file',
      '/fromtar/tree/link 777 0:0 10 symbolic link',
    ]);
    cpFails('destination "web:/etc/hostname" must be a directory', '-', 'web:/etc/hostname');

    // The whole root: the container's /proc, /sys and /dev are mount points only, as for Docker.
    const root = spawnSync(process.execPath, store.args(['cp', 'web:/', '-']), { maxBuffer: 1 << 30 });
    assert.equal(root.status, 0, String(root.stderr));
    const names = spawnSync('tar', ['-tf', '-'], { input: root.stdout, encoding: 'utf8', maxBuffer: 1 << 30 }).stdout.split('\n');
    for (const name of ['./', './bin/busybox', './etc/passwd', './etc/hostname', './proc/', './sys/', './dev/']) assert.ok(names.includes(name), name);
    assert.deepEqual(names.filter((name) => /^\.\/(proc|sys|dev)\/./.test(name)), []);
  });

  test('errors name what is missing, with status 1', () => {
    cpFails('No such container:path: web:/nope', 'web:/nope', hostDir('nope'));
    cpFails(`lstat ${hostDir('nope')}: no such file or directory`, hostDir('nope'), 'web:/x');
    cpFails('Could not find the file /nope in container web', join(tree, 'empty'), 'web:/nope/x');
    cpFails('No such container: nosuch', 'nosuch:/x', hostDir('x'));
    cpFails('must specify at least one container source', tree, hostDir('x'));
    cpFails('copying between containers is not supported', 'web:/a', 'web:/b');
    // A file bind-mounted into the container is not replaced (which would unmount it there).
    cpFails('web:/etc/hostname: device or resource busy', join(tree, 'empty'), 'web:/etc/hostname');
    assert.match(catIn('web', '/proc/self/mountinfo'), / \/etc\/hostname /);
  });

  test('read-only root and volumes refuse copies, as in Docker', () => {
    const volume = hostDir('ro-volume');
    mkdirSync(volume);
    const r = store.wb(['run', '-d', '--name', 'ro', '--read-only', '-v', `${volume}:/vol:ro`, 'busybox', 'sleep', '300']);
    assert.equal(r.status, 0, r.stderr);
    cpFails('container rootfs is marked read-only', join(tree, 'empty'), 'ro:/tmp');
    cpFails('mounted volume is marked read-only', join(tree, 'empty'), 'ro:/vol');
    assert.equal(store.wb(['rm', '-f', 'ro']).status, 0);
  });
});

describe('cp with a stopped container', () => {
  test('copies out of and into its filesystem and volumes; nothing stays mounted', () => {
    const volume = hostDir('volume');
    mkdirSync(volume);
    writeFileSync(join(volume, 'v.txt'), 'in the volume\n');
    const r = store.wb(['run', '-d', '--name', 'stopped', '-v', `${volume}:/data`, 'busybox', 'sleep', '300']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(store.wb(['exec', 'stopped', 'sh', '-c', 'echo made > /made && ln -s /etc /evil']).status, 0);
    const passwd = catIn('stopped', '/etc/passwd');
    const hostname = catIn('stopped', '/etc/hostname');
    assert.equal(store.wb(['stop', '-t', '0', 'stopped']).status, 0);

    cp('stopped:/made', hostDir('made'));
    assert.equal(readFileSync(hostDir('made'), 'utf8'), 'made\n');
    cp('stopped:/evil/passwd', hostDir('stopped-passwd'));
    assert.equal(readFileSync(hostDir('stopped-passwd'), 'utf8'), passwd);
    cp('stopped:/data/v.txt', hostDir('v.txt'));
    assert.equal(readFileSync(hostDir('v.txt'), 'utf8'), 'in the volume\n');
    cp('stopped:/etc/hostname', hostDir('stopped-hostname'));
    assert.equal(readFileSync(hostDir('stopped-hostname'), 'utf8'), hostname);
    cpFails('No such container:path: stopped:/nope', 'stopped:/nope', hostDir('x'));

    cp('-a', tree, 'stopped:/tree');
    cp(join(tree, 'sub', 'secret'), 'stopped:/data/copied');
    assert.equal(readFileSync(join(volume, 'copied'), 'utf8'), 'secret\n');
    cp('-a', 'stopped:/tree', hostDir('stopped-out'));
    assert.deepEqual(describeTree(hostDir('stopped-out')), describeTree(tree));
    assert.deepEqual(mountsUnder(store.dir), []);
    assert.deepEqual(helpers(), []);

    // What was copied in is in the container's own upper layer, and there when it runs again.
    assert.equal(store.wb(['start', 'stopped']).status, 0);
    assert.deepEqual(statIn('stopped', '/tree/sub/secret'), ['/tree/sub/secret 750 1234:5678 7 regular file']);
    assert.equal(store.wb(['rm', '-f', 'stopped']).status, 0);
  });
});
