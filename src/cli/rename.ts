import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { resolveContainer } from '../engine/containers.js';
import { renameContainer } from '../engine/lifecycle.js';

export function define(command: Command, context: () => Context): void {
  command
    .description('Rename a container')
    .argument('<container>')
    .argument('<new-name>')
    .action((container: string, newName: string) => {
      renameContainer(context(), resolveContainer(context(), container), newName);
    });
}
