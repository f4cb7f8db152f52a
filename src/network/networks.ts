import { createHash, randomBytes } from 'node:crypto';
import type { Context } from '../engine/context.js';
import type { Db } from '../store/database.js';
import { DEFAULT_ROOT } from '../store/paths.js';
import { WhaleboxError } from '../util/errors.js';
import { deleteBridge } from './bridge.js';
import { contains, formatAddress, formatCidr, nthAddress, overlaps, parseAddress, parseCidr, type Cidr } from './cidr.js';
import { removeNetworkRules } from './firewall.js';
import { hostRoutes } from './host-routes.js';
import { endpointsOnNetwork } from './ipam.js';

/** A network as the database holds it. Only Docker's `bridge` driver exists here. */
export interface NetworkRecord {
  readonly id: string;
  readonly name: string;
  readonly driver: 'bridge';
  readonly bridge: string;
  readonly subnet: string;
  readonly gateway: string;
  readonly ipRange?: string;
  readonly internal: boolean;
  readonly labels: Record<string, string>;
  readonly created: string;
}

export interface NetworkOptions {
  name: string;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  internal?: boolean;
  labels?: Record<string, string>;
  driver?: string;
}

/** The network containers join when they name none; Docker's name for it. */
export const DEFAULT_NETWORK = 'bridge';

/** Docker's predefined networks: their names are taken even where the network is not made yet. */
const PREDEFINED = [DEFAULT_NETWORK, 'host', 'none'];

/**
 * Where subnets come from when none is given: /16s that miss Docker's 172.17.0.0/16 and
 * Podman's 10.88.0.0/16, so that whalebox can run beside them.
 */
export const DEFAULT_POOLS: readonly Cidr[] = [
  ...Array.from({ length: 127 - 89 + 1 }, (_, i) => parseCidr(`10.${89 + i}.0.0/16`)),
  ...Array.from({ length: 31 - 18 + 1 }, (_, i) => parseCidr(`172.${18 + i}.0.0/16`)),
];

/** The first default pool that overlaps nothing taken (host routes, other networks). */
export function chooseSubnet(taken: readonly Cidr[]): Cidr {
  const free = DEFAULT_POOLS.find((pool) => !taken.some((cidr) => overlaps(pool, cidr)));
  if (!free) throw new WhaleboxError('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network', 1);
  return free;
}

/**
 * The bridge device of a network (at most 15 characters, IFNAMSIZ). The default network's name
 * comes from the store root, so that test stores never share one; the real store's is `whalebox0`.
 */
export function bridgeName(networkId: string, networkName: string, storeRoot: string): string {
  if (networkName !== DEFAULT_NETWORK) return `wb-${networkId.slice(0, 12)}`;
  return storeRoot === DEFAULT_ROOT ? 'whalebox0' : `wb0-${createHash('sha256').update(storeRoot).digest('hex').slice(0, 8)}`;
}

interface Row {
  id: string;
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
  ipRange: string | null;
  internal: number;
  labels: string;
  created: string;
}

const SELECT = 'SELECT id, name, bridge, subnet, gateway, ip_range AS ipRange, internal, labels, created FROM networks';

function fromRow(row: Row): NetworkRecord {
  const { ipRange, internal, labels, ...rest } = row;
  return { ...rest, driver: 'bridge', ...(ipRange === null ? {} : { ipRange }), internal: internal !== 0, labels: JSON.parse(labels) as Record<string, string> };
}

function byName(db: Db, name: string): NetworkRecord | undefined {
  const row = db.prepare(`${SELECT} WHERE name = ?`).get(name) as Row | undefined;
  return row && fromRow(row);
}

/**
 * By full ID, name, or unique ID prefix, in Docker's order; an ambiguous prefix is an error.
 * The name `bridge` always finds the default network (recorded then, if it was not yet).
 */
export function findNetwork(context: Context, nameOrId: string): NetworkRecord | undefined {
  if (nameOrId === DEFAULT_NETWORK) return defaultNetwork(context);
  const db = context.db();
  const byId = db.prepare(`${SELECT} WHERE id = ?`).get(nameOrId) as Row | undefined;
  if (byId) return fromRow(byId);
  const named = byName(db, nameOrId);
  if (named || !/^[0-9a-f]+$/.test(nameOrId)) return named;
  const rows = db.prepare(`${SELECT} WHERE id >= ? AND id < ? LIMIT 2`).all(nameOrId, `${nameOrId}g`) as Row[];
  if (rows.length > 1) throw new WhaleboxError(`network ${nameOrId} is ambiguous (${rows.length} matches found based on ID prefix)`, 1);
  return rows[0] && fromRow(rows[0]);
}

export function requireNetwork(context: Context, nameOrId: string): NetworkRecord {
  const network = findNetwork(context, nameOrId);
  if (!network) throw new WhaleboxError(`network ${nameOrId} not found`, 1);
  return network;
}

export function listNetworks(context: Context): NetworkRecord[] {
  return (context.db().prepare(`${SELECT} ORDER BY created, rowid`).all() as Row[]).map(fromRow);
}

