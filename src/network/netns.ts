/**
 * A container's network namespace is a named one (/run/netns/NAME, as `ip netns` keeps them),
 * so that `ip -n NAME` can configure it and the shim can join it by path.
 */

export const NETNS_DIR = '/run/netns';

/** The namespace of a container (a file in /run/netns; the container ID keeps it unique). */
export function netnsName(containerId: string): string {
  return `whalebox-${containerId}`;
}

export function netnsPath(containerId: string): string {
  return `${NETNS_DIR}/${netnsName(containerId)}`;
}
