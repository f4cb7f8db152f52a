import { parseCidr } from './cidr.js';
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
