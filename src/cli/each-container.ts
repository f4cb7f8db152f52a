import { WhaleboxError } from '../util/errors.js';

/**
 * Runs an action on each container named, as docker's multi-container commands do: the
 * reference is printed after each success, an error line after each failure, and the status
 * is 1 if any failed.
 */
export async function eachContainer(references: readonly string[], action: (reference: string) => Promise<string | void>): Promise<void> {
  let failed = false;
  for (const reference of references) {
    try {
      const printed = await action(reference);
      process.stdout.write(`${printed ?? reference}\n`);
    } catch (err) {
      if (!(err instanceof WhaleboxError)) throw err;
      process.stderr.write(`whalebox: ${err.message}\n`);
      failed = true;
    }
  }
  if (failed) process.exitCode = 1;
}
