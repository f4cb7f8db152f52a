import { closeSync, existsSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import type { Context } from '../engine/context.js';
import { parseCidr } from './cidr.js';
import { bringUpNetwork } from './bridge.js';
import { addPortRules, removeContainerRules } from './firewall.js';
import { endpointsOfContainer, endpointsOnNetwork, releaseEndpoint, type Endpoint } from './ipam.js';
import { requireNetwork } from './networks.js';
import { runProcess } from '../util/run-process.js';
import { runIpBatch } from './ip-batch.js';
import { netnsName, netnsPath } from './netns.js';
import type { PortMapping } from './ports.js';

/**
 * A container's place on its bridge networks, made before each start and taken down after each
 * end: a network namespace holding one veth end per network (eth0, eth1, …) with the address
 * IPAM gave it at create, the other end on the network's bridge, a default route through the
 * first network's gateway, and the published ports' rules. Every piece is named after the
 * container (namespace, host veth from its endpoint row, rule comments), so teardown, after a
 * crash included, finds it all from the container's ID.
 */

export interface ContainerNetworking {
  readonly id: string;
  readonly hostname: string;
  /** The container's name, and its --network-alias values, for peers' hosts files. */
  readonly names: readonly string[];
  readonly ports: readonly PortMapping[];
  /** `--add-host` lines for its hosts file (`NAME:IP`). */
  readonly extraHosts: readonly string[];
  /** The bundle's hosts file, bound on /etc/hosts. */
  readonly hostsFile: string;
}

/** Sets up the container's namespace; undefined-safe for containers without bridge networks. */
export async function connectContainer(context: Context, container: ContainerNetworking): Promise<void> {
  const endpoints = endpointsOfContainer(context, container.id);
  // A namespace left by a start that died half-way goes first: this start makes it anew.
  if (existsSync(netnsPath(container.id))) await disconnectContainer(context, container);
  if (endpoints.length === 0) {
    // Disconnected from every network: its spec still names the namespace, with only lo in it.
    await runIpBatch([`netns add ${netnsName(container.id)}`]);
    await runIpBatch(['link set lo up'], { netns: netnsName(container.id) });
    return;
  }
  const networks = endpoints.map((endpoint) => requireNetwork(context, endpoint.networkId));
  for (const network of networks) await bringUpNetwork(network);
  const name = netnsName(container.id);
  // The host end of a previous run goes with its namespace, in the kernel's own time (see
  // disconnectContainer); one still there now would block the name.
  const lingering = endpoints.filter((endpoint) => existsSync(`/sys/class/net/${endpoint.hostVeth}`));
  await runIpBatch([
    ...lingering.map((endpoint) => `link del ${endpoint.hostVeth}`),
    `netns add ${name}`,
    ...endpoints.flatMap((endpoint, i) => [
      `link add ${endpoint.hostVeth} type veth peer name eth${i} netns ${name}`,
      `link set ${endpoint.hostVeth} master ${networks[i]!.bridge} up`,
    ]),
  ]);
  await runIpBatch(
    [
      'link set lo up',
      ...endpoints.flatMap((endpoint, i) => [
        `link set eth${i} address ${endpoint.mac}`,
        `addr add ${endpoint.ip}/${parseCidr(networks[i]!.subnet).prefix} dev eth${i}`,
        `link set eth${i} up`,
      ]),
      // An internal network leads nowhere: no default route (as in Docker).
      ...(networks[0]!.internal ? [] : [`route add default via ${networks[0]!.gateway}`]),
    ],
    { netns: name },
  );
  if (container.ports.length > 0) await addPortRules(container.id, networks[0]!, endpoints[0]!.ip, container.ports);
  refreshHostsFiles(context, endpoints, container);
}

/**
 * `network connect` of a running container: one more veth into its namespace, named after the
 * first free ethN there, configured like those made at start.
 */
export async function plugInto(context: Context, container: ContainerNetworking, endpoint: Endpoint): Promise<void> {
  const network = requireNetwork(context, endpoint.networkId);
  await bringUpNetwork(network);
  const name = netnsName(container.id);
  const used = await linkNames(name);
  let index = 0;
  while (used.has(`eth${index}`)) index++;
  const device = `eth${index}`;
  await runIpBatch([`link add ${endpoint.hostVeth} type veth peer name ${device} netns ${name}`, `link set ${endpoint.hostVeth} master ${network.bridge} up`]);
  await runIpBatch(
    [`link set ${device} address ${endpoint.mac}`, `addr add ${endpoint.ip}/${parseCidr(network.subnet).prefix} dev ${device}`, `link set ${device} up`],
    { netns: name },
  );
  refreshHostsFiles(context, endpointsOfContainer(context, container.id), container);
}

/**
 * `network disconnect` of a running container: its veth on that network goes, the address goes
 * back to IPAM, and the hosts files forget it there.
 */
export async function unplugFrom(context: Context, container: ContainerNetworking, endpoint: Endpoint): Promise<void> {
  // Published ports lead to the first network's address: once that address is released (and
  // perhaps given to another container), the rules must not lead there any more.
  const first = endpointsOfContainer(context, container.id)[0];
  if (container.ports.length > 0 && first?.networkId === endpoint.networkId) await removeContainerRules(container.id);
  await runIpBatch([`link del ${endpoint.hostVeth}`], { tolerate: /Cannot find device/ });
  refreshHostsFiles(context, [endpoint]);
  releaseEndpoint(context, endpoint.networkId, container.id);
  refreshHostsFiles(context, endpointsOfContainer(context, container.id), container);
}

async function linkNames(netns: string): Promise<Set<string>> {
  const { stdout } = await runProcess('ip', ['-n', netns, '-o', 'link', 'show']);
  return new Set([...stdout.matchAll(/^\d+: ([^:@]+)[@:]/gm)].map((match) => match[1]!));
}

/** Takes the namespace, veths and port rules away; safe to run when some or all are gone. */
export async function disconnectContainer(context: Context, container: Pick<ContainerNetworking, 'id' | 'ports'>): Promise<void> {
  const endpoints = endpointsOfContainer(context, container.id);
  if (container.ports.length > 0) await removeContainerRules(container.id);
  // Deleting the namespace destroys its veth ends, and with them the host ends, asynchronously
  // (a `link del` here would wait for the kernel's network-wide sync, tens of milliseconds).
  // Host ends whose peer never reached the namespace are deleted explicitly.
  const namespace = existsSync(netnsPath(container.id));
  const orphans = namespace ? [] : endpoints.filter((endpoint) => existsSync(`/sys/class/net/${endpoint.hostVeth}`));
  if (!namespace && orphans.length === 0) return;
  await runIpBatch([...(namespace ? [`netns del ${netnsName(container.id)}`] : []), ...orphans.map((endpoint) => `link del ${endpoint.hostVeth}`)], {
    tolerate: /Cannot find device|No such file or directory|Cannot remove namespace file/,
  });
  refreshHostsFiles(context, endpoints);
}

/** What a hosts file needs of a container. */
interface Member {
  readonly hostsFile: string;
  readonly extraHosts: readonly string[];
  /** Its hostname and name; aliases are per network. */
  readonly names: readonly string[];
}

/**
 * Names on user-defined networks resolve through hosts files (see DESIGN.md): every running
 * container on such a network lists the others there, by the address they have on it, with
 * name, hostname and aliases on it; on the default `bridge`, as in Docker, a container knows
 * only itself. Rewritten in place (the file is bind-mounted: a rename would leave the
 * container with the old one) for the container that starts and for those sharing a
 * user-defined network with the one that starts, stops, connects or disconnects.
 */
function refreshHostsFiles(context: Context, changed: readonly Endpoint[], starting?: ContainerNetworking): void {
  // One refresh at a time, store-wide (SQLite's write lock): two containers starting together
  // each see the other, and no file is written by two processes at once.
  context.db().transaction(() => writeHostsFiles(context, changed, starting)).immediate();
}

/**
 * A peer is a container whose namespace exists (set up, not yet torn down): unlike the
 * record's status, that holds from before the shim starts until after it ends.
 */
function writeHostsFiles(context: Context, changed: readonly Endpoint[], starting?: ContainerNetworking): void {
  const leaving = starting ? new Set<string>() : new Set(changed.map((endpoint) => `${endpoint.networkId} ${endpoint.containerId}`));
  const present = (endpoint: Endpoint): boolean =>
    !leaving.has(`${endpoint.networkId} ${endpoint.containerId}`) && (endpoint.containerId === starting?.id || existsSync(netnsPath(endpoint.containerId)));
  // The present endpoints of a user-defined network (none counted on the default bridge).
  const onNetwork = new Map<string, Endpoint[]>();
  const presentOn = (networkId: string): Endpoint[] => {
    let endpoints = onNetwork.get(networkId);
    if (endpoints === undefined) {
      endpoints = requireNetwork(context, networkId).name === 'bridge' ? [] : endpointsOnNetwork(context, networkId).filter(present);
      onNetwork.set(networkId, endpoints);
    }
    return endpoints;
  };
  const affected = new Set([...(starting ? [starting.id] : []), ...changed.flatMap(({ networkId }) => presentOn(networkId).map((endpoint) => endpoint.containerId))]);
  const members = new Map<string, Member>();
  const member = (id: string): Member | undefined => {
    if (!members.has(id)) {
      const found = memberOf(context, id, starting);
      if (found) members.set(id, found);
    }
    return members.get(id);
  };
  const line = (endpoint: Endpoint): string => `${endpoint.ip}\t${[...new Set([...(member(endpoint.containerId)?.names ?? []), ...endpoint.aliases])].join(' ')}`;
  for (const id of affected) {
    const self = member(id);
    const own = endpointsOfContainer(context, id).filter(present);
    if (self === undefined || own[0] === undefined) continue;
    // Itself, then its peers on each of its user-defined networks, by their address there.
    const lines = [line(own[0])];
    for (const endpoint of own) {
      for (const other of presentOn(endpoint.networkId)) if (other.containerId !== id) lines.push(line(other));
    }
    writeHosts(self.hostsFile, lines, self.extraHosts);
  }
}

function memberOf(context: Context, id: string, starting?: ContainerNetworking): Member | undefined {
  if (starting?.id === id) return { hostsFile: starting.hostsFile, extraHosts: starting.extraHosts, names: [starting.hostname, ...starting.names] };
  const row = context.db().prepare('SELECT name, config FROM containers WHERE id = ?').get(id) as { name: string; config: string } | undefined;
  if (row === undefined) return undefined;
  const config = JSON.parse(row.config) as { hostname?: string; addHosts?: string[] };
  return {
    hostsFile: joinPath(context.paths.containers, id, 'hosts'),
    extraHosts: config.addHosts ?? [],
    names: [config.hostname ?? id.slice(0, 12), row.name],
  };
}

/** The hosts file every container starts with (Docker's), plus its --add-host entries. */
export function baseHostsFile(extraHosts: readonly string[]): string {
  return hostsText([], extraHosts);
}

const LOCAL_HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

function writeHosts(file: string, lines: readonly string[], extraHosts: readonly string[]): void {
  let fd: number;
  try {
    fd = openSync(file, 'r+');
  } catch {
    return; // the container's bundle is gone (removed meanwhile)
  }
  // The same inode, which the bind mount shows (a rename would not be seen): written over,
  // then cut to length, so that a reader never finds it empty.
  try {
    const text = Buffer.from(hostsText(lines, extraHosts));
    writeSync(fd, text, 0, text.length, 0);
    ftruncateSync(fd, text.length);
  } finally {
    closeSync(fd);
  }
}

/** `--add-host NAME:IP` entries come first, as Docker writes them. */
function hostsText(lines: readonly string[], extraHosts: readonly string[]): string {
  const extra = extraHosts.map((entry) => {
    const colon = entry.indexOf(':');
    return `${entry.slice(colon + 1)}\t${entry.slice(0, colon)}`;
  });
  return `${[...LOCAL_HOSTS, ...extra, ...lines].join('\n')}\n`;
}
