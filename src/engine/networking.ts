import { join } from 'node:path';
import { connectContainer, disconnectContainer, plugInto, unplugFrom, type ContainerNetworking } from '../network/container-network.js';
import { allocateEndpoint, endpointsOfContainer, releaseEndpoint } from '../network/ipam.js';
import { defaultNetwork, findNetwork, requireNetwork, type NetworkRecord } from '../network/networks.js';
import { netnsPath } from '../network/netns.js';
import { resolveHostPorts, type PortMapping } from '../network/ports.js';
import type { LinuxNamespace } from '../runtime/oci-spec.js';
import type { Bundle } from '../runtime/runtime.js';
import { WhaleboxError } from '../util/errors.js';
import type { ContainerConfig } from './container-config.js';
import type { Context } from './context.js';
import { containerTable, parseConfig, refreshContainer, resolveContainer } from './containers.js';

/**
 * The engine's side of container networking (Docker's --network modes): which namespace the
 * spec names, the endpoint IPAM gives at create (kept until the container is removed, so its
 * address survives restarts), and the namespace set up before each start and torn down after
 * each end (src/network/container-network.ts).
 */

const CONTAINER_MODE = 'container:';

/** The network (a record) a bridge-mode container joins; undefined for none, host and container:NAME. */
export function bridgeNetwork(context: Context, mode: string): NetworkRecord | undefined {
  if (mode === 'none' || mode === 'host' || mode === 'default' || mode.startsWith(CONTAINER_MODE)) return undefined;
  if (mode === 'bridge') return defaultNetwork(context);
  const network = findNetwork(context, mode);
  // docker run's status for it, 125 (the network commands say the same with 1).
  if (network === undefined) throw new WhaleboxError(`network ${mode} not found`);
  return network;
}

/** The spec's network namespace: none on the host's, new (lo only), or one prepared beforehand. */
export function networkNamespace(id: string, mode: string): LinuxNamespace | undefined {
  if (mode === 'host') return undefined;
  if (mode === 'none' || mode === 'default') return { type: 'network' };
  // container:NAME is that container's namespace, found at each start (its PID changes).
  if (mode.startsWith(CONTAINER_MODE)) return { type: 'network', path: '' };
  return { type: 'network', path: netnsPath(id) };
}

/** At create: the address on the container's network (`--ip`, `--network-alias`). */
export function attachAtCreate(context: Context, id: string, config: ContainerConfig): void {
  const network = bridgeNetwork(context, config.network);
  if (network === undefined) {
    if (config.ip !== undefined) throw new WhaleboxError('user specified IP address is supported on user defined networks only');
    return;
  }
  if (config.ip !== undefined && network.name === 'bridge') {
    throw new WhaleboxError('user specified IP address is supported on user defined networks only');
  }
  if (config.networkAliases.length > 0 && network.name === 'bridge') {
    throw new WhaleboxError('network-scoped alias is supported only for containers in user defined networks');
  }
  allocateEndpoint(context, network, id, { ...(config.ip !== undefined ? { ip: config.ip } : {}), aliases: [...config.networkAliases] });
}

/** At removal: the container's addresses go back to their networks. */
export function releaseAtRemove(context: Context, id: string): void {
  for (const endpoint of endpointsOfContainer(context, id)) releaseEndpoint(context, endpoint.networkId, id);
  releasePorts(context, id);
}

/** Before a start: the namespace ready, and the bundle to launch (with container:NAME resolved). */
export async function networkBeforeStart(context: Context, name: string, config: ContainerConfig, bundle: Bundle): Promise<Bundle> {
  if (config.network.startsWith(CONTAINER_MODE)) return joinContainer(context, config.network.slice(CONTAINER_MODE.length), bundle);
  if (bridgeNetwork(context, config.network) === undefined) return bundle;
  const ports = await publishPorts(context, bundle.id, config);
  await connectContainer(context, networking(context, bundle.id, name, { ...config, ports }));
  return bundle;
}

/**
 * The host ports of this start (Docker chooses them at each start): free on the host and
 * reserved in the store (port_bindings: one container per protocol and port, so two starts at
 * once cannot both take one); recorded in the container's config for `port`, `ps` and teardown.
 */
