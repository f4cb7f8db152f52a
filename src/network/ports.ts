import { isIPv4 } from 'node:net';
import { WhaleboxError, errnoCode } from '../util/errors.js';

/**
 * Published ports: Docker's `-p/--publish`, `-P/--publish-all` and `--expose`, the host ports
 * they resolve to, and how `ps` and `port` print them. IPv4 only for now.
 */

export type Protocol = 'tcp' | 'udp';

export interface PortSpec {
  /** '' = all addresses. */
  readonly hostIp: string;
  /** 0 = choose one. */
  readonly hostPort: number;
  /** With `-p 8000-8010:80`: the host port is the first free one of hostPort..hostPortEnd. */
  readonly hostPortEnd?: number;
  readonly containerPort: number;
  readonly protocol: Protocol;
}

export interface PortMapping extends PortSpec {
  /** Resolved: never 0. */
  readonly hostPort: number;
}

export interface ExposedPort {
  readonly port: number;
  readonly protocol: Protocol;
}

/** Docker's range for host ports it chooses (/proc/sys/net/ipv4/ip_local_port_range aside). */
const EPHEMERAL_FIRST = 49153;
const EPHEMERAL_LAST = 65535;

/** go-connections' parsePortRange: `N` or `N-M`, each 0..65535, N <= M; undefined if not. */
function parseRange(text: string): [number, number] | undefined {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = match[2] === undefined ? start : Number(match[2]);
  return start <= end && end <= 65535 ? [start, end] : undefined;
}

/** Docker accepts sctp as well; whalebox's firewall rules cover tcp and udp. */
function parseProtocol(text: string): Protocol {
  const proto = text.toLowerCase();
  if (proto === 'tcp' || proto === 'udp') return proto;
  if (proto === 'sctp') throw new WhaleboxError('invalid proto: sctp (whalebox publishes tcp and udp ports only)');
  throw new WhaleboxError(`invalid proto: ${proto}`);
}

/** go-connections' splitParts: the last two colon-separated parts are ports, the rest the IP. */
function splitParts(raw: string): [ip: string, hostPort: string, containerPort: string] {
  const parts = raw.split(':');
  const n = parts.length;
  if (n === 1) return ['', '', parts[0]!];
  return [parts.slice(0, n - 2).join(':'), parts[n - 2]!, parts[n - 1]!];
}

/** One `-p [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]`, with Docker's checks in Docker's order. */
function parseOne(raw: string): PortSpec[] {
  const [ip, hostPort, containerPart] = splitParts(raw);
  const slash = containerPart.indexOf('/');
  const containerPort = slash < 0 ? containerPart : containerPart.slice(0, slash);
  if (containerPort === '') throw new WhaleboxError(`no port specified: ${raw}<empty>`);
  const protocol = parseProtocol(slash < 0 || slash === containerPart.length - 1 ? 'tcp' : containerPart.slice(slash + 1));
  if (ip.startsWith('[') || ip.includes(':')) {
    throw new WhaleboxError(`invalid IP address: ${ip}: whalebox publishes on IPv4 addresses only (give an IPv4 address or none for all)`);
  }
  if (ip !== '' && !isIPv4(ip)) throw new WhaleboxError(`invalid IP address: ${ip}`);
  const container = parseRange(containerPort);
  if (!container || container[0] === 0) throw new WhaleboxError(`invalid containerPort: ${containerPort}`);
  const host = hostPort === '' ? undefined : parseRange(hostPort);
  if (hostPort !== '' && !host) throw new WhaleboxError(`invalid hostPort: ${hostPort}`);
  const count = container[1] - container[0] + 1;
  if (host && host[1] - host[0] + 1 !== count && count !== 1) {
    throw new WhaleboxError(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  }
  return Array.from({ length: count }, (_, i) => {
    const spec: PortSpec = { hostIp: ip, hostPort: host ? host[0] + i : 0, containerPort: container[0] + i, protocol };
    // One container port with a host range: Docker allocates in the range.
    return host && count === 1 && host[1] !== host[0] ? { ...spec, hostPortEnd: host[1] } : spec;
  });
}

/** Docker's `-p/--publish` values. */
export function parsePublish(values: readonly string[]): PortSpec[] {
  return values.flatMap(parseOne);
}

/** Image `ExposedPorts` keys (`80/tcp`) and `--expose 80[-90][/proto]`, in port order, once each. */
export function exposedPorts(image: Record<string, object> | undefined, expose: readonly string[]): ExposedPort[] {
  const found = new Map<string, ExposedPort>();
  const add = (text: string, invalid: (why: string) => WhaleboxError): void => {
    const [ports = '', proto = 'tcp'] = text.split('/');
    const range = parseRange(ports);
    if (!range || range[0] === 0) throw invalid(`invalid port '${ports}'`);
    const protocol = parseProtocol(proto || 'tcp');
    for (let port = range[0]; port <= range[1]; port++) found.set(`${port}/${protocol}`, { port, protocol });
  };
  for (const key of Object.keys(image ?? {})) add(key, (why) => new WhaleboxError(`invalid ExposedPorts entry in the image: ${key}: ${why}`));
  for (const value of expose) {
    if (value.includes(':')) throw new WhaleboxError(`invalid port format for --expose: ${value}`);
    add(value, (why) => new WhaleboxError(`invalid range format for --expose: ${value}, error: ${why}`));
  }
  return [...found.values()].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}

/** `-P`: every exposed port that `-p` does not already publish, on a host port chosen at start. */
export function publishAll(exposed: readonly ExposedPort[], published: readonly PortSpec[] = []): PortSpec[] {
  return exposed
    .filter(({ port, protocol }) => !published.some((spec) => spec.containerPort === port && spec.protocol === protocol))
    .map(({ port, protocol }) => ({ hostIp: '', hostPort: 0, containerPort: port, protocol }));
}

/** Whether two mappings want the same host port: same protocol and port, overlapping addresses. */
export function sameHostPort(a: PortMapping, b: PortMapping): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIp === b.hostIp || a.hostIp === '' || b.hostIp === '');
}

