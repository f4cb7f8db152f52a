import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeForFile } from './helpers.js';

const store = storeForFile();

const run = (...args: string[]) => store.wb(['run', '--rm', ...args]);

describe('isolation', () => {
  test('the command is PID 1 of its own PID namespace', () => {
    const r = run('busybox', 'sh', '-c', 'echo $$');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '1\n');
  });

  test('ps inside lists only the container processes', () => {
    const r = run('busybox', 'sh', '-c', 'ps -o pid,comm');
    assert.equal(r.status, 0, r.stderr);
    const pids = r.stdout.trim().split('\n').slice(1).map((line) => Number(line.trim().split(/\s+/)[0]));
    assert.ok(pids.length >= 1 && pids.length <= 2, r.stdout);
    assert.ok(pids.every((pid) => pid <= 3), r.stdout);
  });

  test('the hostname is the short container ID, or -h; the host keeps its own', () => {
    const before = hostname();
    const r = store.wb(['run', '--name', 'hosty', 'busybox', 'hostname']);
    assert.equal(r.status, 0, r.stderr);
    const id = store.containerIds().find((candidate) => readFileSync(join(store.root, 'containers', candidate, 'hostname'), 'utf8').trim() === r.stdout.trim());
    assert.ok(id, `hostname ${r.stdout} is the prefix of a container ID`);
    assert.match(r.stdout, /^[0-9a-f]{12}\n$/);
    assert.equal(run('-h', 'box1', 'busybox', 'hostname').stdout, 'box1\n');
    assert.equal(run('busybox', 'cat', '/etc/hostname').stdout.length, 13);
    assert.equal(hostname(), before);
  });

  test('the default network namespace has lo and eth0 on the bridge, both up, and no host link', () => {
    const r = run('busybox', 'ip', 'link');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^1: lo: <LOOPBACK,UP,LOWER_UP>/);
    assert.match(r.stdout, /^2: eth0@if\d+: <BROADCAST,MULTICAST,UP,LOWER_UP/m);
    assert.doesNotMatch(r.stdout, /^3: /m);
    assert.equal(run('busybox', 'ping', '-c', '1', '-W', '1', '127.0.0.1').status, 0);
  });

  test('--network host sees the host links; none has only lo', () => {
    const hostLinks = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout.trim().split('\n').length;
    const r = run('--network', 'host', 'busybox', 'ip', '-o', 'link');
    assert.equal(r.stdout.trim().split('\n').length, hostLinks);
    assert.equal(run('--network', 'none', 'busybox', 'ip', '-o', 'link').stdout.trim().split('\n').length, 1);
  });

  test('IPC objects do not cross the namespace boundary', () => {
    // SysV: a queue the host makes is not listed inside.
    const made = spawnSync('ipcmk', ['-Q'], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const queueId = /(\d+)/.exec(made.stdout)![1]!;
    try {
      assert.match(spawnSync('cat', ['/proc/sysvipc/msg'], { encoding: 'utf8' }).stdout, new RegExp(`\\s${queueId}\\s`));
      const inside = run('busybox', 'cat', '/proc/sysvipc/msg');
      assert.equal(inside.status, 0, inside.stderr);
      assert.equal(inside.stdout.trim().split('\n').length, 1, inside.stdout);
    } finally {
      spawnSync('ipcrm', ['-q', queueId]);
    }
    // POSIX: a queue the container makes is not in the host's IPC namespace.
    const r = run('busybox', 'sh', '-c', 'touch /dev/mqueue/whalebox-test-q && ls /dev/mqueue');
    assert.equal(r.stdout, 'whalebox-test-q\n', r.stderr);
    const mnt = mkdtempSync(join(tmpdir(), 'whalebox-mq-'));
    try {
      const host = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t mqueue none ${mnt} && ls ${mnt}`], { encoding: 'utf8' });
      assert.equal(host.status, 0, host.stderr);
      assert.doesNotMatch(host.stdout, /whalebox-test-q/);
    } finally {
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  test("Docker's capabilities, masked and read-only paths", () => {
    const r = run('busybox', 'grep', 'CapEff', '/proc/self/status');
    assert.equal(r.stdout, 'CapEff:\t00000000a80425fb\n');
    const kcore = run('busybox', 'sh', '-c', 'head -c 16 /proc/kcore | wc -c');
    assert.equal(kcore.stdout.trim(), '0');
    const sysctl = run('busybox', 'sh', '-c', 'echo evil > /proc/sys/kernel/hostname');
    assert.notEqual(sysctl.status, 0);
    assert.match(sysctl.stderr, /Read-only file system/);
    assert.match(run('busybox', 'ls', '/sys/firmware').stdout, /^$/);
    assert.equal(run('busybox', 'sh', '-c', 'touch /sys/x').status, 1);
  });

  test('/dev is what Docker makes', () => {
    const r = run('busybox', 'sh', '-c', 'ls /dev; ls -l /dev/null; echo x > /dev/null && head -c 4 /dev/urandom | wc -c; readlink /dev/ptmx; mount');
    assert.equal(r.status, 0, r.stderr);
    for (const node of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm', 'mqueue', 'ptmx', 'fd', 'stdin']) {
      assert.match(r.stdout, new RegExp(`^${node}$`, 'm'));
    }
    assert.match(r.stdout, /^crw-rw-rw- +1 root +root +1, +3 /m);
    assert.match(r.stdout, /^4$/m);
    assert.match(r.stdout, /^pts\/ptmx$/m);
    assert.match(r.stdout, /^devpts on \/dev\/pts type devpts .*ptmxmode=666/m);
    assert.match(r.stdout, /^sysfs on \/sys type sysfs \(ro,/m);
    assert.match(r.stdout, /^mqueue on \/dev\/mqueue type mqueue/m);
    assert.match(r.stdout, /^shm on \/dev\/shm type tmpfs/m);
    assert.match(r.stdout, /^overlay on \/ type overlay/m);
  });
});

describe('filesystem', () => {
  test('writes land in the upper dir and the image layer stays byte-for-byte the same', () => {
    const layersDir = join(store.root, 'layers');
    const digest = () => {
      const hash = createHash('sha256');
      const walk = (dir: string): void => {
        for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
          const path = join(dir, entry.name);
          const st = lstatSync(path);
          hash.update(`${path} ${st.mode} ${st.uid}:${st.gid} ${st.mtimeMs} ${st.size}\n`);
          if (st.isSymbolicLink()) hash.update(readlinkSync(path));
          else if (st.isDirectory()) walk(path);
          else if (st.isFile()) hash.update(readFileSync(path));
        }
      };
      walk(layersDir);
      return hash.digest('hex');
    };
    const before = digest();
    const r = store.wb(['run', '--name', 'writer', 'busybox', 'sh', '-c', 'echo data > /newfile; echo extra >> /etc/passwd; rm /bin/vi; mkdir -p /var/x']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(digest(), before);
    const id = store.containerIds().find((c) => existsSync(join(store.root, 'containers', c, 'diff', 'newfile')));
    assert.ok(id, 'the new file is in a container upper dir');
    const upper = join(store.root, 'containers', id, 'diff');
    assert.equal(readFileSync(join(upper, 'newfile'), 'utf8'), 'data\n');
    assert.match(readFileSync(join(upper, 'etc/passwd'), 'utf8'), /extra\n$/);
    assert.ok(statSync(join(upper, 'bin/vi')).isCharacterDevice(), 'a deletion is an overlay whiteout');
    assert.ok(existsSync(join(upper, 'var/x')));
  });

  test('-v persists across runs, :ro refuses writes, a missing host dir is created', () => {
    const host = mkdtempSync(join(tmpdir(), 'whalebox-vol-'));
    try {
      const dir = join(host, 'data');
      assert.equal(run('-v', `${dir}:/data`, 'busybox', 'sh', '-c', 'echo kept > /data/f').status, 0);
      assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'kept\n');
      assert.equal(run('-v', `${dir}:/data`, 'busybox', 'cat', '/data/f').stdout, 'kept\n');
      const ro = run('-v', `${dir}:/data:ro`, 'busybox', 'sh', '-c', 'echo no > /data/g');
      assert.notEqual(ro.status, 0);
      assert.match(ro.stderr, /Read-only file system/);
      writeFileSync(join(host, 'file.txt'), 'single file\n');
      assert.equal(run('-v', `${join(host, 'file.txt')}:/etc/motd:ro`, 'busybox', 'cat', '/etc/motd').stdout, 'single file\n');
    } finally {
      rmSync(host, { recursive: true, force: true });
    }
  });

  test(':ro holds for mounts below the bound directory too, and keeps the source flags', () => {
    const host = mkdtempSync(join(tmpdir(), 'whalebox-vol-'));
    const sub = join(host, 'sub');
    spawnSync('mkdir', [sub]);
    assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'nosuid', 'whalebox-test', sub]).status, 0);
    try {
      const r = run('-v', `${host}:/d:ro`, 'busybox', 'sh', '-c', 'touch /d/sub/f 2>&1; grep " /d/sub " /proc/mounts');
      assert.match(r.stdout, /Read-only file system/);
      assert.match(r.stdout, /\/d\/sub tmpfs ro,nosuid/);
    } finally {
      spawnSync('umount', [sub]);
      rmSync(host, { recursive: true, force: true });
    }
  });

  test('--read-only refuses writes outside volumes and tmpfs', () => {
    const host = mkdtempSync(join(tmpdir(), 'whalebox-vol-'));
    try {
      assert.equal(run('--read-only', '-w', '/made/for/me', 'busybox', 'pwd').stdout, '/made/for/me\n', 'the working directory is made first');
      const r = run('--read-only', '--tmpfs', '/scratch', '-v', `${host}:/data`, 'busybox', 'sh', '-c',
        'touch /x 2>&1; echo a > /scratch/a && echo b > /data/b && cat /scratch/a /data/b');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Read-only file system/);
      assert.match(r.stdout, /^a\nb\n$/m);
      assert.match(run('--tmpfs', '/scratch', 'busybox', 'grep', ' /scratch ', '/proc/mounts').stdout, /tmpfs \/scratch tmpfs rw,nosuid,nodev,noexec/);
    } finally {
      rmSync(host, { recursive: true, force: true });
    }
  });

  test('-w, -e, --env-file, -u and the image config', () => {
    const envFile = join(store.dir, 'env.list');
    writeFileSync(envFile, '# comment\nFROM_FILE=yes\n\nWHALEBOX_TEST_PASS\n');
    process.env.WHALEBOX_TEST_PASS = 'through';
    const r = run('-w', '/tmp/work', '-e', 'A=1', '--env-file', envFile, '-u', 'nobody', 'busybox', 'sh', '-c', 'pwd; echo $A $FROM_FILE $WHALEBOX_TEST_PASS; id; echo $HOME $PATH');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], '/tmp/work');
    assert.equal(lines[1], '1 yes through');
    assert.match(lines[2]!, /^uid=65534\(nobody\) gid=65534/);
    assert.equal(lines[3], '/home /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    assert.match(run('-u', '1000:33', 'busybox', 'id').stdout, /^uid=1000 gid=33/);
    assert.equal(run('-u', 'nobody', 'busybox', 'grep', 'CapEff', '/proc/self/status').stdout, 'CapEff:\t0000000000000000\n');
    assert.equal(run('--entrypoint', 'echo', 'busybox', 'from', 'entrypoint').stdout, 'from entrypoint\n');
  });
});

describe('resource limits (cgroup v1 driver on this host)', () => {
  test('-m 20m kills a 50 MB allocation with 137 and says so', () => {
    const r = run('-m', '20m', 'busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=50M', 'count=1');
    assert.equal(r.status, 137, r.stderr);
    assert.match(r.stderr, /out of memory/);
    assert.equal(run('-m', '100m', 'busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=50M', 'count=1').status, 0);
  });

  test('--cpus 0.5 holds a busy loop to half a CPU, measured by the cgroup', () => {
    const script = [
      'u() { if [ -f /sys/fs/cgroup/cpu.stat ]; then echo $(( $(grep usage_usec /sys/fs/cgroup/cpu.stat | cut -d" " -f2) * 1000 )); else cat /sys/fs/cgroup/cpuacct/cpuacct.usage; fi; }',
      'while :; do :; done & a=$(u); sleep 3; b=$(u); kill $!; echo $(( (b - a) / 3000000 ))',
    ].join('\n');
    const r = run('--cpus', '0.5', 'busybox', 'sh', '-c', script);
    assert.equal(r.status, 0, r.stderr);
    const permille = Number(r.stdout.trim());
    assert.ok(permille >= 425 && permille <= 575, `used ${permille / 10}% of a CPU, expected 50 ±7.5`);
  });

  test('--cpuset-cpus shows in /proc/self/status; --cpu-shares reaches the cgroup', () => {
    assert.match(run('--cpuset-cpus', '1', 'busybox', 'grep', 'Cpus_allowed_list', '/proc/self/status').stdout, /:\t1\n$/);
    assert.equal(run('--cpu-shares', '512', 'busybox', 'cat', '/sys/fs/cgroup/cpu/cpu.shares').stdout, '512\n');
  });

  test('--pids-limit 20 stops a fork bomb', () => {
    const r = run('--pids-limit', '20', 'busybox', 'sh', '-c',
      // The bomb runs in a subshell (a failed fork ends a busybox shell); then only builtins.
      'read max < /sys/fs/cgroup/pids/pids.max; echo $max; (for i in $(seq 40); do sleep 5 & done); read current < /sys/fs/cgroup/pids/pids.current; echo $current');
    const [max, current] = r.stdout.trim().split('\n');
    assert.equal(max, '20');
    assert.ok(Number(current) <= 20, r.stdout);
    assert.match(r.stderr, /fork|Resource temporarily unavailable/);
  });
});

describe('exit status', () => {
  test('the container status passes through', () => {
    assert.equal(run('busybox', 'true').status, 0);
    assert.equal(run('busybox', 'sh', '-c', 'exit 3').status, 3);
  });

  test('126 for a command that cannot be run, 127 for one not found', () => {
    const notExec = run('busybox', '/etc/passwd');
    assert.equal(notExec.status, 126);
    assert.match(notExec.stderr, /permission denied/i);
    const missing = run('busybox', 'no-such-command');
    assert.equal(missing.status, 127);
    assert.equal(missing.stderr, 'whalebox: exec: "no-such-command": executable file not found in $PATH\n');
  });

  test('128+N when PID 1 dies of signal N; SIGKILL from the host gives 137', async () => {
    // Unbounded recursion overflows the stack: the kernel's SIGSEGV kills even a PID 1.
    assert.equal(run('busybox', 'sh', '-c', 'f() { f; }; f').status, 139);
    const child = store.spawn(['run', '--rm', '--name', 'victim', 'busybox', 'sh', '-c', 'echo ready; sleep 30']);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const id = store.containerIds().find((c) => readFileSync(join(store.root, 'containers', c, 'config.json'), 'utf8').includes('sleep 30'));
    assert.ok(id);
    const procsFile = `${store.cgroups().find((c) => c.endsWith(id))!}/cgroup.procs`;
    const procs = readFileSync(procsFile, 'utf8').trim().split('\n');
    process.kill(Number(procs[0]), 'SIGKILL');
    const status = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(status, 137);
  });

  test('signals sent to the CLI reach the container', async () => {
    const child = store.spawn(['run', '--rm', 'busybox', 'sh', '-c', 'trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGTERM');
    const status = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(status, 7);
    assert.match(out, /got TERM/);
  });

  test('stdout and stderr stay separate; stdin only with -i', () => {
    const r = run('busybox', 'sh', '-c', 'echo out; echo err >&2');
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(store.wb(['run', '--rm', '-i', 'busybox', 'cat'], { input: 'piped\n' }).stdout, 'piped\n');
    assert.equal(store.wb(['run', '--rm', 'busybox', 'cat'], { input: 'piped\n' }).stdout, '');
  });
});

describe('--trace', () => {
  test('prints every launch step with its duration, and a failing step by name', () => {
    const r = run('--trace', 'busybox', 'true');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^\[trace\] +\d+\.\d{3} ms  pivot-root +pivot_root into the root filesystem$/m);
    assert.match(r.stderr, /^\[trace\] +\d+\.\d{3} ms  total/m);
    const failed = run('--trace', '-w', '/etc/passwd', 'busybox', 'true');
    assert.equal(failed.status, 125);
    assert.match(failed.stderr, /FAILED mkdirs +create the working directory \/etc\/passwd/);
    assert.match(failed.stderr, /^whalebox: failed to start the container: create the working directory \/etc\/passwd: .*\(ENOTDIR\)$/m);
  });
});

describe('bad input: one clear line and status 125', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown flag', ['--bogus', 'busybox', 'true'], /unknown flag: --bogus/],
    ['unknown image', ['--pull', 'never', 'no-such-image', 'true'], /No such image: no-such-image:latest/],
    ['bad memory', ['-m', '10x', 'busybox', 'true'], /invalid argument "10x" for "--memory" flag/],
    ['negative cpus', ['--cpus', '-1', 'busybox', 'true'], /"--cpus" flag/],
    ['relative volume', ['-v', 'relative:path', 'busybox', 'true'], /invalid volume specification: 'relative:path'/],
    ['missing command', ['busybox'], /No command specified/],
    ['duplicate name', ['--name', 'hosty', 'busybox', 'true'], /Conflict\. The container name "\/hosty" is already in use/],
    ['unknown user', ['-u', 'ghost', 'busybox', 'true'], /unable to find user ghost/],
  ];
  for (const [what, args, message] of cases) {
    test(what, () => {
      const r = store.wb(['run', ...args]);
      assert.equal(r.status, 125, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('See ')).length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    });
  }

  test('a failed start leaves nothing behind', () => {
    const before = store.containerIds().length;
    assert.equal(store.wb(['run', 'busybox', 'no-such-command']).status, 127);
    assert.equal(store.containerIds().length, before);
  });
});

describe('cleanup when the CLI dies', () => {
  test('the shim runs the exit command: cgroup and --rm directory go away', async () => {
    const before = new Set(store.containerIds());
    const child = store.spawn(['run', '--rm', 'busybox', 'sh', '-c', 'echo ready; sleep 1']);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const id = store.containerIds().find((c) => !before.has(c));
    assert.ok(id);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (store.containerIds().includes(id) || store.cgroups().some((c) => c.endsWith(id)))) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(!store.containerIds().includes(id), 'the container directory is gone');
    assert.deepEqual(store.cgroups().filter((c) => c.endsWith(id)), []);
  });
});

describe('mount propagation', () => {
  test('pivot_root works and nothing leaks on a host with shared propagation', () => {
    const r = spawnSync('unshare', ['-m', '--propagation', 'shared', process.execPath, ...store.args(['run', '--rm', 'busybox', 'sh', '-c', 'cat /proc/1/mountinfo | wc -l'])], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Number(r.stdout.trim()) > 5);
  });
});
