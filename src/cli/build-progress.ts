import type { BuildProgress, Vertex } from '../engine/build/builder.js';

/** Lines of a failed step's output kept for the error summary, as BuildKit shows them. */
const TAIL_LINES = 10;

/**
 * BuildKit's plain progress (`--progress=plain`), on stderr: `#N name`, the step's output
 * lines with seconds since it began, then `#N DONE 0.3s`, `#N CACHED` or `#N ERROR: …`.
 */
export class PlainProgress implements BuildProgress {
  private count = 0;
  /** The failed step and the last lines of its output, for the summary after the error. */
  failure: { name: string; tail: string[] } | undefined;

  constructor(private readonly write: (text: string) => void) {}

  vertex(name: string): Vertex {
    const id = ++this.count;
    const began = performance.now();
    const seconds = (): string => ((performance.now() - began) / 1000).toFixed(1);
    const tail: string[] = [];
    let partial = '';
    const line = (text: string): void => {
      tail.push(text);
      if (tail.length > TAIL_LINES) tail.shift();
      this.write(`#${id} ${((performance.now() - began) / 1000).toFixed(3)} ${text}\n`);
    };
    const flush = (): void => {
      if (partial !== '') line(partial);
      partial = '';
    };
    this.write(`#${id} ${name}\n`);
    return {
      log: (text) => this.write(`#${id} ${text}\n`),
      output: (chunk) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop()!;
        for (const text of lines) line(text);
      },
      cached: () => this.write(`#${id} CACHED\n\n`),
      done: () => {
        flush();
        this.write(`#${id} DONE ${seconds()}s\n\n`);
      },
      fail: (message) => {
        flush();
        this.failure = { name, tail: [...tail] };
        this.write(`#${id} ERROR: ${message}\n\n`);
      },
    };
  }

  warn(message: string): void {
    this.write(`[Warning] ${message}\n`);
  }
}

/** `-q`: nothing but the image ID, which the command prints itself. */
export class QuietProgress implements BuildProgress {
  vertex(): Vertex {
    const nothing = (): void => {};
    return { log: nothing, output: nothing, cached: nothing, done: nothing, fail: nothing };
  }

  warn(): void {}
}

/**
 * BuildKit's error summary: the failed step with its last output lines, the Dockerfile lines
 * around the instruction (`>>>` marking it), and the cause.
 */
export function errorSummary(
  message: string,
  dockerfileName: string,
  dockerfile: string,
  where: { line: number; endLine: number } | undefined,
  failure: { name: string; tail: string[] } | undefined,
): string {
  const parts: string[] = [];
  if (failure) parts.push('------', ` > ${failure.name}:`, ...failure.tail.map((text) => `${text}`), '------');
  if (where) {
    const lines = dockerfile.split(/\r?\n/);
    const first = Math.max(1, where.line - 2);
    const last = Math.min(lines.length, where.endLine + 2);
    const width = String(last).length + 3;
    parts.push(`${dockerfileName}:${where.line === where.endLine ? where.line : `${where.line}-${where.endLine}`}`, '--------------------');
    for (let n = first; n <= last; n++) {
      const marker = n >= where.line && n <= where.endLine ? '>>>' : '   ';
      parts.push(`${String(n).padStart(width)} | ${marker} ${lines[n - 1] ?? ''}`.trimEnd());
    }
    parts.push('--------------------');
  }
  parts.push(`ERROR: failed to solve: ${message}`);
  return `${parts.join('\n')}\n`;
}