/** Binds the port for a moment: the host's own listeners are in the way of DNATed traffic. */
async function bindError(mapping: PortMapping): Promise<string | undefined> {
  const address = mapping.hostIp || '0.0.0.0';
  // Loaded here: only a start that publishes ports needs them (start-up time of every run).
  const { createSocket } = await import('node:dgram');
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const done = (err?: Error): void => resolve(err === undefined ? undefined : errnoCode(err) ?? err.message);
    if (mapping.protocol === 'udp') {
      const socket = createSocket('udp4');
      socket.once('error', (err) => {
        socket.close();
        done(err);
      });
      socket.bind(mapping.hostPort, address, () => socket.close(() => done()));
    } else {
      const server = createServer();
      server.once('error', done);
      server.listen(mapping.hostPort, address, () => server.close(() => done()));
    }
  });
}

function allocationError(mapping: PortMapping, why: string): WhaleboxError {
  return new WhaleboxError(`Bind for ${mapping.hostIp || '0.0.0.0'}:${mapping.hostPort} failed: ${why}`);
}

/** Candidate host ports for a spec: the given one, its range, or the ephemeral range from a random point. */
function candidates(spec: PortSpec): number[] {
  if (spec.hostPort !== 0) {
    const last = spec.hostPortEnd ?? spec.hostPort;
    return Array.from({ length: last - spec.hostPort + 1 }, (_, i) => spec.hostPort + i);
  }
  const size = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
  const start = Math.floor(Math.random() * size);
  return Array.from({ length: size }, (_, i) => EPHEMERAL_FIRST + ((start + i) % size));
}

/**
 * Resolves every spec to a host port that no other container has (`taken`), that no earlier
 * spec of this list has, and that is free on the host. An explicit port that is not is an error,
 * as with Docker's port allocator.
 */
export async function resolveHostPorts(specs: readonly PortSpec[], taken: (mapping: PortMapping) => boolean): Promise<PortMapping[]> {
  const resolved: PortMapping[] = [];
  for (const spec of specs) {
    const { hostPortEnd: _range, ...base } = spec;
    let chosen: PortMapping | undefined;
    for (const hostPort of candidates(spec)) {
      const mapping: PortMapping = { ...base, hostPort };
      if (taken(mapping) || resolved.some((other) => sameHostPort(other, mapping))) continue;
      const error = await bindError(mapping);
      if (error === undefined) {
        chosen = mapping;
        break;
      }
      if (error !== 'EADDRINUSE') throw allocationError(mapping, error === 'EADDRNOTAVAIL' ? 'cannot assign requested address' : error);
    }
    if (!chosen) {
      if (spec.hostPort === 0) throw new WhaleboxError(`no free host port for ${spec.containerPort}/${spec.protocol} in ${EPHEMERAL_FIRST}-${EPHEMERAL_LAST}`);
      throw allocationError({ ...base, hostPort: spec.hostPort }, 'port is already allocated');
    }
    resolved.push(chosen);
  }
  return resolved;
}

