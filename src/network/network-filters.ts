import type { Context } from '../engine/context.js';
import { booleanFilter, matchLabels, parseFilters } from '../engine/filters.js';
import { parseLogTime } from '../engine/logs.js';
import { WhaleboxError } from '../util/errors.js';
import { endpointsOnNetwork } from './ipam.js';
import { DEFAULT_NETWORK, listNetworks, removeNetwork, type NetworkRecord } from './networks.js';

/** Docker's filters.Match: any value equal to the text, or a regular expression found in it. */
function matchAny(values: readonly string[] | undefined, text: string): boolean {
  return (
    values === undefined ||
    values.some((value) => {
      try {
        return value === text || new RegExp(value).test(text);
      } catch {
        return false;
      }
    })
  );
}

function inUse(context: Context, network: NetworkRecord): boolean {
  return endpointsOnNetwork(context, network.id).length > 0;
}

/** `network ls` filters, as the daemon applies them (daemon/network/filter.go). */
export function filterNetworks(context: Context, networks: readonly NetworkRecord[], filterArgs: readonly string[]): NetworkRecord[] {
  const filters = parseFilters(filterArgs, ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
  for (const type of filters.get('type') ?? []) if (type !== 'custom' && type !== 'builtin') throw new WhaleboxError(`invalid filter: 'type'='${type}'`, 1);
  const dangling = filters.has('dangling') ? booleanFilter(filters, 'dangling', false) : undefined;
  const exact = (name: string, value: string): boolean => filters.get(name)?.includes(value) ?? true;
  return networks.filter(
    (network) =>
      exact('driver', network.driver) &&
      exact('scope', 'local') &&
      exact('type', network.name === DEFAULT_NETWORK ? 'builtin' : 'custom') &&
      matchAny(filters.get('name'), network.name) &&
      matchAny(filters.get('id'), network.id) &&
      matchLabels(filters, network.labels) &&
      (dangling === undefined || dangling === (network.name !== DEFAULT_NETWORK && !inUse(context, network))),
  );
}

/** The networks `network prune` removes: custom, without endpoints, within `until` and `label`. */
export function prunableNetworks(context: Context, networks: readonly NetworkRecord[], filterArgs: readonly string[]): NetworkRecord[] {
  const filters = parseFilters(filterArgs, ['label', 'label!', 'until']);
  const until = (filters.get('until') ?? []).map((value) => Number(parseLogTime(value) / 1_000_000n));
  return networks.filter(
    (network) =>
      network.name !== DEFAULT_NETWORK &&
      until.every((time) => Date.parse(network.created) < time) &&
      matchLabels(filters, network.labels) &&
      !inUse(context, network),
  );
}

/** `network prune`: removes the prunable networks; the names of those removed (one a container joined meanwhile stays). */
export async function pruneNetworks(context: Context, filterArgs: readonly string[]): Promise<string[]> {
  const deleted: string[] = [];
  for (const network of prunableNetworks(context, listNetworks(context), filterArgs)) {
    try {
      await removeNetwork(context, network.id);
      deleted.push(network.name);
    } catch (err) {
      if (!(err instanceof WhaleboxError)) throw err;
    }
  }
  return deleted;
}
