// Issue 6's number: an unchanged rebuild (every step cached, no container) against the CLI's own
// start-up, and the same Dockerfile built by `podman build` (runc) in the same run when podman is
// installed. Each tool gets a store of its own, removed afterwards.
// Usage: node bench/build-cache.mjs [runs]   (root; needs build/busybox-rootfs.tar)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.argv[2] ?? 9);
const dir = mkdtempSync(join(tmpdir(), 'whalebox-bench-build-'));
const busybox = join(repo, 'build', 'busybox-rootfs.tar');

const context = join(dir, 'context');
mkdirSync(join(context, 'site'), { recursive: true });
for (let i = 0; i < 50; i++) writeFileSync(join(context, 'site', `page${i}.html`), `<p>page ${i}</p>\n`.repeat(100));
writeFileSync(join(context, 'app.sh'), '#!/bin/sh\necho hello\n');
const dockerfile = (base) =>
  [
    `FROM ${base}`,
    'ARG VERSION=1',
    'ENV APP_HOME=/srv/app',
    'WORKDIR $APP_HOME',
    'COPY app.sh .',
    'RUN chmod +x app.sh && echo "version $VERSION" > version',
    'COPY site/ ./site/',
    'RUN ls site | wc -l > count',
    'EXPOSE 8080',
    'CMD ["./app.sh"]',
    '',
  ].join('\n');

const time = (command, args) => {
  const began = process.hrtime.bigint();
  const result = spawnSync(command, args, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - began) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
  return { ms, stdout: result.stdout, stderr: result.stderr };
};
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const repeat = (n, fn) => Array.from({ length: n }, fn);

const wb = [join(repo, 'bin', 'whalebox'), '--root', join(dir, 'wb-root'), '--run-root', join(dir, 'wb-run'), '--cgroup-parent', 'whalebox-bench'];
const podmanStore = ['--root', join(dir, 'podman-root'), '--runroot', join(dir, 'podman-run'), '--storage-driver', 'overlay', '--runtime', 'runc'];
// This host's root cannot raise hard rlimits: podman needs them given (FIELD-NOTES.md).
const podmanBuild = ['build', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768', '--network', 'none'];
const hasPodman = spawnSync('podman', ['--version']).status === 0;

try {
  time(process.execPath, [...wb, 'import', busybox, 'busybox:latest']);
  writeFileSync(join(context, 'Dockerfile'), dockerfile('busybox'));
  const cold = time(process.execPath, [...wb, 'build', '--network', 'none', '-t', 'bench', context]).ms;
  const rebuilds = repeat(runs, () => time(process.execPath, [...wb, 'build', '--network', 'none', '-t', 'bench', context]));
  const uncached = rebuilds.filter((run) => /DONE/.test(run.stderr.replace(/#\d+ \[internal\][^]*?\n\n|#\d+ exporting to image[^]*?\n\n/g, '')));
  if (uncached.length > 0) throw new Error(`a rebuild ran a step:\n${uncached[0].stderr}`);
  const startup = repeat(runs, () => time(process.execPath, [...wb, 'images', '-q']).ms);
  const rebuild = median(rebuilds.map((run) => run.ms));
  console.log(`whalebox: cold build ${cold.toFixed(0)} ms; cached rebuild median ${rebuild.toFixed(0)} ms over ${runs}; CLI start-up (images -q) ${median(startup).toFixed(0)} ms`);
  console.log(`whalebox: cached rebuild on top of start-up: ${(rebuild - median(startup)).toFixed(0)} ms (target < 500 ms)`);

  if (hasPodman) {
    time('podman', [...podmanStore, 'import', busybox, 'localhost/busybox:latest']);
    writeFileSync(join(context, 'Dockerfile'), dockerfile('localhost/busybox:latest'));
    const podmanCold = time('podman', [...podmanStore, ...podmanBuild, '-t', 'bench', context]).ms;
    const podmanRebuild = median(repeat(runs, () => time('podman', [...podmanStore, ...podmanBuild, '-t', 'bench', context]).ms));
    console.log(`podman build: cold ${podmanCold.toFixed(0)} ms; cached rebuild median ${podmanRebuild.toFixed(0)} ms`);
    console.log(`ratio whalebox/podman: cold ${(cold / podmanCold).toFixed(2)}, cached rebuild ${(rebuild / podmanRebuild).toFixed(2)}`);
  } else {
    console.log('podman is not installed: no side-by-side run');
  }
} finally {
  spawnSync(process.execPath, [...wb, 'system', 'reset', '--force'], { stdio: 'inherit' });
  if (hasPodman) spawnSync('podman', [...podmanStore, 'system', 'reset', '--force'], { stdio: 'ignore' });
  spawnSync('rm', ['-rf', dir]);
}
