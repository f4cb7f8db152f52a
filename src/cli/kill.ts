import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { resolveContainer } from '../engine/containers.js';
import { killContainer, parseSignal } from '../engine/lifecycle.js';
import { eachContainer } from './each-container.js';

export function define(command: Command, context: () => Context): void {
  command
    .description('Kill one or more running containers')
    .argument('<container...>')
    .option('-s, --signal <signal>', 'Signal to send to the container', 'KILL')
    .action(async (containers: string[], flags: { signal: string }) => {
      const signal = parseSignal(flags.signal);
      await eachContainer(containers, (ref) => killContainer(context(), resolveContainer(context(), ref), signal));
    });
}
