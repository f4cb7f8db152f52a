import { createHash } from 'node:crypto';
import type { Context } from '../engine/context.js';
import type { Db } from '../store/database.js';
import { WhaleboxError } from '../util/errors.js';
import { broadcast, contains, formatAddress, parseAddress, parseCidr } from './cidr.js';
import type { NetworkRecord } from './networks.js';

/** A container's attachment to a network: its address there and the host end of its veth pair. */
export interface Endpoint {
  readonly networkId: string;
  readonly containerId: string;
  readonly ip: string;
  readonly mac: string;
  readonly hostVeth: string;
  readonly aliases: readonly string[];
}

type Row = Omit<Endpoint, 'aliases'> & { aliases: string };

const SELECT = 'SELECT network_id AS networkId, container_id AS containerId, ip, mac, host_veth AS hostVeth, aliases FROM endpoints';

function fromRow(row: Row): Endpoint {
  return { ...row, aliases: JSON.parse(row.aliases) as string[] };
}

export function endpointsOfContainer(context: Context, containerId: string): Endpoint[] {
  return (context.db().prepare(`${SELECT} WHERE container_id = ? ORDER BY rowid`).all(containerId) as Row[]).map(fromRow);
}

export function endpointsOnNetwork(context: Context, networkId: string): Endpoint[] {
  return (context.db().prepare(`${SELECT} WHERE network_id = ? ORDER BY rowid`).all(networkId) as Row[]).map(fromRow);
}

/** Docker's MAC for an address: the locally administered prefix 02:42, then the 4 IP bytes. */
export function macAddress(ip: number): string {
  return ['02', '42', ...[24, 16, 8, 0].map((shift) => ((ip >>> shift) & 255).toString(16).padStart(2, '0'))].join(':');
}

/** Docker's endpoint IDs are 64 hex; this one is derived, so that no column has to keep it. */
export function endpointId(endpoint: Pick<Endpoint, 'networkId' | 'containerId'>): string {
  return createHash('sha256').update(`endpoint:${endpoint.networkId}:${endpoint.containerId}`).digest('hex');
}

/**
 * `veth` and 7 hex of a hash of the pair (15 characters, IFNAMSIZ); on the rare collision with
 * another endpoint the hash is taken again with a counter.
 */
function hostVethName(db: Db, containerId: string, networkId: string): string {
  for (let attempt = 0; ; attempt++) {
    const name = `veth${createHash('sha256').update(`${containerId}:${networkId}:${attempt}`).digest('hex').slice(0, 7)}`;
    if (!db.prepare('SELECT 1 FROM endpoints WHERE host_veth = ?').get(name)) return name;
  }
}

/** The lowest address of the pool that is neither taken nor reserved, or Docker's error. */
function lowestFree(network: NetworkRecord, taken: ReadonlySet<number>): number {
  const pool = parseCidr(network.ipRange ?? network.subnet);
  for (let address = pool.base; address <= broadcast(pool); address++) if (!taken.has(address)) return address;
  throw new WhaleboxError(`no available IPv4 addresses on this network's address pools: ${network.name} (${network.id})`, 1);
}

/**
 * Gives a container an address on a network, in one immediate transaction (concurrent calls get
 * distinct addresses): the one asked for (anywhere in the subnet, as Docker allows), else the
 * lowest free one of the ip-range (or subnet). The network, gateway and broadcast addresses are
 * never given.
 */
export function allocateEndpoint(context: Context, network: NetworkRecord, containerId: string, options: { ip?: string; aliases?: string[] }): Endpoint {
  const subnet = parseCidr(network.subnet);
  const requested = options.ip === undefined ? undefined : parseAddress(options.ip);
  if (requested !== undefined && !contains(subnet, requested)) throw new WhaleboxError(`no configured subnet or ip-range contain the IP address ${options.ip}`, 1);
  const db = context.db();
  return db.transaction(() => {
    const endpoints = endpointsOnNetwork(context, network.id);
    if (endpoints.some((endpoint) => endpoint.containerId === containerId)) {
      throw new WhaleboxError(`endpoint with name ${containerId} already exists in network ${network.name}`, 1);
    }
    const taken = new Set([subnet.base, broadcast(subnet), parseAddress(network.gateway), ...endpoints.map((endpoint) => parseAddress(endpoint.ip))]);
    if (requested !== undefined && taken.has(requested)) throw new WhaleboxError('Address already in use', 1);
    const ip = requested ?? lowestFree(network, taken);
    const endpoint: Endpoint = {
      networkId: network.id,
      containerId,
      ip: formatAddress(ip),
      mac: macAddress(ip),
      hostVeth: hostVethName(db, containerId, network.id),
      aliases: options.aliases ?? [],
    };
    db.prepare('INSERT INTO endpoints (network_id, container_id, ip, mac, host_veth, aliases) VALUES (?, ?, ?, ?, ?, ?)').run(
      endpoint.networkId,
      endpoint.containerId,
      endpoint.ip,
      endpoint.mac,
      endpoint.hostVeth,
      JSON.stringify(endpoint.aliases),
    );
    return endpoint;
  }).immediate();
}

/** Frees a container's address on a network; the endpoint as it was, if there was one. */
export function releaseEndpoint(context: Context, networkId: string, containerId: string): Endpoint | undefined {
  const db = context.db();
  return db.transaction(() => {
    const row = db.prepare(`${SELECT} WHERE network_id = ? AND container_id = ?`).get(networkId, containerId) as Row | undefined;
    if (row) db.prepare('DELETE FROM endpoints WHERE network_id = ? AND container_id = ?').run(networkId, containerId);
    return row && fromRow(row);
  }).immediate();
}
