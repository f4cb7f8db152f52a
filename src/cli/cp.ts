import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { WhaleboxError } from '../util/errors.js';
import { humanSize } from './format.js';

interface CpFlags {
  archive?: boolean;
  followLink?: boolean;
  quiet?: boolean;
}

/**
 * Docker's splitCpArg: `CONTAINER:PATH`, unless the argument is an absolute path or starts
 * with `.` (so that `./file:name` stays a local file with a colon in its name).
 */
function splitCopyArgument(argument: string): { container?: string; path: string } {
  const colon = argument.indexOf(':');
  if (argument.startsWith('/') || argument.startsWith('.') || colon <= 0) return { path: colon === 0 ? argument.slice(1) : argument };
  return { container: argument.slice(0, colon), path: argument.slice(colon + 1) };
}

export function define(command: Command, context: () => Context): void {
  command
    .description('Copy files/folders between a container and the local filesystem')
    .usage('[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       whalebox cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH')
    .argument('<source>')
    .argument('<destination>')
    .option('-a, --archive', 'Archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'Always follow symbol link in SRC_PATH')
    .option('-q, --quiet', 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached')
    .action(async (source: string, destination: string, flags: CpFlags) => {
      const from = splitCopyArgument(source);
      const to = splitCopyArgument(destination);
      const options = { archive: flags.archive ?? false, followLink: flags.followLink ?? false };
      let copied: { bytes: number; to: string };
      if (from.container !== undefined && to.container !== undefined) {
        throw new WhaleboxError('copying between containers is not supported', 1);
      } else if (from.container !== undefined) {
        const target = to.path === '-' ? process.stdout : to.path;
        // Loaded on use: tar and stream code would cost every other command its start-up time.
        const { copyFromContainer } = await import('../engine/copy/index.js');
        copied = { bytes: await copyFromContainer(context(), from.container, from.path, target, options), to: to.path === '-' ? '-' : resolve(to.path) };
      } else if (to.container !== undefined) {
        const input = from.path === '-' ? process.stdin : from.path;
        const { copyToContainer } = await import('../engine/copy/index.js');
        copied = { bytes: await copyToContainer(context(), input, to.container, to.path, options), to: `${to.container}:${to.path}` };
      } else {
        throw new WhaleboxError('must specify at least one container source', 1);
      }
      // As Docker: only for a person watching, and never in the middle of a tar on stdout.
      if (!flags.quiet && process.stderr.isTTY && copied.to !== '-') {
        process.stderr.write(`Successfully copied ${humanSize(copied.bytes)} to ${copied.to}\n`);
      }
    });
}