async function publishPorts(context: Context, id: string, config: ContainerConfig): Promise<PortMapping[]> {
  if (!config.publish?.length) return [];
  const db = context.db();
  for (let attempt = 0; ; attempt++) {
    const held = db.prepare('SELECT protocol, host_port AS port FROM port_bindings WHERE container_id != ?').all(id) as Array<{ protocol: string; port: number }>;
    const ports = await resolveHostPorts(config.publish, (mapping) => held.some((h) => h.protocol === mapping.protocol && h.port === mapping.hostPort));
    try {
      db.transaction(() => {
        db.prepare('DELETE FROM port_bindings WHERE container_id = ?').run(id);
        const insert = db.prepare('INSERT INTO port_bindings (container_id, protocol, host_port, host_ip) VALUES (?, ?, ?, ?)');
        for (const port of ports) insert.run(id, port.protocol, port.hostPort, port.hostIp);
        const row = containerTable(context).get(id);
        if (row) containerTable(context).update(id, { config: JSON.stringify({ ...parseConfig(row), ports }) });
      }).immediate();
      return ports;
    } catch (err) {
      // Another start took one of these ports between the check and the reservation: a chosen
      // port is chosen again; a port asked for is Docker's error.
      if (!String(err).includes('UNIQUE constraint failed: port_bindings')) throw err;
      const lost = ports.find((port) => db.prepare('SELECT 1 FROM port_bindings WHERE protocol = ? AND host_port = ? AND container_id != ?').get(port.protocol, port.hostPort, id));
      const explicit = config.publish.some((spec) => lost && spec.hostPort === lost.hostPort && spec.protocol === lost.protocol);
      if (explicit || attempt === 4) throw new WhaleboxError(`Bind for ${lost?.hostIp || '0.0.0.0'}:${lost?.hostPort} failed: port is already allocated`);
    }
  }
}

/** After an end: the namespace, veths and port rules gone, the host ports free. Never throws: cleanup goes on. */
export async function networkAfterEnd(context: Context, id: string, config: ContainerConfig): Promise<void> {
  try {
    await disconnectContainer(context, { id, ports: config.ports ?? [] });
    // A write only for a container that published ports (every end passes here).
    if (config.publish?.length) releasePorts(context, id);
  } catch {
    // Whatever is left is named after the container: the next start or removal takes it.
  }
}

/** The container's published ports go back (after its end, at removal). */
function releasePorts(context: Context, id: string): void {
  context.db().prepare('DELETE FROM port_bindings WHERE container_id = ?').run(id);
}

function networking(context: Context, id: string, name: string, config: ContainerConfig): ContainerNetworking {
  return {
    id,
    hostname: config.hostname ?? id.slice(0, 12),
    names: [name],
    ports: config.ports ?? [],
    extraHosts: config.addHosts,
    hostsFile: join(context.paths.containers, id, 'hosts'),
  };
}

/** `--network container:NAME`: the init of NAME, running, lends its network namespace. */
async function joinContainer(context: Context, reference: string, bundle: Bundle): Promise<Bundle> {
  const row = await refreshContainer(context, resolveContainer(context, reference, 125));
  if ((row.status !== 'running' && row.status !== 'paused') || row.pid === null) {
    throw new WhaleboxError(`cannot join network namespace of a non running container: ${reference}`);
  }
  const namespaces = bundle.spec.linux.namespaces.map((ns) => (ns.type === 'network' ? { ...ns, path: `/proc/${row.pid}/ns/net` } : ns));
  return { ...bundle, spec: { ...bundle.spec, linux: { ...bundle.spec.linux, namespaces } } };
}

/** `network connect`: an address on one more network, plugged in at once when the container runs. */
export async function connectNetwork(context: Context, networkName: string, reference: string, options: { ip?: string; aliases: string[] }): Promise<void> {
  const network = requireNetwork(context, networkName);
  const row = await refreshContainer(context, resolveContainer(context, reference));
  const config = parseConfig(row);
  if (bridgeNetwork(context, config.network) === undefined) {
    throw new WhaleboxError('container sharing network namespace with another container or host cannot be connected to any other network', 1);
  }
  const endpoint = allocateEndpoint(context, network, row.id, { ...(options.ip !== undefined ? { ip: options.ip } : {}), aliases: options.aliases });
  if (row.status !== 'running' && row.status !== 'paused') return;
  try {
    await plugInto(context, networking(context, row.id, row.name, config), endpoint);
  } catch (err) {
    releaseEndpoint(context, network.id, row.id);
    throw err;
  }
}

/** `network disconnect`: the container leaves the network (its veth there too, if it runs). */
export async function disconnectNetwork(context: Context, networkName: string, reference: string): Promise<void> {
  const network = requireNetwork(context, networkName);
  const row = await refreshContainer(context, resolveContainer(context, reference));
  const endpoint = endpointsOfContainer(context, row.id).find((candidate) => candidate.networkId === network.id);
  if (endpoint === undefined) throw new WhaleboxError(`container ${row.id} is not connected to network ${network.name}`, 1);
  if (row.status === 'running' || row.status === 'paused') {
    await unplugFrom(context, networking(context, row.id, row.name, parseConfig(row)), endpoint);
  } else {
    releaseEndpoint(context, network.id, row.id);
  }
}
