import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { cleanupContainer } from '../engine/containers.js';

export function register(program: Command, context: () => Context): void {
  const container = program.command('container').description('Manage containers');
  container
    .command('cleanup')
    .description('Release the resources of a container that has stopped (run by its shim)')
    .argument('<id>')
    .action(async (id: string) => {
      await cleanupContainer(context(), id);
    });
}
