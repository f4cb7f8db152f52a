import { existsSync, writeFileSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import type { Context } from '../engine/context.js';
import { parseCidr } from './cidr.js';
import { bringUpNetwork } from './bridge.js';
import { addPortRules, removeContainerRules } from './firewall.js';
import { endpointsOfContainer, endpointsOnNetwork, type Endpoint } from './ipam.js';
import { requireNetwork } from './networks.js';
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
  if (endpoints.length === 0) return;
  // A namespace left by a start that died half-way goes first: this start makes it anew.
  if (existsSync(netnsPath(container.id))) await disconnectContainer(context, container);
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

interface Peer {
  readonly id: string;
  readonly ip: string;
  readonly names: readonly string[];
  readonly hostsFile: string;
  readonly extraHosts: readonly string[];
}

/**
 * Names on user-defined networks resolve through hosts files (see DESIGN.md): every running
 * container on such a network lists the others there by name, alias and hostname; on the
 * default `bridge`, as in Docker, a container knows only itself. Rewritten in place (the file
 * is bind-mounted: a rename would leave the container with the old one) for the container that
 * starts and for those sharing a user-defined network with the one that starts or stops.
 */
function refreshHostsFiles(context: Context, changed: readonly Endpoint[], starting?: ContainerNetworking): void {
  const running = new Set(
    context.db().prepare("SELECT id FROM containers WHERE status IN ('running', 'paused')").pluck().all() as string[],
  );
  if (starting) running.add(starting.id);
  else for (const endpoint of changed) running.delete(endpoint.containerId);
  const members = new Map<string, Peer>();
  const networksOf = new Map<string, Set<string>>();
  const join = (endpoint: Endpoint, networkId?: string): void => {
    const peer = members.get(endpoint.containerId) ?? peerOf(context, endpoint, starting);
    if (peer === undefined) return;
    members.set(peer.id, peer);
    const shared = networksOf.get(peer.id) ?? new Set<string>();
    if (networkId !== undefined) shared.add(networkId);
    networksOf.set(peer.id, shared);
  };
  if (starting && changed[0]) join(changed[0]);
  for (const endpoint of changed) {
    if (requireNetwork(context, endpoint.networkId).name === 'bridge') continue;
    for (const member of endpointsOnNetwork(context, endpoint.networkId)) {
      if (running.has(member.containerId)) join(member, endpoint.networkId);
    }
  }
  for (const member of members.values()) {
    const lines = [`${member.ip}\t${member.names.join(' ')}`];
    for (const other of members.values()) {
      const shared = [...(networksOf.get(other.id) ?? [])].some((id) => networksOf.get(member.id)?.has(id));
      if (other.id !== member.id && shared) lines.push(`${other.ip}\t${other.names.join(' ')}`);
    }
    writeHosts(member.hostsFile, lines, member.extraHosts);
  }
}

function peerOf(context: Context, endpoint: Endpoint, starting?: ContainerNetworking): Peer | undefined {
  if (starting?.id === endpoint.containerId) {
    const names = [...new Set([starting.hostname, ...starting.names, ...endpoint.aliases])];
    return { id: starting.id, ip: endpoint.ip, names, hostsFile: starting.hostsFile, extraHosts: starting.extraHosts };
  }
  const row = context.db().prepare('SELECT name, config FROM containers WHERE id = ?').get(endpoint.containerId) as { name: string; config: string } | undefined;
  if (row === undefined) return undefined;
  const config = JSON.parse(row.config) as { hostname?: string; addHosts?: string[] };
  const hostname = config.hostname ?? endpoint.containerId.slice(0, 12);
  return {
    id: endpoint.containerId,
    ip: endpoint.ip,
    names: [...new Set([hostname, row.name, ...endpoint.aliases])],
    hostsFile: joinPath(context.paths.containers, endpoint.containerId, 'hosts'),
    extraHosts: config.addHosts ?? [],
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
  if (!existsSync(file)) return; // the container's bundle is gone (removed meanwhile)
  // writeFileSync truncates and writes the same inode, which the bind mount shows.
  writeFileSync(file, hostsText(lines, extraHosts));
}

/** `--add-host NAME:IP` entries come first, as Docker writes them. */
function hostsText(lines: readonly string[], extraHosts: readonly string[]): string {
  const extra = extraHosts.map((entry) => {
    const colon = entry.indexOf(':');
    return `${entry.slice(colon + 1)}\t${entry.slice(0, colon)}`;
  });
  return `${[...LOCAL_HOSTS, ...extra, ...lines].join('\n')}\n`;
}
