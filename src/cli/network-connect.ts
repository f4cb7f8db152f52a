import type { Command } from 'commander';
import type { Context } from '../engine/context.js';

interface ConnectFlags {
  ip?: string;
  alias: string[];
}

export function defineNetworkConnect(command: Command, context: () => Context): void {
  command
    .description('Connect a container to a network')
    .usage('[OPTIONS] NETWORK CONTAINER')
    .argument('<network>')
    .argument('<container>')
    .option('--ip <address>', 'IPv4 address (e.g., 172.30.100.104)')
    .option('--alias <alias>', 'Add network-scoped alias for the container', (value: string, previous: string[]) => [...previous, value], [])
    .action(async (network: string, container: string, flags: ConnectFlags) => {
      const { connectNetwork } = await import('../engine/networking.js');
      const { parseHostName } = await import('../engine/container-config.js');
      const aliases = flags.alias.map((alias) => parseHostName('--alias', alias));
      await connectNetwork(context(), network, container, { ...(flags.ip !== undefined ? { ip: flags.ip } : {}), aliases });
    });
}

export function defineNetworkDisconnect(command: Command, context: () => Context): void {
  command
    .description('Disconnect a container from a network')
    .usage('[OPTIONS] NETWORK CONTAINER')
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', 'Force the container to disconnect from a network')
    .action(async (network: string, container: string) => {
      const { disconnectNetwork } = await import('../engine/networking.js');
      await disconnectNetwork(context(), network, container);
    });
}
