import { readFileSync } from 'node:fs';
import type { Cidr } from './cidr.js';

/**
 * The destinations of the host's IPv4 routes (main table, /proc/net/route), which a new
 * network's subnet must not overlap. Default routes are left out, as Docker leaves them out:
 * they overlap everything.
 */
export function hostRoutes(): Cidr[] {
  return parseRoutes(readFileSync('/proc/net/route', 'utf8'));
}

/** The table's Destination and Mask columns are little-endian hex, as the kernel stores them. */
export function parseRoutes(table: string): Cidr[] {
  return table
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 8)
    .map(([, destination, , , , , , mask]) => ({ base: littleEndian(destination!), prefix: prefixLength(littleEndian(mask!)) }))
    .filter((route) => route.prefix > 0);
}

function littleEndian(hex: string): number {
  return Buffer.from(hex, 'hex').readUInt32LE(0);
}

function prefixLength(mask: number): number {
  return mask.toString(2).replace(/0+$/, '').length;
}
