import type { Context } from '../engine/context.js';
import { ContainerTable } from '../store/containers.js';
import { parseCidr } from './cidr.js';
import { endpointId, endpointsOnNetwork } from './ipam.js';
import type { NetworkRecord } from './networks.js';

/** `network inspect`'s object, in Docker's shape and key order (api/types/network Inspect). */
export function inspectNetwork(context: Context, network: NetworkRecord): Record<string, unknown> {
  const prefix = parseCidr(network.subnet).prefix;
  const containers = new ContainerTable(context.db());
  return {
    Name: network.name,
    Id: network.id,
    Created: network.created,
    Scope: 'local',
    Driver: network.driver,
    EnableIPv6: false,
    IPAM: {
      Driver: 'default',
      Options: {},
      Config: [{ Subnet: network.subnet, ...(network.ipRange === undefined ? {} : { IPRange: network.ipRange }), Gateway: network.gateway }],
    },
    Internal: network.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: Object.fromEntries(
      endpointsOnNetwork(context, network.id).map((endpoint) => [
        endpoint.containerId,
        {
          Name: containers.get(endpoint.containerId)?.name ?? '',
          EndpointID: endpointId(endpoint),
          MacAddress: endpoint.mac,
          IPv4Address: `${endpoint.ip}/${prefix}`,
          IPv6Address: '',
        },
      ]),
    ),
    Options: { 'com.docker.network.bridge.name': network.bridge },
    Labels: network.labels,
  };
}
