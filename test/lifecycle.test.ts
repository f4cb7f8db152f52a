import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store, storeForFile } from './helpers.js';

const store = storeForFile();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const COUNTER = 'i=0; while true; do echo out $i; echo err $i >&2; i=$((i+1)); sleep 0.1; done';

describe('detached containers', () => {
  test('run -d prints the ID and returns; ps shows it Up; logs separate the streams', async () => {
    const r = store.wb(['run', '-d', '--name', 'web', 'busybox', 'sh', '-c', COUNTER]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^[0-9a-f]{64}\n$/);
    const id = r.stdout.trim();

    const ps = store.wb(['ps']);
    assert.match(ps.stdout, /^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES\n/);
    assert.match(ps.stdout, new RegExp(`^${id.slice(0, 12)} +busybox +"sh -c 'i=0; while t…" +(Less than a second|\\d+ seconds?) ago +Up .* +web\\n`, 'm'));

    await until('three lines of output', () => (store.wb(['logs', 'web']).stdout.match(/out/g)?.length ?? 0) >= 3);
    const logs = store.wb(['logs', 'web']);
    assert.match(logs.stdout, /^out 0\nout 1\nout 2\n/);
    assert.doesNotMatch(logs.stdout, /err/);
    assert.match(logs.stderr, /^err 0\nerr 1\n/);

    // The last two lines: one from each stream, whichever came last.
    const stamped = store.wb(['logs', '-t', '--tail', '2', id.slice(0, 5)]);
    assert.match(stamped.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out \d+\n$/);
    assert.match(stamped.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z err \d+\n$/);
  });

  test('logs -f --tail 2 follows until the container stops; stop -t 1 ends it with 137', async () => {
    const follower = store.spawn(['logs', '-f', '--tail', '2', 'web']);
    let out = '';
    follower.stdout.on('data', (d) => (out += d));
    const followed = new Promise<number | null>((resolve) => follower.on('exit', resolve));
    await until('new lines while following', () => (out.match(/out/g)?.length ?? 0) >= 5);
    assert.equal(out.split('\n')[0]!.startsWith('out '), true);

    const began = Date.now();
    const stop = store.wb(['stop', '-t', '1', 'web']);
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal(stop.stdout, 'web\n');
    assert.ok(Date.now() - began < 5000, 'stop waits about its timeout');
    assert.equal(await followed, 0, 'logs -f returns when the container exits');

    const ps = store.wb(['ps', '-a', '--filter', 'name=web']);
    assert.match(ps.stdout, /Exited \(137\) (Less than a second|\d+ seconds?) ago +web\n/);
    assert.equal(store.wb(['ps', '-q']).stdout, '');
    assert.equal(store.wb(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'web']).stdout, 'exited 137\n');
    assert.deepEqual(store.cgroups(), []);
  });

  test('start, wait, rm; rm refuses a running container without -f', async () => {
    assert.equal(store.wb(['start', 'web']).stdout, 'web\n');
    assert.match(store.wb(['ps']).stdout, /Up .* web\n/);
    const refused = store.wb(['rm', 'web']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /cannot remove container "\/web": container is running: stop the container before removing or force remove/);
    assert.equal(store.wb(['kill', 'web']).stdout, 'web\n');
    assert.equal(store.wb(['wait', 'web']).stdout, '137\n');
    assert.equal(store.wb(['rm', 'web']).stdout, 'web\n');
    assert.equal(store.wb(['logs', 'web']).status, 1);
    assert.match(store.wb(['rm', 'web']).stderr, /No such container: web/);
  });

  test('wait returns the exit status; -d with a failing command is an error at once', () => {
    const id = store.wb(['run', '-d', 'busybox', 'sh', '-c', 'sleep 0.3; exit 4']).stdout.trim();
    assert.equal(store.wb(['wait', id]).stdout, '4\n');
    const missing = store.wb(['run', '-d', 'busybox', 'no-such-command']);
    assert.equal(missing.status, 127);
    assert.match(missing.stderr, /executable file not found/);
    store.wb(['rm', id]);
  });

  test('names: duplicates refused with status 125; generated names look like Docker\'s', () => {
    const id = store.wb(['run', '-d', '--name', 'dup', 'busybox', 'sleep', '30']).stdout.trim();
    const again = store.wb(['run', '-d', '--name', 'dup', 'busybox', 'true']);
    assert.equal(again.status, 125);
    assert.match(again.stderr, new RegExp(`Conflict. The container name "/dup" is already in use by container "${id}"`));
    const anonymous = store.wb(['run', '-d', 'busybox', 'true']).stdout.trim();
    assert.match(store.wb(['inspect', '-f', '{{.Name}}', anonymous]).stdout, /^\/[a-z]+_[a-z]+\d?\n$/);
    assert.equal(store.wb(['rm', '-f', 'dup', anonymous]).status, 0);
  });

  test('30 run -d in parallel: 30 distinct containers; one name, two runs: one wins', async () => {
    const runs = Array.from({ length: 30 }, () => store.spawn(['run', '-d', '--label', 'batch=1', 'busybox', 'sleep', '30']));
    const codes = await Promise.all(runs.map((child) => new Promise<number | null>((resolve) => child.on('exit', resolve))));
    assert.deepEqual(codes, Array(30).fill(0));
    const ids = store.wb(['ps', '-q', '--filter', 'label=batch=1']).stdout.trim().split('\n');
    assert.equal(new Set(ids).size, 30);
    const pair = [0, 1].map(() => store.spawn(['run', '-d', '--name', 'only-one', 'busybox', 'sleep', '30']));
    const pairCodes = await Promise.all(pair.map((child) => new Promise<number | null>((resolve) => child.on('exit', resolve))));
    assert.deepEqual(pairCodes.sort(), [0, 125]);
    assert.equal(store.wb(['rm', '-f', 'only-one', ...ids]).status, 0);
    assert.equal(store.wb(['ps', '-aq']).stdout, '');
  });
});

