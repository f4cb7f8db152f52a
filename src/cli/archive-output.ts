import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { WhaleboxError } from '../util/errors.js';

/**
 * Where an archive (`save`, `export`) may go, checked before any work: never to a terminal
 * (Docker's refusal), and with -o only into a directory that exists.
 */
export function checkOutput(file: string | undefined): void {
  if (file === undefined && process.stdout.isTTY) {
    throw new WhaleboxError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
  }
  if (file !== undefined && !existsSync(dirname(resolve(file)))) {
    throw new WhaleboxError(`invalid output path: directory "${dirname(resolve(file))}" does not exist`, 1);
  }
}

/**
 * Writes an archive to stdout, or to FILE through a temporary file beside it that is renamed
 * into place at the end (as the docker CLI does), so that a failure never leaves a partial FILE.
 */
export async function writeArchive(tar: Readable, file: string | undefined): Promise<void> {
  // Loaded on use: this module is part of every command's start-up.
  const { pipeline } = await import('node:stream/promises');
  if (file === undefined) return pipeline(tar, process.stdout, { end: false });
  const temp = join(dirname(resolve(file)), `.whalebox_temp_${randomBytes(6).toString('hex')}`);
  try {
    await pipeline(tar, createWriteStream(temp, { flags: 'wx' }));
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}
