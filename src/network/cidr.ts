import { WhaleboxError } from '../util/errors.js';

/**
 * IPv4 addresses as unsigned 32-bit numbers, and CIDR blocks as their first address and prefix
 * length. Errors carry Docker's messages, status 1 (daemon errors).
 */
export interface Cidr {
  /** The network address: host bits are zero. */
  readonly base: number;
  readonly prefix: number;
}

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/** A dotted quad as a number, or undefined (Go's net.ParseIP rejects leading zeros too). */
function toNumber(text: string): number | undefined {
  const match = IPV4.exec(text);
  return match ? match.slice(1).reduce((value, octet) => value * 256 + Number(octet), 0) : undefined;
}

export function parseAddress(text: string): number {
  const value = toNumber(text);
  if (value === undefined) throw new WhaleboxError(`invalid IPv4 address: ${text}`, 1);
  return value;
}

export function formatAddress(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** `10.89.0.0/16`; host bits are dropped (`formatCidr` of the result then differs from the text). */
export function parseCidr(text: string): Cidr {
  const [address, prefixText, extra] = text.split('/');
  const ip = toNumber(address ?? '');
  const prefix = Number(prefixText);
  if (ip === undefined || extra !== undefined || !/^\d{1,2}$/.test(prefixText ?? '') || prefix > 32) {
    throw new WhaleboxError(`invalid CIDR address: ${text}`, 1);
  }
  return { base: (ip & mask(prefix)) >>> 0, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatAddress(cidr.base)}/${cidr.prefix}`;
}

export function contains(cidr: Cidr, address: number): boolean {
  return ((address & mask(cidr.prefix)) >>> 0) === cidr.base;
}

/** Whether the blocks share an address (one then holds the other). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b.base) || contains(b, a.base);
}

/** The block's last address. */
export function broadcast(cidr: Cidr): number {
  return (cidr.base | ~mask(cidr.prefix)) >>> 0;
}

/** The `n`th address of the block (0 is the network address). */
export function nthAddress(cidr: Cidr, n: number): number {
  if (n < 0 || cidr.base + n > broadcast(cidr)) throw new RangeError(`${formatCidr(cidr)} has no address ${n}`);
  return cidr.base + n;
}
