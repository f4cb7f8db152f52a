import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { cleanupContainer } from '../engine/containers.js';

export function define(command: Command, context: () => Context): void {
  command
    .description("Release the resources of a container that has stopped (its shim's exit command)")
    .argument('<id>')
    .option('--run <token>', 'the run whose end this is (a later run is left alone)')
    .action(async (id: string, flags: { run?: string }) => {
      // The store may be gone (system reset, a test's temporary root): never recreate it.
      if (context().openExisting()) await cleanupContainer(context(), id, { run: flags.run });
    });
}
