import { readSync } from 'node:fs';

/** Docker's `[y/N]` question on stderr; anything but y/yes (or no input at all) is no. */
export function confirm(warning: string): boolean {
  process.stderr.write(`${warning}\nAre you sure you want to continue? [y/N] `);
  const buffer = Buffer.alloc(256);
  let answer = '';
  try {
    answer = buffer.toString('utf8', 0, readSync(0, buffer, 0, buffer.length, null));
  } catch {
    // No readable stdin: the answer is no.
  }
  return /^\s*y(es)?\s*$/i.test(answer);
}
