import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { bringUpNetwork } from '../network/bridge.js';
import { filterNetworks, pruneNetworks } from '../network/network-filters.js';
import { inspectNetwork } from '../network/network-inspect.js';
import { createNetwork, defaultNetwork, listNetworks, removeNetwork, requireNetwork } from '../network/networks.js';
import { WhaleboxError } from '../util/errors.js';
import { confirm } from './confirm.js';
import { goTime, printEntries } from './format.js';
import { compileFormat } from './go-template.js';

/**
 * The `network` group's commands, one `define` each; commands.ts lists them (NETWORK_COMMANDS),
 * so a new subcommand is one module and one line there.
 */

const repeatable = (value: string, previous: string[]): string[] => [...previous, value];

/** `--label k=v` (or `k`, an empty value), as Docker's opts.ConvertKVStringsToMap. */
function parseLabels(args: readonly string[]): Record<string, string> {
  return Object.fromEntries(args.map((arg) => [arg.split('=')[0]!, arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : '']));
}

export function defineNetworkCreate(command: Command, context: () => Context): void {
  command
    .description('Create a network')
    .usage('[OPTIONS] NETWORK')
    .argument('<network>')
    .option('-d, --driver <driver>', 'Driver to manage the Network', 'bridge')
    .option('--subnet <subnet>', 'Subnet in CIDR format that represents a network segment')
    .option('--gateway <address>', 'IPv4 Gateway for the master subnet')
    .option('--ip-range <range>', 'Allocate container ip from a sub-range')
    .option('--internal', 'Restrict external access to the network')
    .option('--label <label>', 'Set metadata on a network', repeatable, [])
    .action(async (name: string, flags: { driver: string; subnet?: string; gateway?: string; ipRange?: string; internal?: boolean; label: string[] }) => {
      const ctx = context();
      const { label, ...options } = flags;
      const network = createNetwork(ctx, { name, ...options, labels: parseLabels(label) });
      try {
        await bringUpNetwork(network);
      } catch (err) {
        await removeNetwork(ctx, network.id);
        throw err;
      }
      process.stdout.write(`${network.id}\n`);
    });
}

const HEADERS: Record<string, string> = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED' };

/** Go's sortorder.NaturalLess, as the docker CLI orders `network ls`: digit runs by value. */
function naturalCompare(a: string, b: string): number {
  const [left, right] = [a, b].map((text) => text.match(/\d+|\D+/g) ?? []);
  for (let i = 0; i < Math.min(left!.length, right!.length); i++) {
    const [x, y] = [left![i]!, right![i]!];
    const numeric = /^\d/.test(x) && /^\d/.test(y) ? Number(x) - Number(y) : 0;
    if (numeric !== 0) return numeric;
    if (x !== y) return x < y ? -1 : 1;
  }
  return left!.length - right!.length;
}

export function defineNetworkLs(command: Command, context: () => Context): void {
  command
    .description('List networks')
    .option('-f, --filter <filter>', "Provide filter values (e.g. 'driver=bridge')", repeatable, [])
    .option('--format <format>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
    .option('--no-trunc', 'Do not truncate the output')
    .option('-q, --quiet', 'Only display network IDs')
    .action((flags: { filter: string[]; format?: string; trunc: boolean; quiet?: boolean }) => {
      const ctx = context();
      defaultNetwork(ctx); // listed as in Docker, where it always exists
      const networks = filterNetworks(ctx, listNetworks(ctx), flags.filter).sort((a, b) => naturalCompare(a.name, b.name));
      const entries = networks.map((network) => ({
        CreatedAt: goTime(network.created),
        Driver: network.driver,
        ID: flags.trunc ? network.id.slice(0, 12) : network.id,
        IPv6: 'false',
        Internal: String(network.internal),
        Labels: Object.entries(network.labels).map(([key, value]) => `${key}=${value}`).join(','),
        Name: network.name,
        Scope: 'local',
      }));
      // As in Docker, -q applies to the default format only.
      const defaultTable = flags.quiet ? '{{.ID}}' : 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
      printEntries(entries, flags.format, defaultTable, HEADERS);
    });
}

export function defineNetworkInspect(command: Command, context: () => Context): void {
  command
    .description('Display detailed information on one or more networks')
    .argument('<network...>')
    .option('-f, --format <template>', 'Format output using a custom template')
    .option('-v, --verbose', 'Verbose output for diagnostics')
    .action((names: string[], flags: { format?: string }) => {
      const ctx = context();
      const found: Record<string, unknown>[] = [];
      const missing: string[] = [];
      for (const name of names) {
        try {
          found.push(inspectNetwork(ctx, requireNetwork(ctx, name)));
        } catch (err) {
          if (!(err instanceof WhaleboxError)) throw err;
          missing.push(err.message);
        }
      }
      const compiled = flags.format === undefined ? undefined : compileFormat(flags.format);
      process.stdout.write(compiled ? found.map((item) => `${compiled.render(item)}\n`).join('') : `${JSON.stringify(found, null, 4)}\n`);
      for (const message of missing) process.stderr.write(`whalebox: ${message}\n`);
      if (missing.length) process.exitCode = 1;
    });
}

export function defineNetworkRm(command: Command, context: () => Context): void {
  command
    .description('Remove one or more networks')
    .usage('[OPTIONS] NETWORK [NETWORK...]')
    .argument('<network...>')
    .option('-f, --force', 'Do not error if the network does not exist')
    .action(async (names: string[], flags: { force?: boolean }) => {
      // As the docker CLI: every network is tried; each one removed is echoed as it was named.
      for (const name of names) {
        try {
          await removeNetwork(context(), name);
          process.stdout.write(`${name}\n`);
        } catch (err) {
          if (!(err instanceof WhaleboxError)) throw err;
          if (flags.force && err.message === `network ${name} not found`) continue;
          process.stderr.write(`whalebox: ${err.message}\n`);
          process.exitCode = 1;
        }
      }
    });
}

export function defineNetworkPrune(command: Command, context: () => Context): void {
  command
    .description('Remove all unused networks')
    .option('--filter <filter>', "Provide filter values (e.g. 'until=<timestamp>')", repeatable, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (flags: { filter: string[]; force?: boolean }) => {
      if (!flags.force && !confirm('WARNING! This will remove all custom networks not used by at least one container.')) return;
      const deleted = await pruneNetworks(context(), flags.filter);
      if (deleted.length) process.stdout.write(`Deleted Networks:\n${deleted.join('\n')}\n\n`);
    });
}
