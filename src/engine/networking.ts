import { join } from 'node:path';
import { connectContainer, disconnectContainer, plugInto, unplugFrom, type ContainerNetworking } from '../network/container-network.js';
import { allocateEndpoint, endpointsOfContainer, releaseEndpoint } from '../network/ipam.js';
import { defaultNetwork, findNetwork, requireNetwork, type NetworkRecord } from '../network/networks.js';
import { netnsPath } from '../network/netns.js';
import { resolveHostPorts, sameHostPort, type PortMapping } from '../network/ports.js';
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
  allocateEndpoint(context, network, id, { ...(config.ip !== undefined ? { ip: config.ip } : {}), aliases: [...config.networkAliases] });
}

/** At removal: the container's addresses go back to their networks. */
export function releaseAtRemove(context: Context, id: string): void {
  for (const endpoint of endpointsOfContainer(context, id)) releaseEndpoint(context, endpoint.networkId, id);
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
 * The host ports of this start (Docker chooses them at each start): free on the host and not
 * held by another container of this store; recorded in the container's config for `port`,
 * `ps` and the teardown.
 */
async function publishPorts(context: Context, id: string, config: ContainerConfig): Promise<PortMapping[]> {
  if (!config.publish?.length) return [];
  const others = (context.db().prepare("SELECT config FROM containers WHERE id != ? AND status IN ('running', 'paused')").pluck().all(id) as string[])
    .flatMap((text) => (JSON.parse(text) as ContainerConfig).ports ?? []);
  const ports = await resolveHostPorts(config.publish, (mapping) => others.some((other) => sameHostPort(other, mapping)));
  const table = containerTable(context);
  const row = table.get(id);
  if (row) table.update(id, { config: JSON.stringify({ ...parseConfig(row), ports }) });
  return ports;
}

/** After an end: the namespace, veths and port rules gone. Never throws: cleanup goes on. */
export async function networkAfterEnd(context: Context, id: string, config: ContainerConfig): Promise<void> {
  try {
    await disconnectContainer(context, { id, ports: config.ports ?? [] });
  } catch {
    // Whatever is left is named after the container: system prune takes it.
  }
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
