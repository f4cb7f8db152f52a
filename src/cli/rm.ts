import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { resolveContainer } from '../engine/containers.js';
import { deleteContainer } from '../engine/lifecycle.js';
import { eachContainer } from './each-container.js';

export function define(command: Command, context: () => Context): void {
  command
    .description('Remove one or more containers')
    .argument('<container...>')
    .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'Remove anonymous volumes associated with the container')
    .action(async (containers: string[], flags: { force?: boolean }) => {
      await eachContainer(containers, (ref) => deleteContainer(context(), resolveContainer(context(), ref), flags.force ?? false));
    });
}
