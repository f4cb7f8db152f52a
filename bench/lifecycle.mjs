// Two numbers issue 3 asks for, in a store of their own (removed afterwards):
//  - resident memory (VmRSS) of the shims of 50 idle detached containers (target < 2 MiB each);
//  - wall time of `ps -a` with 500 containers in the store (target < 0.3 s).
// Usage: node bench/lifecycle.mjs [containers-for-rss] [containers-for-ps]   (root; needs build/busybox-rootfs.tar)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const idle = Number(process.argv[2] ?? 50);
const stored = Number(process.argv[3] ?? 500);
const dir = mkdtempSync(join(tmpdir(), 'whalebox-bench-'));
const base = [join(repo, 'bin', 'whalebox'), '--root', join(dir, 'root'), '--run-root', join(dir, 'run'), '--cgroup-parent', 'whalebox-bench'];
const wb = (...args) => {
  const r = spawnSync(process.execPath, [...base, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`whalebox ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const parallel = async (count, args, width = 4) => {
  let next = 0;
  const worker = async () => {
    while (next++ < count) {
      await new Promise((resolve, reject) =>
        spawn(process.execPath, [...base, ...args], { stdio: 'ignore' }).on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`)))),
      );
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
};
const status = (pid, key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

try {
  wb('import', join(repo, 'build', 'busybox-rootfs.tar'), 'busybox');
  await parallel(idle, ['run', '-d', 'busybox', 'sleep', '3600']);
  const pids = wb('ps', '-q', '--no-trunc').trim().split('\n').map((id) => Number(wb('inspect', '-f', '{{.State.Pid}}', id)));
  const rss = pids.map((pid) => status(status(pid, 'PPid'), 'VmRSS'));
  console.log(`shim VmRSS over ${rss.length} idle containers: mean ${(rss.reduce((a, b) => a + b, 0) / rss.length).toFixed(0)} KiB, max ${Math.max(...rss)} KiB (target < 2048 KiB)`);
  wb('rm', '-f', ...wb('ps', '-q').trim().split('\n'));

  await parallel(stored, ['create', 'busybox', 'true']);
  const times = [];
  for (let i = 0; i < 7; i++) {
    const began = process.hrtime.bigint();
    const lines = wb('ps', '-a').trim().split('\n').length - 1;
    times.push(Number(process.hrtime.bigint() - began) / 1e6);
    if (lines !== stored) throw new Error(`ps -a listed ${lines} containers, expected ${stored}`);
  }
  const node = [];
  for (let i = 0; i < 7; i++) {
    const began = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0']);
    node.push(Number(process.hrtime.bigint() - began) / 1e6);
  }
  console.log(`ps -a with ${stored} containers: median ${median(times).toFixed(0)} ms (node -e 0: ${median(node).toFixed(0)} ms; target < 300 ms)`);
} finally {
  spawnSync(process.execPath, [...base, 'system', 'reset', '--force'], { stdio: 'inherit' });
  spawnSync('rm', ['-rf', dir]);
}