describe('more of ps, logs, start and exec', () => {
  test('ps filters and formats; logs --since/--until; start -a; exec -d', async () => {
    const id = store.wb(['create', '--name', 'fmt', '-l', 'tier=web', 'busybox', 'sh', '-c', 'echo first; sleep 1; echo second']).stdout.trim();
    assert.equal(store.wb(['ps', '-a', '--filter', `id=${id.slice(0, 6)}`, '--format', '{{.Names}} {{.State}} {{.Labels}}']).stdout, 'fmt created tier=web\n');
    assert.equal(store.wb(['ps', '-aq', '--filter', 'ancestor=busybox', '--filter', 'name=^fmt$', '--no-trunc']).stdout, `${id}\n`);
    assert.deepEqual(Object.keys(JSON.parse(store.wb(['ps', '-a', '--format', 'json', '-f', 'name=fmt']).stdout)).slice(0, 3), ['ID', 'Image', 'Command']);
    const table = store.wb(['ps', '-a', '-f', 'name=fmt', '--format', 'table {{.ID}}\t{{.Status}}']).stdout;
    assert.match(table, /^CONTAINER ID +STATUS\n[0-9a-f]{12} +Created\n$/);

    const started = store.wb(['start', '-a', 'fmt']);
    assert.equal(started.status, 0, started.stderr);
    assert.equal(started.stdout, 'first\nsecond\n');
    const stamped = store.wb(['logs', '-t', 'fmt']).stdout.split('\n');
    const secondAt = stamped[1]!.split(' ')[0]!;
    assert.equal(store.wb(['logs', '--since', secondAt, 'fmt']).stdout, 'second\n');
    assert.equal(store.wb(['logs', '--until', stamped[0]!.split(' ')[0]!, 'fmt']).stdout, 'first\n');

    store.wb(['run', '-d', '--name', 'bg', 'busybox', 'sleep', '60']);
    assert.equal(store.wb(['exec', '-d', 'bg', 'sh', '-c', 'echo done > /tmp/marker']).status, 0);
    await until('the detached exec to finish', () => store.wb(['exec', 'bg', 'cat', '/tmp/marker']).stdout === 'done\n' || undefined);
    store.wb(['rm', '-f', 'bg', 'fmt']);
  });
});

describe('logs of foreground runs', () => {
  test('what a foreground container printed is shown and logged, streams apart', () => {
    const r = store.wb(['run', '--name', 'fg', 'busybox', 'sh', '-c', 'echo out; echo err >&2; printf partial']);
    assert.equal(r.stdout, 'out\npartial');
    assert.equal(r.stderr, 'err\n');
    const logs = store.wb(['logs', 'fg']);
    assert.equal(logs.stdout, 'out\npartial');
    assert.equal(logs.stderr, 'err\n');
    store.wb(['rm', 'fg']);
  });
});

