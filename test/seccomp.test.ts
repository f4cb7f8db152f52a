import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeForFile } from './helpers.js';

const store = storeForFile();
const run = (...args: string[]) => store.wb(['run', '--rm', '--network', 'none', ...args]);

/**
 * A static program, bind-mounted into containers, that makes the calls Docker's profile is about
 * and prints `NAME ERRNO` for each one named on its command line (0: the call worked).
 */
const PROBE = `#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static long call(const char *name)
{
	if (!strcmp(name, "keyctl")) /* KEYCTL_GET_KEYRING_ID of the session keyring */
		return syscall(SYS_keyctl, 0, -3, 0);
	if (!strcmp(name, "add_key"))
		return syscall(SYS_add_key, "user", "whalebox-test", "x", 1, -3);
	if (!strcmp(name, "request_key"))
		return syscall(SYS_request_key, "user", "whalebox-test", NULL, 0);
	if (!strcmp(name, "bpf")) /* BPF_MAP_CREATE, no attributes */
		return syscall(SYS_bpf, 0, NULL, 0);
	if (!strcmp(name, "mount"))
		return mount("none", "/mnt", "tmpfs", 0, NULL);
	if (!strcmp(name, "unshare"))
		return unshare(CLONE_NEWUSER);
	if (!strcmp(name, "clone3")) /* no arguments: EINVAL when the kernel sees it */
		return syscall(SYS_clone3, NULL, 0);
	if (!strcmp(name, "socket-vsock"))
		return socket(40, SOCK_STREAM, 0);
	if (!strcmp(name, "personality-bsd"))
		return syscall(SYS_personality, 6);
	if (!strcmp(name, "getpid"))
		return syscall(SYS_getpid);
	return -1;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		errno = 0;
		long r = call(argv[i]);
		printf("%s %d\\n", argv[i], r < 0 ? errno : 0);
	}
	return 0;
}
`;

