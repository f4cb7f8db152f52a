import { spawn, type StdioOptions } from 'node:child_process';
import { constants } from 'node:os';
import { join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { encodePlan, ReportDecoder, type PlanRecord } from './shim-protocol.js';
import { installRoot } from '../util/install-root.js';

/** One reported step: what it was, how it ended, how long it took in the shim. */
export interface StepReport {
  readonly record: PlanRecord;
  readonly errno: number;
  readonly micros: number;
}

export interface LaunchResult {
  /** The shim's own PID. */
  readonly shimPid?: number;
  /** The container's PID as the host sees it, when clone succeeded. */
  readonly pid?: number;
  readonly started: boolean;
  /** Exit status (or -1) and the signal that ended PID 1 (or 0), when it was reaped. */
  readonly exit?: { code: number; signal: number };
  readonly steps: readonly StepReport[];
  /** The step that failed, if the container never got to run its command. */
  readonly failed?: StepReport;
  /** The shim's own failure (bad plan, clone refused, ...). */
  readonly fatal?: { stage: string; errno: number };
  /** The shim's exit status; undefined when it was left running (detached). */
  readonly status?: number;
  /** Wall time from spawn to the shim's exit (or to `started` when detached), milliseconds. */
  readonly wallMs: number;
}

export interface LaunchOptions {
  readonly plan: readonly PlanRecord[];
  /**
   * `foreground`: the container's stdio is the caller's (stdin only if `stdin`), the caller
   * waits for the exit and passes signals on. `detach`: the shim gets a session of its own and
   * no stdio of the caller's; the promise resolves once the command started (or failed).
   */
  readonly mode: 'foreground' | 'detach';
  readonly stdin?: boolean;
  /** Foreground only: receives the container's stdout and stderr instead of the caller's stdio. */
  readonly output?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** Foreground only: kills the shim (and so its container) when it aborts. */
  readonly signal?: AbortSignal;
  readonly onPid?: (pid: number, shimPid: number) => void;
}

/** Signals the CLI passes on to the container, as Docker's --sig-proxy does. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export function shimPath(): string {
  return process.env.WHALEBOX_SHIM ?? join(installRoot(), 'native', 'whalebox-shim');
}

/** Runs the shim with a plan and collects its reports. */
export function launch(options: LaunchOptions): Promise<LaunchResult> {
  const began = performance.now();
  const detach = options.mode === 'detach';
  const stdio: StdioOptions = detach
    ? ['ignore', 'ignore', 'ignore', 'pipe', 'pipe']
    : [options.stdin ? 'inherit' : 'ignore', options.output ? 'pipe' : 'inherit', options.output ? 'pipe' : 'inherit', 'pipe', 'pipe'];
  const shim = spawn(shimPath(), [], { stdio, detached: detach });
  const { output, signal } = options;
  if (output && !detach) {
    shim.stdout!.on('data', (chunk: Buffer) => output('stdout', chunk));
    shim.stderr!.on('data', (chunk: Buffer) => output('stderr', chunk));
  }
  const kill = (): void => void shim.kill('SIGKILL');
  if (signal?.aborted) kill();
  signal?.addEventListener('abort', kill, { once: true });
  const planPipe = shim.stdio[3] as Writable;
  const reportPipe = shim.stdio[4] as Readable;
  // The shim may die before reading the plan; that shows up in its status, not as EPIPE here.
  planPipe.on('error', () => {});
  planPipe.end(encodePlan(options.plan));

  const steps: StepReport[] = [];
  let pid: number | undefined;
  let started = false;
  let exit: LaunchResult['exit'];
  let fatal: LaunchResult['fatal'];
  const result = (status?: number): LaunchResult => ({
    shimPid: shim.pid,
    pid,
    started,
    exit,
    steps,
    failed: steps.find((s) => s.errno !== 0),
    fatal,
    status,
    wallMs: performance.now() - began,
  });

  const forward = (name: NodeJS.Signals): void => {
    shim.kill(name);
  };
  if (!detach) for (const name of FORWARDED_SIGNALS) process.on(name, forward);
  const stopForwarding = (): void => {
    for (const name of FORWARDED_SIGNALS) process.off(name, forward);
    signal?.removeEventListener('abort', kill);
  };

  return new Promise((resolve, reject) => {
    const decoder = new ReportDecoder();
    reportPipe.on('data', (chunk: Buffer) => {
      for (const [kind, ...fields] of decoder.push(chunk)) {
        const numbers = fields.map(Number);
        if (kind === 'step') {
          const record = options.plan[numbers[0]!];
          if (record) steps.push({ record, errno: numbers[1]!, micros: numbers[2]! });
        } else if (kind === 'pid') {
          pid = numbers[0];
          try {
            options.onPid?.(pid!, shim.pid!);
          } catch (err) {
            // Unrecorded, the container must not run: its shim dies and takes it along.
            shim.kill('SIGKILL');
            reject(err);
          }
        } else if (kind === 'started') {
          started = true;
          if (detach) {
            // Leave the shim to itself: it notices nobody listens and runs the exit command.
            reportPipe.destroy();
            shim.unref();
            resolve(result());
          }
        } else if (kind === 'exit') {
          exit = { code: numbers[0]!, signal: numbers[1]! };
        } else if (kind === 'fatal') {
          fatal = { stage: fields[0]!, errno: numbers[1]! };
        }
      }
    });
    shim.on('error', (err) => {
      stopForwarding();
      reject(new Error(`cannot start ${shimPath()}: ${err.message}`));
    });
    // 'close' waits for the report pipe to drain as well as for the exit.
    shim.on('close', (code, signal) => {
      stopForwarding();
      resolve(result(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
  });
}

/** `no such file or directory (ENOENT)` for an errno number. */
export function describeErrno(errno: number): string {
  const entry = getSystemErrorMap().get(-errno);
  return entry ? `${entry[1]} (${entry[0]})` : `errno ${errno}`;
}
