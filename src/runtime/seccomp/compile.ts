import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { release, version } from 'node:os';
import { join } from 'node:path';
import { errnoCode } from '../../util/errors.js';
import { shimPath } from '../launcher.js';
import type { LinuxSeccomp } from '../oci-spec.js';
import { compileArgs } from './compile-args.js';

/** A program is struct sock_filter[] (8 bytes each), and the kernel takes at most 4096. */
const INSN_BYTES = 8;
const MAX_INSNS = 4096;

/**
 * The filter as the BPF program that the shim's `seccomp` step loads. libseccomp (in the shim)
 * takes about 10 ms to compile Docker's default profile, too long for every start: programs
 * are kept in CACHE (a directory; the run root's, so a reboot, which may bring a new kernel,
 * empties it), named by a hash of everything they depend on.
 */
export function seccompProgram(seccomp: LinuxSeccomp, cache?: string): Buffer {
  if (!cache) return compile(compileArgs(seccomp));
  const file = join(cache, `${cacheKey(seccomp)}.bpf`);
  const kept = readProgram(file);
  if (kept) return kept;
  const program = compile(compileArgs(seccomp));
  mkdirSync(cache, { recursive: true, mode: 0o700 });
  // Renamed into place: a concurrent start finds the whole program or none.
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, program, { mode: 0o600 });
  renameSync(partial, file);
  return program;
}

/** The filter, the shim binary (a rebuilt one may have a newer libseccomp), the kernel. */
function cacheKey(seccomp: LinuxSeccomp): string {
  const shim = statSync(shimPath());
  const inputs = [shim.dev, shim.ino, shim.size, shim.mtimeMs, release(), version(), process.arch, seccomp];
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex');
}

function readProgram(file: string): Buffer | undefined {
  try {
    const program = readFileSync(file);
    return isProgram(program) ? program : undefined;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function isProgram(bytes: Buffer): boolean {
  return bytes.length > 0 && bytes.length % INSN_BYTES === 0 && bytes.length / INSN_BYTES <= MAX_INSNS;
}

function compile(args: readonly string[]): Buffer {
  // Room for far more than the kernel takes, so that a too long program gets the message below.
  const result = spawnSync(shimPath(), ['seccomp-compile', ...args], { maxBuffer: 64 * MAX_INSNS * INSN_BYTES });
  if (result.error) throw new Error(`cannot compile the seccomp filter: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`cannot compile the seccomp filter: ${result.stderr.toString().trim()}`);
  if (!isProgram(result.stdout)) {
    throw new Error(`the seccomp filter compiles to ${Math.ceil(result.stdout.length / INSN_BYTES)} BPF instructions, more than the kernel's ${MAX_INSNS}`);
  }
  return result.stdout;
}