const probeDir = mkdtempSync(join(tmpdir(), 'whalebox-seccomp-probe-'));
before(() => {
  writeFileSync(join(probeDir, 'probe.c'), PROBE);
  const cc = spawnSync('cc', ['-static', '-O2', '-o', join(probeDir, 'probe'), join(probeDir, 'probe.c')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
});
after(() => rmSync(probeDir, { recursive: true, force: true }));

/** The errno of each call, made inside a container run with OPTIONS. */
function probe(options: string[], calls: string[]): Record<string, number> {
  const r = run('-v', `${probeDir}:/probe:ro`, ...options, 'busybox', '/probe/probe', ...calls);
  assert.equal(r.status, 0, r.stderr);
  return Object.fromEntries(r.stdout.trim().split('\n').map((line) => [line.split(' ')[0]!, Number(line.split(' ')[1])]));
}

const EPERM = 1;
const ENOSYS = 38;
const EINVAL = 22;

/** `Seccomp:` of /proc/PID/status: 2 is filter mode. */
function seccompMode(options: string[], pid = '1'): string {
  const r = run(...options, 'busybox', 'sh', '-c', `grep -E '^Seccomp:' /proc/${pid}/status`);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split(/\s+/)[1]!;
}

describe("Docker's default profile", () => {
  test('keyrings, bpf, mount and new namespaces are refused with EPERM, clone3 with ENOSYS', () => {
    const calls = ['keyctl', 'add_key', 'request_key', 'bpf', 'mount', 'unshare', 'clone3', 'socket-vsock', 'personality-bsd', 'getpid'];
    assert.deepEqual(probe([], calls), {
      keyctl: EPERM,
      add_key: EPERM,
      request_key: EPERM,
      bpf: EPERM,
      mount: EPERM,
      unshare: EPERM,
      // ENOSYS, so that a C library falls back to clone, which the profile checks for namespace flags.
      clone3: ENOSYS,
      'socket-vsock': EPERM,
      'personality-bsd': EPERM,
      getpid: 0,
    });
  });

  test("busybox's unshare and mount fail", () => {
    const r = run('busybox', 'sh', '-c', 'unshare -U true; echo "unshare $?"; mount -t tmpfs none /mnt; echo "mount $?"');
    assert.match(r.stdout, /^unshare [1-9]\d*\nmount [1-9]\d*\n$/);
    assert.match(r.stderr, /unshare: unshare\(0x10000000\): Operation not permitted/);
  });

  test('ordinary work is untouched: shell, applets, a server and its client on loopback', () => {
    const script = [
      'set -e',
      'mkdir -p /www/sub && echo hello > /www/index.html',
      'echo b a c | tr " " "\\n" | sort | tr -d "\\n"; echo',
      'echo -n abc | md5sum | cut -c1-8',
      'tar -C /www -cf /tmp/www.tar . && tar -tf /tmp/www.tar | grep -c index',
      // PID 1 only: a pipeline's forks are named sh too until they exec.
      "ps -o pid,comm | awk '$1 == 1 { print $2 }' | grep -c sh",
      'httpd -p 127.0.0.1:8080 -h /www',
      'wget -qO- http://127.0.0.1:8080/index.html',
      'sleep 0.1 & wait',
      'chroot / true && echo chroot-ok',
    ].join('\n');
    const r = run('busybox', 'sh', '-c', script);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'abc\n90015098\n1\n1\nhello\nchroot-ok\n');
  });

  test('the filter is in force (Seccomp: 2) for root, another user and no-new-privileges', () => {
    assert.equal(seccompMode([]), '2');
    assert.equal(seccompMode(['--user', '1000:1000']), '2');
    const r = run('--security-opt', 'no-new-privileges', 'busybox', 'sh', '-c', 'grep -E "^(Seccomp|NoNewPrivs):" /proc/1/status; unshare -U true');
    assert.match(r.stdout, /NoNewPrivs:\s+1\nSeccomp:\s+2\n/);
    assert.notEqual(r.status, 0);
  });

  test('--cap-add SYS_ADMIN opens what the profile gives that capability', () => {
    assert.deepEqual(probe(['--cap-add', 'SYS_ADMIN'], ['unshare', 'clone3']), { unshare: 0, clone3: EINVAL });
  });
});

describe('seccomp=unconfined and --privileged', () => {
  test('unconfined: no filter, and namespaces can be made', () => {
    assert.equal(seccompMode(['--security-opt', 'seccomp=unconfined']), '0');
    const r = run('--security-opt', 'seccomp=unconfined', 'busybox', 'unshare', '-U', 'true');
    assert.equal(r.status, 0, r.stderr);
    // What the profile answered is now the kernel's: a keyring, and clone3's own complaint.
    assert.deepEqual(probe(['--security-opt', 'seccomp=unconfined'], ['keyctl', 'clone3']), { keyctl: 0, clone3: EINVAL });
  });

  test('--privileged has no filter', () => {
    assert.equal(seccompMode(['--privileged']), '0');
  });
});

describe('a profile file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'whalebox-seccomp-profiles-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const profile = (name: string, content: string): string => {
    const file = join(dir, name);
    writeFileSync(file, content);
    return file;
  };

  test("a profile that denies mkdir makes mkdir fail with the profile's errno", () => {
    const file = profile(
      'no-mkdir.json',
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
          { names: ['rmdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 28 },
        ],
      }),
    );
    const r = run('--security-opt', `seccomp=${file}`, 'busybox', 'sh', '-c', 'mkdir /x; rmdir /tmp; unshare -U true && echo unshare-ok');
    assert.match(r.stderr, /mkdir: can't create directory '\/x': Operation not permitted/);
    assert.match(r.stderr, /rmdir: '\/tmp': No space left on device/);
    // Everything else is allowed by this profile.
    assert.equal(r.stdout, 'unshare-ok\n');
  });

  test('a malformed profile is refused before anything runs, with exit status 125', () => {
    const r = run('--security-opt', `seccomp=${profile('bad.json', '{"defaultAction": "SCMP_ACT_ALLOW",')}`, 'busybox', 'true');
    assert.equal(r.status, 125);
    assert.match(r.stderr, /Decoding seccomp profile failed: /);
    const wrongType = run('--security-opt', `seccomp=${profile('type.json', '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "mkdir"}]}')}`, 'busybox', 'true');
    assert.equal(wrongType.status, 125);
    assert.match(wrongType.stderr, /Decoding seccomp profile failed: syscalls\[0\]\.names: expected a list/);
    assert.deepEqual(store.wb(['ps', '-aq']).stdout, '');
  });
});

describe('exec', () => {
  test("exec gets the container's filter; exec --privileged goes without", () => {
    const started = store.wb(['run', '-d', '--name', 'sc-exec', '--network', 'none', 'busybox', 'sleep', '300']);
    assert.equal(started.status, 0, started.stderr);
    try {
      const plain = store.wb(['exec', 'sc-exec', 'sh', '-c', 'grep -E "^Seccomp:" /proc/self/status; unshare -U true']);
      assert.match(plain.stdout, /^Seccomp:\s+2\n$/);
      assert.notEqual(plain.status, 0);
      assert.match(plain.stderr, /Operation not permitted/);
      const privileged = store.wb(['exec', '--privileged', 'sc-exec', 'sh', '-c', 'grep -E "^Seccomp:" /proc/self/status; unshare -U true']);
      assert.equal(privileged.status, 0, privileged.stderr);
      assert.match(privileged.stdout, /^Seccomp:\s+0\n$/);
    } finally {
      store.wb(['rm', '-f', 'sc-exec']);
    }
  });

  test('an unconfined container stays unconfined in exec', () => {
    const started = store.wb(['run', '-d', '--name', 'sc-exec-unconfined', '--security-opt', 'seccomp=unconfined', '--network', 'none', 'busybox', 'sleep', '300']);
    assert.equal(started.status, 0, started.stderr);
    try {
      const r = store.wb(['exec', 'sc-exec-unconfined', 'unshare', '-U', 'true']);
      assert.equal(r.status, 0, r.stderr);
    } finally {
      store.wb(['rm', '-f', 'sc-exec-unconfined']);
    }
  });
});
