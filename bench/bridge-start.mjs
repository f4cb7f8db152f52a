// What the default bridge adds to start latency: `run --rm busybox true` on the default bridge
// against `--network none` (a namespace with only lo), interleaved in one run. Prints both
// medians and the difference (target: under 25 ms).
// Usage: node bench/bridge-start.mjs [runs]   (root; busybox:latest in the store; WHALEBOX_ROOT chooses it)
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 30);
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'whalebox');
const candidates = {
  'run --rm busybox true (bridge)': [process.execPath, cli, 'run', '--rm', 'busybox', 'true'],
  'run --rm --network none busybox true': [process.execPath, cli, 'run', '--rm', '--network', 'none', 'busybox', 'true'],
};

function time(argv) {
  const began = process.hrtime.bigint();
  const result = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`${argv.join(' ')} failed: ${result.stderr}`);
  return Number(process.hrtime.bigint() - began) / 1e6;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const samples = Object.fromEntries(Object.keys(candidates).map((name) => [name, []]));
for (const argv of Object.values(candidates)) time(argv); // the bridge and its rules, made once
for (let i = 0; i < runs; i++) for (const [name, argv] of Object.entries(candidates)) samples[name].push(time(argv));
const [bridge, none] = Object.values(samples).map(median);
for (const [name, values] of Object.entries(samples)) console.log(`${name.padEnd(40)} median ${median(values).toFixed(1).padStart(7)} ms`);
console.log(`the bridge adds ${(bridge - none).toFixed(1)} ms`);
