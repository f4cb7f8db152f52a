import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { containerTop } from '../engine/stats.js';
import { formatTable } from './format.js';

export function define(command: Command, context: () => Context): void {
  command
    .description('Display the running processes of a container')
    .usage('CONTAINER [ps OPTIONS]')
    .argument('<container>')
    .argument('[ps-options...]')
    // Everything after the container is for ps (`top web -o pid,comm`).
    .passThroughOptions()
    .action(async (container: string, psArgs: string[]) => {
      const { titles, processes } = await containerTop(context(), container, psArgs);
      // The docker CLI prints it with tabwriter.NewWriter(out, 20, 1, 3, ' ', 0).
      process.stdout.write(formatTable([titles, ...processes], 20));
    });
}
