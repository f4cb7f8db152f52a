import type { Command } from 'commander';
import { WhaleboxError } from '../util/errors.js';
import type { Context } from '../engine/context.js';
import { resolveContainer } from '../engine/containers.js';
import { startContainer, waitForExit } from '../engine/lifecycle.js';
import { containerLogs } from '../engine/logs.js';
import { eachContainer } from './each-container.js';
import { writeLogEntry } from './logs.js';

export function define(command: Command, context: () => Context): void {
  command
    .description('Start one or more stopped containers')
    .argument('<container...>')
    .option('-a, --attach', "Attach STDOUT/STDERR and forward signals")
    .option('-i, --interactive', "Attach container's STDIN")
    .action(async (containers: string[], flags: { attach?: boolean; interactive?: boolean }) => {
      if (flags.interactive) throw new WhaleboxError('start -i needs attach support, which is not implemented yet');
      if (!flags.attach) {
        await eachContainer(containers, (ref) => startContainer(context(), resolveContainer(context(), ref)));
        return;
      }
      if (containers.length > 1) throw new WhaleboxError('you cannot start and attach multiple containers at once');
      const row = resolveContainer(context(), containers[0]!);
      const since = BigInt(Date.now()) * 1_000_000n;
      await startContainer(context(), row);
      await containerLogs(context(), row.id, { follow: true, since, write: (entry) => writeLogEntry(entry, false) });
      process.exitCode = (await waitForExit(context(), row.id))?.exitCode ?? 0;
    });
}
