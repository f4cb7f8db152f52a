// Cold pull of a ~100 MB multi-layer image from a local registry (Debian's docker-registry on
// 127.0.0.1), whalebox against `skopeo copy` into an OCI layout plus `umoci unpack` (and
// `docker pull` when a Docker engine answers), interleaved in one run. Prints medians and ratios.
// Usage: npx tsx bench/pull.ts [rounds]   (root; needs docker-registry, skopeo, umoci)
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient } from '../src/image/registry/client.js';
import { gzipLayer, makeTar, pushLayers, type TarEntry } from '../test/image-builder.js';
import { startRegistry } from '../test/registry-server.js';

const rounds = Number(process.argv[2] ?? 3);
const cli = join(import.meta.dirname, '..', 'bin', 'whalebox');
const LAYERS = 5;
const FILES_PER_LAYER = 20;
const FILE_BYTES = 1 << 20;

/** One megabyte, half random bytes and half text: it compresses to about half, as binaries and libraries do. */
function fileContent(): Buffer {
  return Buffer.concat([randomBytes(FILE_BYTES / 2), Buffer.from('text line of a config file\n'.repeat(FILE_BYTES / 2 / 27 + 1).slice(0, FILE_BYTES / 2))]);
}

function run(command: string, args: string[]): number {
  const began = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
  return Number(process.hrtime.bigint() - began) / 1e6;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const registry = await startRegistry('plain');
const work = mkdtempSync(join(tmpdir(), 'whalebox-bench-pull-'));
try {
  const layers = [];
  for (let i = 0; i < LAYERS; i++) {
    const entries: TarEntry[] = [{ name: `layer${i}`, type: 'directory', mode: 0o755 }];
    for (let f = 0; f < FILES_PER_LAYER; f++) entries.push({ name: `layer${i}/file${f}`, content: fileContent() });
    layers.push(gzipLayer(await makeTar(entries)));
  }
  await pushLayers(new RegistryClient(registry.host), 'bench/big', 'v1', layers);
  const total = layers.reduce((sum, layer) => sum + layer.blob.length, 0);
  const ref = `${registry.host}/bench/big:v1`;
  console.log(`image: ${LAYERS} layers, ${(total / 1e6).toFixed(1)} MB compressed, ${(LAYERS * FILES_PER_LAYER * FILE_BYTES / 1e6).toFixed(1)} MB unpacked`);

  const peers: Record<string, (dir: string) => number> = {
    'whalebox pull': (dir) => run(process.execPath, [cli, '--root', join(dir, 'root'), '--run-root', join(dir, 'run'), 'pull', '-q', ref]),
    'skopeo copy + umoci unpack': (dir) =>
      run('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${join(dir, 'oci')}:v1`]) +
      run('umoci', ['unpack', '--image', `${join(dir, 'oci')}:v1`, join(dir, 'bundle')]),
  };
  if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0) {
    peers['docker pull'] = () => {
      const time = run('docker', ['pull', '-q', ref]);
      spawnSync('docker', ['rmi', ref], { stdio: 'ignore' });
      return time;
    };
  }
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(peers).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, pull] of Object.entries(peers)) {
      const dir = mkdtempSync(join(work, 'run-'));
      spawnSync('sync');
      samples[name]!.push(pull(dir));
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const ours = median(samples['whalebox pull']!);
  for (const [name, values] of Object.entries(samples)) {
    const m = median(values);
    console.log(`${name.padEnd(28)} median ${m.toFixed(0).padStart(6)} ms  (${values.map((v) => v.toFixed(0)).join(', ')})  whalebox/this ${(ours / m).toFixed(2)}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
  await registry.stop();
}