describe('exec', () => {
  test('joins every namespace and the cgroup; status and errors pass through', () => {
    const id = store.wb(['run', '-d', '--name', 'host1', '-h', 'box1', 'busybox', 'sleep', '60']).stdout.trim();
    const r = store.wb(['exec', 'host1', 'sh', '-c', 'echo $$; hostname; cat /proc/1/cmdline; echo; grep CapEff /proc/self/status; ls /proc | grep -c "^[0-9]"']);
    assert.equal(r.status, 0, r.stderr);
    const [pid, host, init, caps, count] = r.stdout.split('\n');
    assert.ok(Number(pid) > 1 && Number(pid) < 10, `pid ${pid} is in the container's PID namespace`);
    assert.equal(host, 'box1');
    assert.equal(init, 'sleep\u000060\u0000');
    assert.equal(caps, 'CapEff:\t00000000a80425fb');
    assert.ok(Number(count) <= 4, 'only the container processes are visible');
    const pids = readFileSync(store.cgroups().find((c) => c.includes('/pids/') && c.endsWith(id))! + '/cgroup.procs', 'utf8');
    assert.equal(pids.trim().split('\n').length, 1, 'exec left no process behind');
    assert.equal(store.wb(['exec', 'host1', 'sh', '-c', 'exit 7']).status, 7);
    assert.equal(store.wb(['exec', '-e', 'X=1', '-w', '/tmp', '-u', 'nobody', 'host1', 'sh', '-c', 'echo $X $(pwd) $(id -u)']).stdout, '1 /tmp 65534\n');
    assert.equal(store.wb(['exec', 'host1', 'nosuch']).status, 127);
    assert.equal(store.wb(['exec', '-i', 'host1', 'cat'], { input: 'piped\n' }).stdout, 'piped\n');
    store.wb(['stop', '-t', '0', 'host1']);
    const stopped = store.wb(['exec', 'host1', 'true']);
    assert.equal(stopped.status, 1);
    assert.match(stopped.stderr, new RegExp(`container ${id} is not running`));
    store.wb(['rm', 'host1']);
  });

  test('exec -it through a real terminal', () => {
    store.wb(['run', '-d', '--name', 'tty1', '-h', 'ttybox', 'busybox', 'sleep', '60']);
    const r = spawnSync('python3', [join(import.meta.dirname, 'pty-run.py'), '30', '100', 'hostname; stty size; cat /proc/1/cmdline; echo; grep CapEff /proc/self/status; exit 3\r', process.execPath, ...store.args(['exec', '-it', 'tty1', 'sh'])], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /\r\nttybox\r\n30 100\r\nsleep\x0060\x00\r\nCapEff:\t00000000a80425fb\r\n/);
    store.wb(['rm', '-f', 'tty1']);
  });
});

describe('pause, rename, prune', () => {
  test('pause freezes (the counter stops), unpause resumes', async () => {
    store.wb(['run', '-d', '--name', 'counter', 'busybox', 'sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done']);
    const count = () => store.wb(['logs', 'counter']).stdout.split('\n').length;
    await until('some output', () => count() > 3);
    assert.equal(store.wb(['pause', 'counter']).stdout, 'counter\n');
    assert.match(store.wb(['ps']).stdout, /Up .* \(Paused\) +counter/);
    const frozen = count();
    await sleep(600);
    assert.equal(count(), frozen, 'no output while paused');
    assert.equal(store.wb(['pause', 'counter']).status, 1);
    assert.equal(store.wb(['unpause', 'counter']).stdout, 'counter\n');
    await until('output again', () => count() > frozen + 3);
    assert.equal(store.wb(['rename', 'counter', 'renamed']).status, 0);
    assert.equal(store.wb(['inspect', '-f', '{{.Name}}', 'renamed']).stdout, '/renamed\n');
    store.wb(['pause', 'renamed']);
    assert.equal(store.wb(['stop', '-t', '1', 'renamed']).status, 0, 'a paused container stops');
    assert.match(store.wb(['ps', '-a', '-f', 'name=renamed']).stdout, /Exited/);
  });

  test('container prune and system prune remove stopped containers and crash leftovers', () => {
    const running = store.wb(['run', '-d', 'busybox', 'sleep', '60']).stdout.trim();
    const stray = `${store.root}/containers/${'f'.repeat(64)}`;
    spawnSync('mkdir', ['-p', stray]);
    const pruned = store.wb(['container', 'prune', '-f']);
    assert.match(pruned.stdout, /^Deleted Containers:\n[0-9a-f]{64}\n/);
    assert.match(pruned.stdout, /Total reclaimed space: /);
    assert.equal(store.wb(['ps', '-aq', '--no-trunc']).stdout, `${running}\n`);
    assert.equal(store.wb(['system', 'prune', '-f']).status, 0);
    assert.equal(spawnSync('test', ['-e', stray]).status, 1, 'a directory without a record is removed');
    assert.equal(store.wb(['ps', '-q', '--no-trunc']).stdout, `${running}\n`, 'running containers stay');
    assert.equal(store.wb(['container', 'prune'], { input: 'n\n' }).stdout, '', 'no without -f and a yes');
    store.wb(['rm', '-f', running]);
  });
});

