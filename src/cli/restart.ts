import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { resolveContainer } from '../engine/containers.js';
import { restartByUser } from '../engine/lifecycle.js';
import { parseInteger } from '../util/units.js';
import { eachContainer } from './each-container.js';

export function define(command: Command, context: () => Context): void {
  command
    .description('Restart one or more containers')
    .argument('<container...>')
    .option('-t, --timeout <seconds>', 'Seconds to wait before killing the container')
    .action(async (containers: string[], flags: { timeout?: string }) => {
      const timeout = flags.timeout === undefined ? undefined : parseInteger('--timeout', flags.timeout, -1);
      await eachContainer(containers, (ref) => restartByUser(context(), resolveContainer(context(), ref), timeout));
    });
}
