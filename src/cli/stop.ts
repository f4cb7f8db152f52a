import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { resolveContainer } from '../engine/containers.js';
import { stopContainer } from '../engine/lifecycle.js';
import { parseInteger } from '../util/units.js';
import { eachContainer } from './each-container.js';

export function define(command: Command, context: () => Context): void {
  command
    .description('Stop one or more running containers')
    .argument('<container...>')
    .option('-t, --timeout <seconds>', 'Seconds to wait before killing the container')
    .option('--time <seconds>', 'Seconds to wait before killing the container (deprecated name)')
    .action(async (containers: string[], flags: { timeout?: string; time?: string }) => {
      const value = flags.timeout ?? flags.time;
      const timeout = value === undefined ? undefined : parseInteger('--timeout', value, -1);
      await eachContainer(containers, (ref) => stopContainer(context(), resolveContainer(context(), ref), timeout));
    });
}