describe('crash safety', () => {
  test('kill -9 of a running container\'s shim: ps shows it exited, nothing is left', async () => {
    const id = store.wb(['run', '-d', '--name', 'victim', 'busybox', 'sleep', '60']).stdout.trim();
    const shim = Number(store.wb(['inspect', '-f', '{{.State.Pid}}', id]).stdout);
    assert.ok(shim > 0);
    const shimPid = Number(readFileSync(`/proc/${shim}/stat`, 'utf8').split(' ')[3]);
    process.kill(shimPid, 'SIGKILL');
    await until('the container to die with its shim', () => spawnSync('kill', ['-0', String(shim)]).status !== 0);
    assert.match(store.wb(['ps', '-a', '--filter', 'name=victim']).stdout, /Exited \(137\)/);
    assert.deepEqual(store.cgroups().filter((c) => c.endsWith(id)), []);
    store.wb(['rm', 'victim']);
  });
});

describe('crash safety of run', () => {
  test('kill -9 of the CLI at any moment of run, then system prune: nothing is left', async () => {
    for (const delay of [20, 60, 100, 140, 180, 220, 300]) {
      const child = store.spawn(['run', '-d', 'busybox', 'sleep', '60']);
      const exited = new Promise((resolve) => child.on('exit', resolve));
      await sleep(delay);
      child.kill('SIGKILL');
      await exited;
    }
    await sleep(1000);
    // ps -a must work on whatever state the kills left, and tell the truth: a container that is
    // not listed as running has no process left.
    const listed = store.wb(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.State}}']);
    assert.equal(listed.status, 0);
    for (const [id, state] of listed.stdout.trim().split('\n').filter(Boolean).map((line) => line.split(' '))) {
      if (state === 'running') continue;
      const procs = store.cgroups().filter((c) => c.endsWith(id!)).flatMap((c) => readFileSync(`${c}/cgroup.procs`, 'utf8').split('\n').filter(Boolean));
      assert.deepEqual(procs, [], `${id} (${state}) has no process`);
    }
    const running = store.wb(['ps', '-q']).stdout.trim().split('\n').filter(Boolean);
    if (running.length) assert.equal(store.wb(['rm', '-f', ...running]).status, 0);
    assert.equal(store.wb(['system', 'prune', '-f']).status, 0);
    assert.equal(store.wb(['ps', '-aq']).stdout, '');
    assert.deepEqual(store.containerIds(), []);
    await until('the cgroups to go', () => store.cgroups().length === 0 || undefined);
    // Exit commands of the killed containers may still be finishing.
    await until('no process of this store', () => spawnSync('pgrep', ['-f', store.root]).status === 1 || undefined);
  });
});

