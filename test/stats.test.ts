import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { storeForFile } from './helpers.js';

const store = storeForFile();

const HEADER = /^CONTAINER ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS\n/;

/** The cells of the table row of the container named `name` (cells are 3+ spaces apart). */
function row(table: string, name: string): string[] {
  const line = table.split('\n').find((l) => l.split(/ {3,}/)[1] === name);
  assert.ok(line, `no row for ${name} in:\n${table}`);
  return line.split(/ {3,}/);
}

describe('stats', () => {
  test('--no-stream: a busy container with -m 20m shows its limit, its CPU use and one PID', () => {
    const run = store.wb(['run', '-d', '--name', 'spin', '--network', 'none', '-m', '20m', 'busybox', 'sh', '-c', 'while :; do :; done']);
    assert.equal(run.status, 0, run.stderr);
    const id = run.stdout.trim();

    const stats = store.wb(['stats', '--no-stream', 'spin']);
    assert.equal(stats.status, 0, stats.stderr);
    assert.match(stats.stdout, HEADER);
    const [shortId, name, cpu, mem, memPercent, net, block, pids] = row(stats.stdout, 'spin');
    assert.equal(shortId, id.slice(0, 12));
    assert.equal(name, 'spin');
    assert.match(cpu!, /^\d+\.\d\d%$/);
    assert.ok(parseFloat(cpu!) > 20, `CPU % of a busy loop: ${cpu}`);
    assert.match(mem!, /^\d+(\.\d+)?(B|KiB|MiB) \/ 20MiB$/);
    assert.match(memPercent!, /^\d+\.\d\d%$/);
    assert.equal(net, '0B / 0B', 'only lo in its network namespace, which does not count');
    assert.match(block!, /^\S+ \/ \S+$/);
    assert.equal(pids, '1');
  });

  test('without names: every running container; --format and --no-trunc', () => {
    const run = store.wb(['run', '-d', '--name', 'copier', 'busybox', 'dd', 'if=/dev/zero', 'of=/dev/null']);
    assert.equal(run.status, 0, run.stderr);
    const id = run.stdout.trim();
    assert.equal(store.wb(['run', '--name', 'done', 'busybox', 'true']).status, 0);

    const stats = store.wb(['stats', '--no-stream', '--no-trunc']);
    assert.equal(stats.status, 0, stats.stderr);
    assert.equal(row(stats.stdout, 'copier')[0], id);
    assert.ok(parseFloat(row(stats.stdout, 'copier')[2]!) > 20, 'dd copies as fast as it can');
    // The host's memory stands in for the limit it does not have.
    assert.match(row(stats.stdout, 'copier')[3]!, /^\S+ \/ \d+(\.\d+)?GiB$/);
    assert.doesNotMatch(stats.stdout, / done /, 'a stopped container is left out');

    const formatted = store.wb(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}', 'copier', 'spin']);
    assert.equal(formatted.status, 0, formatted.stderr);
    assert.match(formatted.stdout, /^copier \S+ \/ \S+\nspin \S+ \/ 20MiB\n$/);

    // Named explicitly, a stopped container reads as zeros, as in Docker.
    const stopped = store.wb(['stats', '--no-stream', '--format', '{{.Container}}: {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}', 'done']);
    assert.equal(stopped.stdout, 'done: 0.00% 0B / 0B 0\n');
  });

  test('a name that matches nothing is an error (status 1)', () => {
    const stats = store.wb(['stats', '--no-stream', 'spin', 'no-such-thing']);
    assert.equal(stats.status, 1);
    assert.equal(stats.stderr, 'whalebox: No such container: no-such-thing\n');
    assert.equal(stats.stdout, '');
  });

  test('streaming: a table every second until interrupted', async () => {
    const child = store.spawn(['stats', '--format', '{{.Name}} {{.PIDs}}', 'spin']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise((resolve) => setTimeout(resolve, 4000));
    child.kill('SIGINT');
    assert.equal(await exited, 'SIGINT');
    // Not a terminal: plain tables one after another, no escape codes.
    assert.match(out, /^(spin 1\n){2,4}$/);
  });
});

describe('top', () => {
  test("lists the container's processes, found through the PID column of ps -ef", () => {
    const pid = store.wb(['inspect', '-f', '{{.State.Pid}}', 'spin']).stdout.trim();
    const top = store.wb(['top', 'spin']);
    assert.equal(top.status, 0, top.stderr);
    const [header, ...rows] = top.stdout.trimEnd().split('\n');
    assert.match(header!, /^UID {17}PID {17}PPID {16}C {19}STIME {15}TTY {17}TIME {16}CMD$/);
    assert.equal(rows.length, 1, top.stdout);
    const cells = rows[0]!.split(/ {3,}/);
    assert.equal(cells[0], 'root');
    assert.equal(cells[1], pid);
    assert.equal(cells.at(-1), 'sh -c while :; do :; done');
  });

  test('passes ps options through', () => {
    const pid = store.wb(['inspect', '-f', '{{.State.Pid}}', 'copier']).stdout.trim();
    const top = store.wb(['top', 'copier', '-o', 'pid,comm']);
    assert.equal(top.status, 0, top.stderr);
    assert.equal(top.stdout, `PID${' '.repeat(17)}COMMAND\n${pid.padEnd(20)}dd\n`);
    assert.equal(store.wb(['top', 'copier', '-o', 'user=PID']).status, 1, 'another column named PID is refused');
  });

  test('a stopped container is an error (status 1)', () => {
    const id = store.wb(['inspect', '-f', '{{.Id}}', 'done']).stdout.trim();
    const top = store.wb(['top', 'done']);
    assert.equal(top.status, 1);
    assert.equal(top.stderr, `whalebox: container ${id} is not running\n`);
  });
});