/** A port as Docker's API lists it: published ones have an IP and a public port. */
interface ListedPort {
  readonly ip: string;
  readonly privatePort: number;
  readonly publicPort: number;
  readonly type: Protocol;
}

function comparePorts(a: ListedPort, b: ListedPort): number {
  return a.privatePort - b.privatePort || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0) || a.publicPort - b.publicPort || a.type.localeCompare(b.type);
}

/** docker CLI's formGroup: `80-82/tcp`, or `IP:80-82->80-82/tcp` for ports published as they are. */
function formGroup(key: string, first: number, last: number): string {
  const [ip, type] = key.includes('/') ? key.split('/') : ['', key];
  const group = first === last ? `${first}` : `${first}-${last}`;
  return ip ? `${ip}:${group}->${group}/${type}` : `${group}/${type}`;
}

/**
 * The `ps` PORTS column, as the docker CLI's DisplayablePorts prints it: sorted; runs of
 * consecutive ports grouped when each is published on the same host port (`0.0.0.0:8000-8002->8000-8002/tcp`);
 * other published ports one by one after the groups (`0.0.0.0:8080->80/tcp`); exposed ports that
 * are not published as `80/tcp`. Docker adds a `:::` line per all-address binding; we bind IPv4 only.
 */
export function formatPorts(mappings: readonly PortMapping[], exposed: readonly ExposedPort[]): string {
  const listed: ListedPort[] = [
    ...mappings.map((m) => ({ ip: m.hostIp || '0.0.0.0', privatePort: m.containerPort, publicPort: m.hostPort, type: m.protocol })),
    ...exposed
      .filter((e) => !mappings.some((m) => m.containerPort === e.port && m.protocol === e.protocol))
      .map((e) => ({ ip: '', privatePort: e.port, publicPort: 0, type: e.protocol })),
  ].sort(comparePorts);
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  for (const port of listed) {
    if (port.ip && port.publicPort !== port.privatePort) {
      hostMappings.push(`${port.ip}:${port.publicPort}->${port.privatePort}/${port.type}`);
      continue;
    }
    const key = port.ip ? `${port.ip}/${port.type}` : port.type;
    const group = groups.get(key);
    if (group && port.privatePort === group.last + 1) {
      group.last = port.privatePort;
      continue;
    }
    // A gap closes the group; the key keeps its place (Go keeps the order keys were first made).
    if (group) result.push(formGroup(key, group.first, group.last));
    groups.set(key, { first: port.privatePort, last: port.privatePort });
  }
  for (const [key, group] of groups) result.push(formGroup(key, group.first, group.last));
  return [...result, ...hostMappings].join(', ');
}

/** sortorder.NaturalLess, as `docker port` sorts its lines: digit runs compare as numbers. */
function naturalCompare(a: string, b: string): number {
  const chunks = (text: string): string[] => text.match(/\d+|\D+/g) ?? [];
  const [x, y] = [chunks(a), chunks(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const [p, q] = [x[i]!, y[i]!];
    if (p === q) continue;
    if (/^\d/.test(p) && /^\d/.test(q)) return Number(p) - Number(q) || p.length - q.length;
    return p < q ? -1 : 1;
  }
  return x.length - y.length;
}

/**
 * `docker port CONTAINER [PRIVATE_PORT[/PROTO]]`: `80/tcp -> 0.0.0.0:8080` lines, or the host
 * addresses of one private port. Empty when nothing is published; an unpublished filter is an error.
 */
export function formatPortCommand(mappings: readonly PortMapping[], container: string, filter?: string): string {
  let lines: string[];
  if (filter !== undefined) {
    const [port = '', proto = 'tcp'] = filter.split('/');
    if (!/^\d+$/.test(port) || Number(port) > 65535) throw new WhaleboxError(`invalid port (${port})`, 1);
    lines = mappings
      .filter((m) => m.containerPort === Number(port) && m.protocol === (proto || 'tcp'))
      .map((m) => `${m.hostIp || '0.0.0.0'}:${m.hostPort}`);
    if (lines.length === 0) throw new WhaleboxError(`No public port '${filter}' published for ${container}`, 1);
  } else {
    lines = mappings.map((m) => `${m.containerPort}/${m.protocol} -> ${m.hostIp || '0.0.0.0'}:${m.hostPort}`);
  }
  return lines.sort(naturalCompare).map((line) => `${line}\n`).join('');
}