describe('races the review found', () => {
  test('restart leaves the new run running (a late exit command of the old run is ignored)', async () => {
    store.wb(['run', '-d', '--name', 'rs', 'busybox', 'sleep', '1000']);
    assert.equal(store.wb(['restart', '-t', '0', 'rs']).status, 0);
    await sleep(1500);
    assert.equal(store.wb(['inspect', '-f', '{{.State.Status}}', 'rs']).stdout, 'running\n');
    store.wb(['rm', '-f', 'rs']);
  });

  test('restart keeps a --rm container, which --rm still removes when it ends', async () => {
    store.wb(['run', '-d', '--rm', '--name', 'rmr', 'busybox', 'sleep', '1000']);
    assert.equal(store.wb(['restart', '-t', '0', 'rmr']).status, 0);
    assert.equal(store.wb(['inspect', '-f', '{{.State.Status}} {{.HostConfig.AutoRemove}}', 'rmr']).stdout, 'running true\n');
    assert.equal(store.wb(['stop', '-t', '0', 'rmr']).status, 0);
    await until('the container to be removed', () => store.wb(['inspect', 'rmr']).status === 1 || undefined);
  });

  test('kill and rm -f end a paused container', () => {
    store.wb(['run', '-d', '--name', 'pz', 'busybox', 'sleep', '1000']);
    store.wb(['pause', 'pz']);
    assert.equal(store.wb(['kill', 'pz'], { timeout: 15_000 }).status, 0);
    assert.match(store.wb(['ps', '-a', '-f', 'name=pz']).stdout, /Exited \(137\)/);
    store.wb(['start', 'pz']);
    store.wb(['pause', 'pz']);
    assert.equal(store.wb(['rm', '-f', 'pz'], { timeout: 15_000 }).status, 0);
  });

  test('a command that cannot start is an error at once, whatever the restart policy', () => {
    const r = store.wb(['run', '-d', '--restart', 'always', 'busybox', 'no-such-command'], { timeout: 15_000 });
    assert.equal(r.status, 127, r.stderr);
  });

  test('wait reports the status of a --rm container; stop during the restart delay holds', async () => {
    const id = store.wb(['run', '-d', '--rm', 'busybox', 'sh', '-c', 'sleep 0.5; exit 5']).stdout.trim();
    assert.equal(store.wb(['wait', id]).stdout, '5\n');
    const looping = store.wb(['run', '-d', '--restart', 'always', 'busybox', 'sh', '-c', 'exit 1']).stdout.trim();
    await until('a restart', () => Number(store.wb(['inspect', '-f', '{{.RestartCount}}', looping]).stdout) >= 2 || undefined);
    assert.equal(store.wb(['stop', looping]).status, 0);
    const count = store.wb(['inspect', '-f', '{{.RestartCount}}', looping]).stdout;
    await sleep(2500);
    assert.equal(store.wb(['inspect', '-f', '{{.RestartCount}}', looping]).stdout, count, 'no restart after stop');
    assert.match(store.wb(['inspect', '-f', '{{.State.Status}}', looping]).stdout, /^exited\n$/);
    store.wb(['rm', '-f', looping]);
  });
});

describe('system reset', () => {
  test('--force kills every container and removes the store; without it, nothing happens', async () => {
    const own = Store.withBusybox();
    try {
      own.wb(['run', '-d', 'busybox', 'sleep', '60']);
      own.wb(['run', '-d', '--restart', 'always', 'busybox', 'sleep', '60']);
      assert.equal(own.wb(['system', 'reset']).status, 1, 'no answer means no');
      assert.equal(own.wb(['ps', '-q']).stdout.trim().split('\n').length, 2);
      assert.equal(own.wb(['system', 'reset', '--force']).status, 0);
      assert.equal(existsSync(own.root), false);
      await until('the cgroups to go', () => own.cgroups().length === 0 || undefined);
      await until('no process of the store', () => spawnSync('pgrep', ['-f', own.root]).status === 1 || undefined);
      assert.equal(existsSync(own.root), false, 'no exit command recreated the store');
    } finally {
      own.remove();
    }
  });
});

describe('restart policies', () => {
  test('on-failure:2 runs a failing command three times in all', async () => {
    const id = store.wb(['run', '-d', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 1']).stdout.trim();
    await until('three runs', () => (store.wb(['logs', id]).stdout.match(/run/g)?.length ?? 0) >= 3 && store.wb(['inspect', '-f', '{{.State.Status}}', id]).stdout === 'exited\n', 20_000);
    await sleep(1000);
    assert.equal(store.wb(['logs', id]).stdout, 'run\nrun\nrun\n');
    assert.equal(store.wb(['inspect', '-f', '{{.RestartCount}} {{.State.ExitCode}}', id]).stdout, '2 1\n');
    store.wb(['rm', id]);
  });

  test('always restarts after PID 1 is killed, not after stop', async () => {
    const id = store.wb(['run', '-d', '--restart', 'always', 'busybox', 'sleep', '60']).stdout.trim();
    const first = Number(store.wb(['inspect', '-f', '{{.State.Pid}}', id]).stdout);
    process.kill(first, 'SIGKILL');
    const second = await until('a restart', () => {
      const out = store.wb(['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', id]).stdout.trim().split(' ');
      return out[0] === 'running' && Number(out[1]) !== first ? Number(out[1]) : undefined;
    });
    assert.ok(second > 0);
    assert.equal(store.wb(['stop', '-t', '1', id]).status, 0);
    await sleep(1500);
    assert.match(store.wb(['inspect', '-f', '{{.State.Status}} {{.RestartCount}}', id]).stdout, /^exited 1\n$/);
    store.wb(['rm', id]);
  });
});
