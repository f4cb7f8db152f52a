import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { parseConfig, resolveContainer } from '../engine/containers.js';
import { formatPortCommand } from '../network/ports.js';

export function define(command: Command, context: () => Context): void {
  command
    .description('List port mappings or a specific mapping for the container')
    .usage('CONTAINER [PRIVATE_PORT[/PROTO]]')
    .argument('<container>')
    .argument('[private-port]')
    .action((container: string, privatePort: string | undefined) => {
      const row = resolveContainer(context(), container);
      // The mappings resolved at start; a container that never started has none, as in Docker.
      process.stdout.write(formatPortCommand(parseConfig(row).ports ?? [], container, privatePort));
    });
}
