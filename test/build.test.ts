// Integration tests of `whalebox build`: Dockerfiles built into images that then run, the
// build cache, multi-stage builds, and failures that leave nothing behind.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { mountsUnder, REPO, storeForFile, type Result } from './helpers.js';

const store = storeForFile();
const work = mkdtempSync(join(tmpdir(), 'whalebox-build-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A context directory holding `files` (path → content), the Dockerfile among them. */
function contextDir(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

function build(dir: string, ...flags: string[]): Result {
  return store.wb(['build', ...flags, dir], { timeout: 180_000 });
}

/** Builds and returns the image ID (`--iidfile`), failing the test with the output otherwise. */
function built(dir: string, ...flags: string[]): { id: string; result: Result } {
  const iidfile = join(work, 'iid');
  rmSync(iidfile, { force: true });
  const result = build(dir, '--iidfile', iidfile, ...flags);
  assert.equal(result.status, 0, result.stderr);
  return { id: readFileSync(iidfile, 'utf8'), result };
}

function run(image: string, ...command: string[]): string {
  const result = store.wb(['run', '--rm', '--network', 'none', image, ...command]);
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

function inspect(image: string): { Config: Record<string, unknown>; RootFS: { Layers: string[] } } {
  const result = store.wb(['image', 'inspect', image]);
  assert.equal(result.status, 0, result.stderr);
  return (JSON.parse(result.stdout) as Array<{ Config: Record<string, unknown>; RootFS: { Layers: string[] } }>)[0]!;
}

/** Starts a build whose RUN prints "started" and then runs `command`; resolves once the step printed it. */
async function buildRunning(name: string, command: string): Promise<{ child: ChildProcess; exited: Promise<number | null>; stderr: () => string }> {
  const dir = contextDir(name, { Dockerfile: `FROM busybox\nRUN echo started && ${command}\n` });
  const child = store.spawn(['build', dir]);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // The step's output line (`#2 0.012 started`), not the step's name, which says "started" too.
  const running = (): boolean => /^#\d+ \d+\.\d{3} started$/m.test(stderr);
  const deadline = Date.now() + 30_000;
  while (!running() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(running(), stderr);
  return { child, exited, stderr: () => stderr };
}

/** Nothing of a build's intermediate containers is left: no record, no bundle, no mount. */
function assertNoContainers(): void {
  assert.equal(store.wb(['ps', '-aq']).stdout, '', 'no container is left');
  assert.deepEqual(store.containerIds(), [], 'no bundle is left');
  assert.deepEqual(mountsUnder(store.dir), [], 'no mount is left');
  assert.deepEqual(store.cgroups(), [], 'no cgroup is left');
}

describe('build', () => {
  test("the seed's Dockerfile: a RUN layer of a few bytes on top of the base layer", () => {
    const dir = contextDir('seed', { Dockerfile: 'FROM busybox\nRUN echo "hello whalebox" > /newfile\n' });
    const { result } = built(dir, '-t', 'seed:test');
    assert.match(result.stderr, /\[1\/2\] FROM docker\.io\/library\/busybox:latest/);
    assert.match(result.stderr, /\[2\/2\] RUN echo "hello whalebox" > \/newfile\n#\d+ DONE/);
    assert.equal(run('seed:test', 'cat', '/newfile'), 'hello whalebox\n');

    const base = inspect('busybox').RootFS.Layers;
    const layers = inspect('seed:test').RootFS.Layers;
    assert.deepEqual(layers.slice(0, -1), base, 'the base layers are shared');
    assert.equal(layers.length, base.length + 1);

    const history = store.wb(['history', '--no-trunc', '--format', '{{.CreatedBy}}\t{{.Size}}', 'seed:test']);
    assert.equal(history.status, 0, history.stderr);
    const [top] = history.stdout.split('\n');
    const [createdBy, size] = top!.split('\t');
    assert.match(createdBy!, /^RUN \/bin\/sh -c echo "hello whalebox" > \/newfile/);
    assert.match(size!, /^\d+B$/, `the RUN layer holds a few bytes, not ${size}`);
    assertNoContainers();
  });

  test('a multi-stage build compiles C in a tool-chain stage and ships only the binary in a scratch image', () => {
    const toolchain = join(work, 'toolchain.tar');
    const made = spawnSync('bash', [join(REPO, 'test', 'fixtures', 'toolchain-image.sh'), toolchain], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const imported = store.wb(['import', toolchain, 'toolchain:test'], { timeout: 120_000 });
    assert.equal(imported.status, 0, imported.stderr);
    rmSync(toolchain);

    const dir = contextDir('multistage', {
      'hello.c': '#include <stdio.h>\nint main(void) { puts("hello from a scratch image"); return 0; }\n',
      Dockerfile: [
        'FROM toolchain:test AS builder',
        'WORKDIR /src',
        'COPY hello.c .',
        'RUN mkdir /out && gcc -static -O2 -o /out/hello hello.c',
        '',
        'FROM scratch',
        'COPY --from=builder /out/hello /hello',
        'ENTRYPOINT ["/hello"]',
        '',
      ].join('\n'),
    });
    const { result } = built(dir, '-t', 'hello:scratch');
    assert.match(result.stderr, /\[builder 4\/4\] RUN mkdir \/out && gcc/);
    assert.match(result.stderr, /\[stage-1 1\/1\] COPY --from=builder \/out\/hello \/hello/);
    assert.equal(run('hello:scratch'), 'hello from a scratch image\n');
    const { RootFS } = inspect('hello:scratch');
    assert.equal(RootFS.Layers.length, 1, 'only the copied binary');
    const size = Number(store.wb(['image', 'inspect', '--format', '{{.Size}}', 'hello:scratch']).stdout);
    assert.ok(size < 4_000_000, `the final image is the binary alone (${size} bytes), no tool chain`);
    store.wb(['rmi', 'toolchain:test']);
    assertNoContainers();
  });

  test('.dockerignore keeps files out of the context', () => {
    const dir = contextDir('ignore', {
      '.dockerignore': '# secrets stay home\nsecret.txt\nlogs\n**/*.tmp\n!logs/keep.log\n',
      'secret.txt': 'password',
      'logs/a.log': 'a',
      'logs/keep.log': 'kept',
      'src/main.c': 'int main;',
      'src/scratch.tmp': 'x',
      Dockerfile: 'FROM busybox\nCOPY . /ctx\n',
    });
    built(dir, '-t', 'ignore:test');
    const files = run('ignore:test', 'find', '/ctx', '-type', 'f').split('\n').filter(Boolean).sort();
    assert.deepEqual(files, ['/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/logs/keep.log', '/ctx/src/main.c']);
    const missing = build(contextDir('ignore-copy', { '.dockerignore': 'secret.txt\n', 'secret.txt': 'x', Dockerfile: 'FROM busybox\nCOPY secret.txt /\n' }));
    assert.equal(missing.status, 1, 'an ignored file cannot be copied');
    assert.match(missing.stderr, /secret\.txt.*not found/);
  });

  test('--build-arg reaches RUN, and the argument stays out of the image', () => {
    const dir = contextDir('args', { Dockerfile: 'FROM busybox\nARG GREETING=hi\nRUN echo "$GREETING" > /greeting\n' });
    built(dir, '-t', 'args:default');
    assert.equal(run('args:default', 'cat', '/greeting'), 'hi\n');
    const { result } = built(dir, '-t', 'args:given', '--build-arg', 'GREETING=hello there', '--build-arg', 'UNUSED=1');
    assert.match(result.stderr, /build-args \[UNUSED\] were not consumed/);
    assert.equal(run('args:given', 'cat', '/greeting'), 'hello there\n');
    assert.equal(run('args:given', 'sh', '-c', 'echo "[$GREETING]"'), '[]\n');
  });

  test('--target stops at a stage; stages the target does not need never run', () => {
    const dir = contextDir('target', {
      Dockerfile: [
        'FROM busybox AS unused',
        'RUN exit 7',
        'FROM busybox AS base',
        'RUN echo base > /stage',
        'FROM base AS final',
        'RUN exit 9',
        '',
      ].join('\n'),
    });
    const { result } = built(dir, '--target', 'base', '-t', 'target:base');
    assert.doesNotMatch(result.stderr, /exit 7|exit 9/);
    assert.equal(run('target:base', 'cat', '/stage'), 'base\n');
    const unknown = build(dir, '--target', 'nope');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /target stage "nope" could not be found/);
  });

  test('ONBUILD triggers run in a child build only', () => {
    built(contextDir('onbuild-parent', { Dockerfile: 'FROM busybox\nONBUILD RUN echo triggered > /onbuild\n' }), '-t', 'onbuild:parent');
    assert.equal(run('onbuild:parent', 'sh', '-c', 'test -e /onbuild || echo absent'), 'absent\n');
    const { result } = built(contextDir('onbuild-child', { Dockerfile: 'FROM onbuild:parent\n' }), '-t', 'onbuild:child');
    assert.match(result.stderr, /RUN echo triggered > \/onbuild/);
    assert.equal(run('onbuild:child', 'cat', '/onbuild'), 'triggered\n');
    assert.equal(inspect('onbuild:child').Config.OnBuild ?? null, null, 'triggers are not inherited');
  });

  test('USER and WORKDIR apply to later RUN steps and to the image', () => {
    const dir = contextDir('user', {
      Dockerfile: ['FROM busybox', 'WORKDIR /srv/app', 'RUN chmod 777 .', 'USER 1000:1000', 'WORKDIR data', 'RUN id -u > /tmp/uid && pwd > /tmp/pwd', ''].join('\n'),
    });
    built(dir, '-t', 'user:test');
    assert.equal(run('user:test', 'cat', '/tmp/uid', '/tmp/pwd'), '1000\n/srv/app/data\n');
    assert.equal(run('user:test', 'sh', '-c', 'id -u; pwd'), '1000\n/srv/app/data\n');
    const { Config } = inspect('user:test');
    assert.equal(Config.User, '1000:1000');
    assert.equal(Config.WorkingDir, '/srv/app/data');
  });

  test('an unchanged rebuild is all cache and creates no container; a changed file rebuilds from its COPY on', () => {
    const dir = contextDir('cache', {
      'a.txt': 'one',
      'b.txt': 'two',
      Dockerfile: ['FROM busybox', 'COPY a.txt /a', 'RUN cat /a > /a.copy', 'COPY b.txt /b', 'RUN cat /b > /b.copy', 'CMD ["cat", "/a.copy", "/b.copy"]', ''].join('\n'),
    });
    const first = built(dir, '-t', 'cache:test');
    assert.equal(run('cache:test'), 'onetwo');
    const containers = join(store.root, 'containers');
    const before = statSync(containers).mtimeMs;
    const again = built(dir, '-t', 'cache:test');
    assert.equal(again.id, first.id, 'the same image');
    assert.equal(statSync(containers).mtimeMs, before, 'no container was created');
    const steps = [...again.result.stderr.matchAll(/^#(\d+) \[\d\/5\] /gm)].map((match) => match[1]);
    assert.equal(steps.length, 5);
    for (const step of steps) assert.match(again.result.stderr, new RegExp(`^#${step} CACHED$`, 'm'), `step #${step} is cached`);

    writeFileSync(join(dir, 'b.txt'), 'three');
    const changed = built(dir, '-t', 'cache:test');
    assert.notEqual(changed.id, first.id);
    const status = (step: number): string => new RegExp(`^#(\\d+) \\[${step}/5\\] `, 'm').exec(changed.result.stderr)?.[1] ?? '?';
    for (const step of [1, 2, 3]) assert.match(changed.result.stderr, new RegExp(`^#${status(step)} CACHED$`, 'm'), `step ${step} is cached`);
    for (const step of [4, 5]) assert.match(changed.result.stderr, new RegExp(`^#${status(step)} DONE `, 'm'), `step ${step} runs again`);
    assert.equal(run('cache:test'), 'onethree');
    const fresh = built(dir, '--no-cache');
    assert.doesNotMatch(fresh.result.stderr, /CACHED\n\n#\d+ \[[2-5]\/5\]/);

    assert.match(store.wb(['system', 'df']).stdout, /^Build Cache\s+[1-9]\d*\s+0\s+\d/m);
    const pruned = store.wb(['builder', 'prune', '-f']);
    assert.match(pruned.stdout, /^Deleted build cache objects:\n[0-9a-f]{25}\n/);
    assert.match(store.wb(['system', 'df']).stdout, /^Build Cache\s+0\s+0\s+0B\s+0B$/m);
    assert.equal(run('cache:test'), 'onethree', 'the image keeps its layers');
    assert.match(built(dir, '-t', 'cache:test').result.stderr, /\[5\/5\] RUN cat \/b > \/b.copy\n#\d+ DONE/, 'the cache is gone');
  });

  test('the context and the Dockerfile can come on stdin', () => {
    const dir = contextDir('stdin', { 'file.txt': 'from the tar\n', Dockerfile: 'FROM busybox\nCOPY file.txt /\n' });
    const tar = spawnSync('tar', ['-C', dir, '-cf', '-', '.']);
    const fromTar = spawnSync(process.execPath, store.args(['build', '-q', '-']), { input: tar.stdout, encoding: 'utf8' });
    assert.equal(fromTar.status, 0, fromTar.stderr);
    assert.match(fromTar.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal(run(fromTar.stdout.trim(), 'cat', '/file.txt'), 'from the tar\n');

    const dockerfileOnly = store.wb(['build', '-q', '-'], { input: 'FROM busybox\nRUN echo stdin > /made\n' });
    assert.equal(dockerfileOnly.status, 0, dockerfileOnly.stderr);
    assert.equal(run(dockerfileOnly.stdout.trim(), 'cat', '/made'), 'stdin\n');

    const dashF = store.wb(['build', '-q', '-f', '-', dir], { input: 'FROM busybox\nCOPY file.txt /other.txt\n' });
    assert.equal(dashF.status, 0, dashF.stderr);
    assert.equal(run(dashF.stdout.trim(), 'cat', '/other.txt'), 'from the tar\n');
  });

  test('the image config takes what the Dockerfile sets', () => {
    const dir = contextDir('config', {
      'archive.tar': '',
      Dockerfile: [
        '# escape=`',
        'FROM busybox',
        'ENV GREETING="hello world" `',
        '    NAME=whalebox',
        'LABEL org.example.title="$NAME image"',
        'EXPOSE 80 53/udp',
        'VOLUME /data',
        'STOPSIGNAL SIGQUIT',
        'SHELL ["/bin/sh", "-ec"]',
        'HEALTHCHECK --interval=5s --retries=2 CMD wget -q -O- localhost || exit 1',
        'COPY --chown=1000:1000 --chmod=640 <<EOF /etc/motd',
        'welcome to $NAME',
        'EOF',
        'RUN <<EOF',
        'echo "$GREETING" > /greeting',
        'EOF',
        'CMD echo "$GREETING"',
        '',
      ].join('\n'),
    });
    built(dir, '-t', 'config:test', '--label', 'from-cli=yes');
    const { Config } = inspect('config:test');
    assert.ok((Config.Env as string[]).includes('GREETING=hello world'));
    assert.ok((Config.Env as string[]).includes('NAME=whalebox'));
    assert.deepEqual(Config.Labels, { 'org.example.title': 'whalebox image', 'from-cli': 'yes' });
    assert.deepEqual(Config.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
    assert.deepEqual(Config.Volumes, { '/data': {} });
    assert.equal(Config.StopSignal, 'SIGQUIT');
    assert.deepEqual(Config.Cmd, ['/bin/sh', '-ec', 'echo "$GREETING"']);
    assert.deepEqual((Config.Healthcheck as { Test: string[] }).Test, ['CMD-SHELL', 'wget -q -O- localhost || exit 1']);
    assert.equal(run('config:test'), 'hello world\n');
    assert.equal(run('config:test', 'cat', '/greeting'), 'hello world\n');
    assert.equal(run('config:test', 'stat', '-c', '%u:%g %a', '/etc/motd'), '1000:1000 640\n');
    assert.equal(run('config:test', 'cat', '/etc/motd'), 'welcome to whalebox\n');
  });

  test('ADD unpacks a local tar (gzip, xz) into the destination directory; COPY copies it as it is', () => {
    const dir = contextDir('add', {
      Dockerfile: 'FROM busybox\nADD files.tar.gz /unpacked\nADD --chown=1000:1000 files.tar.xz /deep/xz/\nCOPY files.tar.gz /copied/\n',
    });
    const source = join(work, 'add-source');
    mkdirSync(join(source, 'sub'), { recursive: true });
    writeFileSync(join(source, 'sub', 'inside.txt'), 'inside\n');
    assert.equal(spawnSync('tar', ['-C', source, '-czf', join(dir, 'files.tar.gz'), 'sub']).status, 0);
    assert.equal(spawnSync('tar', ['-C', source, '-cJf', join(dir, 'files.tar.xz'), 'sub']).status, 0);
    built(dir, '-t', 'add:test');
    assert.equal(run('add:test', 'cat', '/unpacked/sub/inside.txt'), 'inside\n');
    assert.equal(run('add:test', 'stat', '-c', '%u %n', '/deep', '/deep/xz', '/deep/xz/sub/inside.txt'), '1000 /deep\n1000 /deep/xz\n1000 /deep/xz/sub/inside.txt\n');
    assert.equal(run('add:test', 'sh', '-c', 'test -f /copied/files.tar.gz && echo file'), 'file\n');
  });

  test('a stage FROM another inherits its ARGs; proxy settings reach RUN without ARG', () => {
    const dir = contextDir('inherit', {
      Dockerfile: ['FROM busybox AS one', 'ARG G=global', 'FROM one', 'RUN echo "$G $http_proxy" > /seen', ''].join('\n'),
    });
    built(dir, '-t', 'inherit:test', '--build-arg', 'http_proxy=http://proxy.invalid:3128');
    assert.equal(run('inherit:test', 'cat', '/seen'), 'global http://proxy.invalid:3128\n');
    const history = store.wb(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'inherit:test']).stdout;
    assert.doesNotMatch(history, /proxy\.invalid/, 'proxy settings stay out of the history');
  });

  test('a RUN heredoc that starts with #! runs as a script, with its interpreter', () => {
    const script = (body: string): string => `FROM busybox\nRUN <<EOF\n#!/bin/sh -e\n${body}\nEOF\n`;
    built(contextDir('script', { Dockerfile: script('echo "ran as $0" > /script-out') }), '-t', 'script:test');
    assert.equal(run('script:test', 'cat', '/script-out'), 'ran as /dev/pipes/EOF\n');
    const failing = build(contextDir('script-fails', { Dockerfile: script('false\necho not reached') }));
    assert.equal(failing.status, 1, 'the -e of the #! line applies');
    assert.match(failing.stderr, /exit code: 1/);
  });

  test('COPY --from names an earlier stage only', () => {
    const result = build(contextDir('forward', { Dockerfile: 'FROM busybox AS a\nCOPY --from=b /bin/sh /sh\nFROM busybox AS b\n' }), '--target', 'a');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /cannot copy from stage "b", it needs to be defined before current stage "a"/);
    assertNoContainers();
  });

  test('Ctrl-C cancels a running step at once; its container is not listed or pruned meanwhile, and nothing is left', async () => {
    const { child, exited, stderr } = await buildRunning('cancel', 'sleep 60');
    assert.equal(store.wb(['ps', '-a', '-q']).stdout, '', 'a build step is not a container of the user');
    assert.equal(store.wb(['container', 'prune', '-f']).status, 0);
    const began = Date.now();
    child.kill('SIGINT');
    assert.equal(await exited, 1);
    assert.ok(Date.now() - began < 10_000, 'the step does not run to its end');
    assert.match(stderr(), /Canceled/);
    assertNoContainers();
  });

  test('a build killed with SIGKILL takes its running step along; prune removes what is left', async () => {
    const { child, exited } = await buildRunning('killed', 'sleep 59.75');
    child.kill('SIGKILL');
    await exited;
    const gone = Date.now() + 10_000;
    while (spawnSync('pgrep', ['-f', 'sleep 59.75']).status === 0 && Date.now() < gone) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.notEqual(spawnSync('pgrep', ['-f', 'sleep 59.75']).status, 0, "the step's command died with the build");
    assert.match(store.wb(['ps', '-a']).stdout, /buildkit-/, 'the abandoned step is an ordinary leftover now');
    assert.equal(store.wb(['system', 'prune', '-f']).status, 0);
    assertNoContainers();
  });

  describe('failures name the Dockerfile line, exit 1 and leave nothing behind', () => {
    const failing = (name: string, dockerfile: string, files: Record<string, string> = {}): Result => {
      const result = build(contextDir(name, { ...files, Dockerfile: dockerfile }));
      assert.equal(result.status, 1, result.stderr);
      assertNoContainers();
      return result;
    };

    test('an unknown instruction', () => {
      const result = failing('unknown', 'FROM busybox\n\nFROB the knob\n');
      assert.match(result.stderr, /Dockerfile:3\n/);
      assert.match(result.stderr, /unknown instruction: FROB/i);
    });

    test('a file missing from COPY', () => {
      const result = failing('missing', 'FROM busybox\nRUN true\nCOPY missing.txt /\n');
      assert.match(result.stderr, /Dockerfile:3\n/);
      assert.match(result.stderr, /"\/?missing\.txt": not found/);
    });

    test('a failing RUN shows its status and output', () => {
      const result = failing('run-fails', 'FROM busybox\nRUN echo about to fail && echo on stderr >&2 && exit 3\nRUN echo never\n');
      assert.match(result.stderr, /Dockerfile:2\n/);
      assert.match(result.stderr, /about to fail/);
      assert.match(result.stderr, /on stderr/);
      assert.match(result.stderr, /did not complete successfully: exit code: 3/);
      assert.doesNotMatch(result.stderr, /#\d+ \[3\/3\] RUN echo never/);
    });

    test('bad syntax', () => {
      const result = failing('syntax', 'FROM busybox\nRUN <<EOF\necho no end\n');
      assert.match(result.stderr, /Dockerfile:2/);
      const noFrom = failing('no-from', 'RUN echo hi\n');
      assert.match(noFrom.stderr, /Dockerfile:1/);
    });
  });
});
