/**
 * An error meant for the user: one line, no stack trace, and the exit status Docker would use
 * (125 when whalebox itself fails, 126/127 for a command that cannot run).
 */
export class WhaleboxError extends Error {
  constructor(
    message: string,
    readonly exitCode = 125,
  ) {
    super(message);
    this.name = 'WhaleboxError';
  }
}

/** The errno name of a Node.js system error, or undefined for anything else. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}
