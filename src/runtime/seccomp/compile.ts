import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { release, version } from 'node:os';
import { shimPath } from '../launcher.js';
import type { LinuxSeccomp } from '../oci-spec.js';
import { compileArgs } from './compile-args.js';
import { memo } from './memo.js';

/** A program is struct sock_filter[] (8 bytes each), and the kernel takes at most 4096. */
const INSN_BYTES = 8;
const MAX_INSNS = 4096;

/**
 * The filter as the BPF program that the shim's `seccomp` step loads. libseccomp (in the shim)
 * takes about 10 ms to compile Docker's default profile, too long for every start: programs
 * are kept in CACHE (the run root's, see memo.ts), keyed by everything they depend on: the
 * filter, the shim binary (a rebuilt one may have a newer libseccomp), the kernel.
 */
export function seccompProgram(seccomp: LinuxSeccomp, cache?: string): Buffer {
  const shim = statSync(shimPath());
  const key = JSON.stringify([shim.dev, shim.ino, shim.size, shim.mtimeMs, release(), version(), process.arch, seccomp]);
  const program = memo(cache, 'bpf', key, () => compile(compileArgs(seccomp)));
  if (!isProgram(program)) throw new Error('a kept seccomp program is damaged; remove the run root\'s seccomp directory');
  return program;
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
