// Integration tests of the privilege flags of `run` and `exec`: capabilities, --privileged,
// no-new-privileges, --ulimit, --oom-score-adj and --sysctl, checked from inside the container.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { storeForFile, type Result } from './helpers.js';

const store = storeForFile();

function run(...args: string[]): Result {
  return store.wb(['run', '--rm', '--network', 'none', ...args]);
}

function ok(...args: string[]): string {
  const result = run(...args);
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

/** A field of /proc/self/status as the container's shell sees it. */
function status(field: string, ...flags: string[]): string {
  return ok(...flags, 'busybox', 'sh', '-c', `grep '^${field}:' /proc/self/status | cut -f2`).trim();
}

const hostBounding = /^CapBnd:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;

describe('capabilities', () => {
  test("Docker's 14 by default; --cap-drop ALL leaves none; --privileged has what the host grants", () => {
    assert.equal(status('CapEff'), '00000000a80425fb');
    assert.equal(status('CapEff', '--cap-drop', 'ALL'), '0000000000000000');
    assert.equal(status('CapBnd', '--cap-drop', 'ALL'), '0000000000000000');
    assert.equal(status('CapEff', '--privileged'), hostBounding);
  });

  test('--cap-add NET_ADMIN lets the container make a network link; without it, it cannot', () => {
    const add = ['busybox', 'ip', 'link', 'add', 'wbtest0', 'type', 'bridge'];
    const denied = run(...add);
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /Operation not permitted/);
    ok('--cap-add', 'NET_ADMIN', ...add);
    ok('--cap-add', 'cap_net_admin', ...add);
  });

  test('--cap-drop takes from the defaults, names with or without CAP_; ALL then --cap-add gives only that', () => {
    // CAP_CHOWN is bit 0, CAP_NET_RAW bit 13.
    assert.equal(status('CapEff', '--cap-drop', 'CHOWN', '--cap-drop', 'CAP_NET_RAW'), '00000000a80405fa');
    assert.equal(status('CapEff', '--cap-drop', 'ALL', '--cap-add', 'KILL'), '0000000000000020');
    const unknown = run('--cap-add', 'NOPE', 'busybox', 'true');
    assert.equal(unknown.status, 125);
    assert.match(unknown.stderr, /unknown capability: "NOPE"/);
  });

  test('exec gets the container\'s capabilities, or every one with --privileged', () => {
    const started = store.wb(['run', '-d', '--network', 'none', '--cap-drop', 'ALL', 'busybox', 'sleep', '60']);
    assert.equal(started.status, 0, started.stderr);
    const id = started.stdout.trim();
    try {
      const grep = ['sh', '-c', "grep '^CapEff:' /proc/self/status | cut -f2"];
      assert.equal(store.wb(['exec', id, ...grep]).stdout.trim(), '0000000000000000');
      assert.equal(store.wb(['exec', '--privileged', id, ...grep]).stdout.trim(), hostBounding);
    } finally {
      store.wb(['rm', '-f', id]);
    }
  });
});

describe('privileged and no-new-privileges', () => {
  test('--privileged leaves /sys and /proc/sys writable and masks nothing', () => {
    const mounts = (...flags: string[]): string => ok(...flags, 'busybox', 'sh', '-c', "grep -E ' /(sys|proc/sys) ' /proc/self/mounts | cut -d' ' -f2,4 | cut -d, -f1");
    assert.equal(mounts(), '/sys ro\n/proc/sys ro\n');
    assert.equal(mounts('--privileged'), '/sys rw\n');
    // /proc/keys is masked (/dev/null bound over it) except under --privileged.
    const keys = (...flags: string[]): string => ok(...flags, 'busybox', 'sh', '-c', 'test -c /proc/keys && echo masked || echo visible');
    assert.equal(keys(), 'masked\n');
    assert.equal(keys('--privileged'), 'visible\n');
  });

  test('--security-opt no-new-privileges sets no_new_privs', () => {
    assert.equal(status('NoNewPrivs'), '0');
    assert.equal(status('NoNewPrivs', '--security-opt', 'no-new-privileges'), '1');
    assert.equal(status('NoNewPrivs', '--security-opt', 'no-new-privileges:true'), '1');
    const bad = run('--security-opt', 'bogus', 'busybox', 'true');
    assert.equal(bad.status, 125);
  });
});

describe('limits and kernel settings', () => {
  test('--ulimit sets soft and hard limits; one above what this host allows is a clear error', () => {
    assert.equal(ok('--ulimit', 'nofile=1024:2048', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn'), '1024\n2048\n');
    assert.equal(ok('--ulimit', 'nproc=500', 'busybox', 'sh', '-c', 'ulimit -u; ulimit -Hu'), '500\n500\n');
    const hard = Number(/^Max open files\s+\S+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
    const above = run('--ulimit', `nofile=${hard + 1}:${hard + 1}`, 'busybox', 'true');
    const caps = BigInt(`0x${/^CapEff:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);
    if ((caps & (1n << 24n)) === 0n) {
      assert.equal(above.status, 125, 'this host cannot raise hard limits');
      assert.match(above.stderr, /--ulimit nofile: the hard limit \d+ is above .* CAP_SYS_RESOURCE/);
    } else {
      assert.equal(above.status, 0, above.stderr);
    }
    for (const bad of ['nofile=2:1', 'bogus=1', 'nofile']) assert.equal(run('--ulimit', bad, 'busybox', 'true').status, 125, bad);
  });

  test('--oom-score-adj', () => {
    assert.equal(ok('--oom-score-adj', '500', 'busybox', 'cat', '/proc/self/oom_score_adj'), '500\n');
    const bad = run('--oom-score-adj', '1001', 'busybox', 'true');
    assert.equal(bad.status, 125);
    assert.match(bad.stderr, /range for oom score adj is \[-1000, 1000\]/);
  });

  test('--sysctl for namespaced settings; host-wide ones refused with Docker\'s message', () => {
    const shown = ok('--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.shmmax=1048576', 'busybox', 'cat', '/proc/sys/net/ipv4/ip_forward', '/proc/sys/kernel/shmmax');
    assert.equal(shown, '1\n1048576\n');
    const hostWide = run('--sysctl', 'kernel.panic=1', 'busybox', 'true');
    assert.equal(hostWide.status, 125);
    assert.match(hostWide.stderr, /sysctl 'kernel\.panic=1' is not allowed/);
    const hostNetwork = store.wb(['run', '--rm', '--network', 'host', '--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'true']);
    assert.equal(hostNetwork.status, 125);
    assert.match(hostNetwork.stderr, /not allowed in host network namespace/);
  });
});
