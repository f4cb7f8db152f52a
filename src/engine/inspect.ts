import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { logFilePath } from '../runtime/runtime.js';
import type { Spec } from '../runtime/oci-spec.js';
import type { ContainerRow } from '../store/containers.js';
import type { Context } from './context.js';
import { bundleDir, parseConfig } from './containers.js';
import type { ContainerConfig } from './container-config.js';
import { parseCidr } from '../network/cidr.js';
import { endpointId, endpointsOfContainer } from '../network/ipam.js';
import { requireNetwork } from '../network/networks.js';
import { netnsPath } from '../network/netns.js';
import type { PortSpec } from '../network/ports.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** `docker inspect` of a container: Docker's JSON shape, filled from the record and its spec. */
export function inspectContainer(context: Context, row: ContainerRow): Record<string, unknown> {
  const config = parseConfig(row);
  const dir = bundleDir(context, row.id);
  let spec: Spec | undefined;
  try {
    spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Spec;
  } catch {
    spec = undefined;
  }
  const args = config.process ?? spec?.process.args ?? [];
  const running = row.status === 'running' || row.status === 'paused';
  const r = config.resources;
  return {
    Id: row.id,
    Created: row.created,
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      Status: row.status,
      Running: running,
      Paused: row.status === 'paused',
      Restarting: false,
      OOMKilled: row.oomKilled,
      Dead: row.status === 'dead',
      Pid: running ? row.pid ?? 0 : 0,
      ExitCode: row.exitCode ?? 0,
      Error: row.error ?? '',
      StartedAt: row.startedAt ?? ZERO_TIME,
      FinishedAt: row.finishedAt ?? ZERO_TIME,
    },
    Image: row.imageId,
    ResolvConfPath: join(dir, 'resolv.conf'),
    HostnamePath: join(dir, 'hostname'),
    HostsPath: join(dir, 'hosts'),
    LogPath: logFilePath(dir),
    Name: `/${row.name}`,
    RestartCount: row.restartCount,
    Driver: 'overlay',
    Platform: 'linux',
    HostConfig: {
      Binds: config.volumes.map((v) => `${v.source}:${v.destination}${v.readonly ? ':ro' : ''}`),
      NetworkMode: config.network,
      PortBindings: portMap(config.publish ?? []),
      PublishAllPorts: config.publishAll ?? false,
      Dns: config.dns,
      ExtraHosts: config.addHosts.length ? config.addHosts : null,
      RestartPolicy: { Name: config.restart.name, MaximumRetryCount: config.restart.maximumRetryCount },
      AutoRemove: config.autoRemove,
      ReadonlyRootfs: config.readonlyRootfs,
      Tmpfs: Object.fromEntries(config.tmpfs.map((t) => [t.destination, t.options.slice(3).join(',')])),
      Memory: r.memory ?? 0,
      MemorySwap: r.memorySwap ?? (r.memory ? r.memory * 2 : 0),
      NanoCpus: Math.round((r.cpus ?? 0) * 1e9),
      CpuShares: r.cpuShares ?? 0,
      CpusetCpus: r.cpusetCpus ?? '',
      PidsLimit: r.pidsLimit ?? null,
    },
    Mounts: config.volumes.map((v) => ({
      Type: 'bind',
      Source: v.source,
      Destination: v.destination,
      Mode: v.readonly ? 'ro' : '',
      RW: !v.readonly,
      Propagation: 'rprivate',
    })),
    Config: {
      Hostname: spec?.hostname ?? '',
      Domainname: '',
      User: config.user ?? '',
      AttachStdin: config.interactive && !config.detach,
      AttachStdout: !config.detach,
      AttachStderr: !config.detach,
      Tty: config.tty,
      OpenStdin: config.interactive,
      StdinOnce: config.interactive && !config.detach,
      Env: spec?.process.env ?? config.env,
      Cmd: config.cmd ?? null,
      Image: row.imageRef,
      WorkingDir: config.workdir ?? '',
      Entrypoint: config.entrypoint === undefined ? null : [config.entrypoint],
      Labels: config.labels ?? {},
      StopSignal: config.stopSignal,
      StopTimeout: config.stopTimeout,
    },
    NetworkSettings: networkSettings(context, row, config),
  };
}

/** Docker's PortMap: `"80/tcp": [{ HostIp, HostPort }]`. */
function portMap(ports: readonly PortSpec[]): Record<string, Array<{ HostIp: string; HostPort: string }>> {
  const map: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const port of ports) {
    (map[`${port.containerPort}/${port.protocol}`] ??= []).push({ HostIp: port.hostIp, HostPort: port.hostPort ? String(port.hostPort) : '' });
  }
  return map;
}

/** Docker's NetworkSettings: the addresses exist while the container runs. */
function networkSettings(context: Context, row: ContainerRow, config: ContainerConfig): Record<string, unknown> {
  const running = row.status === 'running' || row.status === 'paused';
  const networks: Record<string, unknown> = {};
  for (const endpoint of endpointsOfContainer(context, row.id)) {
    const network = requireNetwork(context, endpoint.networkId);
    networks[network.name] = {
      IPAMConfig: null,
      Links: null,
      Aliases: endpoint.aliases.length ? endpoint.aliases : null,
      MacAddress: running ? endpoint.mac : '',
      NetworkID: network.id,
      EndpointID: running ? endpointId(endpoint) : '',
      Gateway: running ? network.gateway : '',
      IPAddress: running ? endpoint.ip : '',
      IPPrefixLen: running ? parseCidr(network.subnet).prefix : 0,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      DNSNames: null,
    };
  }
  const primary = Object.values(networks)[0] as { IPAddress: string; Gateway: string; MacAddress: string; IPPrefixLen: number } | undefined;
  return {
    Bridge: '',
    SandboxID: '',
    SandboxKey: running && Object.keys(networks).length ? netnsPath(row.id) : '',
    Ports: running ? portMap(config.ports ?? []) : {},
    IPAddress: primary?.IPAddress ?? '',
    IPPrefixLen: primary?.IPPrefixLen ?? 0,
    Gateway: primary?.Gateway ?? '',
    MacAddress: primary?.MacAddress ?? '',
    Networks: networks,
  };
}