/** Docker's checks of `--subnet`, `--gateway` and `--ip-range` (api/types/network ValidateIPAM). */
function validateAddressing(options: NetworkOptions): void {
  if (options.subnet === undefined) {
    if (options.gateway !== undefined || options.ipRange !== undefined) throw new WhaleboxError('every ip-range or gateway must have a corresponding subnet', 1);
    return;
  }
  const subnet = parseCidr(options.subnet);
  if (formatCidr(subnet) !== options.subnet) throw new WhaleboxError(`invalid subnet ${options.subnet}: it should be ${formatCidr(subnet)}`, 1);
  if (options.gateway !== undefined) {
    const gateway = parseAddressOr(options.gateway, `invalid gateway ${options.gateway}: invalid address`);
    if (!contains(subnet, gateway)) throw new WhaleboxError(`invalid gateway ${options.gateway}: parent subnet ${options.subnet} doesn't contain this address`, 1);
  }
  if (options.ipRange !== undefined) {
    const range = parseCidr(options.ipRange);
    const problem =
      formatCidr(range) !== options.ipRange
        ? `it should be ${formatCidr(range)}`
        : range.prefix < subnet.prefix
          ? `CIDR block is bigger than its parent subnet ${options.subnet}`
          : !overlaps(subnet, range)
            ? `parent subnet ${options.subnet} doesn't contain ip-range`
            : undefined;
    if (problem) throw new WhaleboxError(`invalid ip-range ${options.ipRange}: ${problem}`, 1);
  }
}

function parseAddressOr(text: string, message: string): number {
  try {
    return parseAddress(text);
  } catch {
    throw new WhaleboxError(message, 1);
  }
}

/**
 * Records a network (one immediate transaction, so that names and subnets stay unique under
 * concurrent calls). Its bridge device is made by `ensureBridge`.
 */
function insertNetwork(context: Context, options: NetworkOptions): NetworkRecord {
  const driver = options.driver ?? 'bridge';
  if (driver !== 'bridge') throw new WhaleboxError(`plugin "${driver}" not found`, 1);
  validateAddressing(options);
  const db = context.db();
  return db.transaction(() => {
    if (byName(db, options.name)) throw new WhaleboxError(`network with name ${options.name} already exists`, 1);
    const taken = [...listNetworks(context).map((network) => parseCidr(network.subnet)), ...hostRoutes()];
    let subnet: Cidr;
    if (options.subnet !== undefined) {
      subnet = parseCidr(options.subnet);
      if (taken.some((cidr) => overlaps(subnet, cidr))) throw new WhaleboxError('Pool overlaps with other one on this address space', 1);
    } else {
      subnet = chooseSubnet(taken);
    }
    const id = randomBytes(32).toString('hex');
    const network: NetworkRecord = {
      id,
      name: options.name,
      driver,
      bridge: bridgeName(id, options.name, context.paths.root),
      subnet: formatCidr(subnet),
      gateway: options.gateway ?? formatAddress(nthAddress(subnet, 1)),
      ...(options.ipRange === undefined ? {} : { ipRange: options.ipRange }),
      internal: options.internal ?? false,
      labels: options.labels ?? {},
      created: new Date().toISOString(),
    };
    db.prepare(
      'INSERT INTO networks (id, name, driver, bridge, subnet, gateway, ip_range, internal, labels, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(id, network.name, driver, network.bridge, network.subnet, network.gateway, network.ipRange ?? null, network.internal ? 1 : 0, JSON.stringify(network.labels), network.created);
    return network;
  }).immediate();
}

/** A user-defined network; the predefined names are refused as Docker refuses them. */
export function createNetwork(context: Context, options: NetworkOptions): NetworkRecord {
  if (PREDEFINED.includes(options.name)) throw new WhaleboxError(`network with name ${options.name} already exists`, 1);
  return insertNetwork(context, options);
}

/** The network named `bridge`, recorded on first use (by whichever process gets there first). */
export function defaultNetwork(context: Context): NetworkRecord {
  const db = context.db();
  // Its subnet, like Docker's --bip: WHALEBOX_BRIDGE_SUBNET, else the first free pool.
  const subnet = process.env.WHALEBOX_BRIDGE_SUBNET || undefined;
  return byName(db, DEFAULT_NETWORK) ?? db.transaction(() => byName(db, DEFAULT_NETWORK) ?? insertNetwork(context, { name: DEFAULT_NETWORK, ...(subnet ? { subnet } : {}) })).immediate();
}

/**
 * Removes a network without endpoints (Docker's messages otherwise): the record in one
 * transaction with the check, then its bridge device and its firewall rules.
 */
export async function removeNetwork(context: Context, nameOrId: string): Promise<void> {
  const network = requireNetwork(context, nameOrId);
  if (network.name === DEFAULT_NETWORK) throw new WhaleboxError(`${DEFAULT_NETWORK} is a pre-defined network and cannot be removed`, 1);
  const db = context.db();
  db.transaction(() => {
    if (endpointsOnNetwork(context, network.id).length) {
      throw new WhaleboxError(`error while removing network: network ${network.name} id ${network.id} has active endpoints`, 1);
    }
    db.prepare('DELETE FROM networks WHERE id = ?').run(network.id);
  }).immediate();
  await deleteBridge(network.bridge);
  await removeNetworkRules(network);
}
