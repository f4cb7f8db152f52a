import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseCidr } from './cidr.js';
import { addNetworkRules } from './firewall.js';
import { runIpBatch } from './ip-batch.js';
import type { NetworkRecord } from './networks.js';

/**
 * The Linux bridge of a network, with the gateway address on it and up. Idempotent (a device or
 * address that is there already is fine), so that whoever attaches a container can call it:
 * devices do not survive a reboot, records do.
 */
export async function ensureBridge(network: NetworkRecord): Promise<void> {
  await runIpBatch(
    [
      `link add name ${network.bridge} type bridge`,
      `addr add ${network.gateway}/${parseCidr(network.subnet).prefix} brd + dev ${network.bridge}`,
      `link set ${network.bridge} up`,
    ],
    { tolerate: /File exists|Address already assigned/ },
  );
}

/** Deletes the bridge device, if there is one. */
export async function deleteBridge(name: string): Promise<void> {
  await runIpBatch([`link del ${name}`], { tolerate: /Cannot find device/ });
}

/**
 * A network's host side: its bridge and its firewall rules, made together (and removed
 * together, with the network or by a reboot, which takes both). A bridge in place therefore
 * means its rules are too, and a container start costs no process for them.
 */
export async function bringUpNetwork(network: NetworkRecord): Promise<void> {
  if (existsSync(`/sys/class/net/${network.bridge}`)) return;
  await ensureBridge(network);
  await addNetworkRules(network);
  // As Docker's default (--ip-forward): without it nothing is routed between the bridge and the
  // host's other interfaces, and a container cannot reach a port another container publishes
  // on the host's address (hairpin). An internal network needs none of that.
  if (!network.internal) enableForwarding();
}

function enableForwarding(): void {
  const file = '/proc/sys/net/ipv4/ip_forward';
  if (readFileSync(file, 'utf8').trim() !== '1') writeFileSync(file, '1\n');
}
