import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { resolveContainer } from '../engine/containers.js';
import { waitForExit } from '../engine/lifecycle.js';
import { eachContainer } from './each-container.js';

export function define(command: Command, context: () => Context): void {
  command
    .description('Block until one or more containers stop, then print their exit codes')
    .argument('<container...>')
    .action(async (containers: string[]) => {
      await eachContainer(containers, async (ref) => {
        const ended = await waitForExit(context(), resolveContainer(context(), ref).id);
        return String(ended.exitCode ?? 0);
      });
    });
}
