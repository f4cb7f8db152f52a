// Start latency of `whalebox run --rm --network none busybox true` with Docker's default seccomp
// profile against `--security-opt seccomp=unconfined`, interleaved in one run so that the VM's
// slow phases hit both alike. Prints both medians, the difference (target: under 3 ms), and the
// shim's own time for the `seccomp` step (from --trace, which both runs print).
// Usage: node bench/seccomp-start.mjs [runs] (needs root and busybox:latest in the store;
// WHALEBOX_ROOT chooses the store). The first default run compiles the filter into the run
// root's cache, as the first container after a boot does; it is a warm-up, not a sample.
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 30);
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'whalebox');
const run = (...options) => [process.execPath, cli, 'run', '--rm', '--trace', '--network', 'none', ...options, 'busybox', 'true'];
const candidates = {
  'default profile': run(),
  'seccomp=unconfined': run('--security-opt', 'seccomp=unconfined'),
};

/** Wall time of one run, and the shim's time for its `seccomp` step, if it had one. */
function time([command, ...args]) {
  const began = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - began) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  const step = /^\[trace\]\s+([\d.]+) ms\s+seccomp\s/m.exec(result.stderr);
  return { ms, step: step ? Number(step[1]) : undefined };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const samples = Object.fromEntries(Object.keys(candidates).map((name) => [name, []]));
const steps = [];
for (const argv of Object.values(candidates)) time(argv); // page cache, and the filter's compilation
for (let i = 0; i < runs; i++) {
  for (const [name, argv] of Object.entries(candidates)) {
    const { ms, step } = time(argv);
    samples[name].push(ms);
    if (step !== undefined) steps.push(step);
  }
}
for (const [name, values] of Object.entries(samples)) {
  console.log(`${name.padEnd(20)} median ${median(values).toFixed(1).padStart(7)} ms  min ${Math.min(...values).toFixed(1).padStart(7)} ms`);
}
// Each round ran both, one after the other: the median of the rounds' differences is the least
// disturbed by the machine's slow phases.
const paired = median(samples['default profile'].map((ms, i) => ms - samples['seccomp=unconfined'][i]));
const apart = median(samples['default profile']) - median(samples['seccomp=unconfined']);
console.log(`seccomp adds ${paired.toFixed(1)} ms to a start (median of ${runs} paired differences; medians apart ${apart.toFixed(1)} ms; target < 3 ms)`);
console.log(`the shim's seccomp step (loading the cached program): median ${median(steps).toFixed(3)} ms`);
