import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { WhaleboxError } from '../util/errors.js';
import { parseBytes, parseCpuList, parseCpus, parseInteger } from '../util/units.js';
import type { Context } from '../engine/context.js';
import {
  expandEnv,
  parseEnvFile,
  parseAddHost,
  parseHostName,
  parseNetwork,
  parseTmpfs,
  parseVolume,
  parseLabels,
  parseRestart,
  type ContainerConfig,
  type Resources,
} from '../engine/container-config.js';
import { runDetached, runForeground } from '../engine/run.js';
import { createContainer } from '../engine/containers.js';
import { parseSignal } from '../engine/lifecycle.js';
import { hasImage } from '../image/image-store.js';
import { parsePublish } from '../network/ports.js';
import {
  parseCapabilities,
  parseDevice,
  parseDeviceCgroupRule,
  parseOomScoreAdj,
  parseSecurityOpts,
  parseSysctls,
  parseUlimit,
  type SecurityConfig,
} from '../engine/security-options.js';
import { familiarString, parseReference } from '../image/reference.js';

interface RunFlags {
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  name?: string;
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string;
  volume: string[];
  tmpfs: string[];
  readOnly?: boolean;
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
  network: string;
  ip?: string;
  networkAlias: string[];
  addHost: string[];
  dns: string[];
  publish: string[];
  publishAll?: boolean;
  expose: string[];
  trace?: boolean;
  detach?: boolean;
  restart: string;
  label: string[];
  stopSignal?: string;
  stopTimeout?: string;
  pull: string;
  platform?: string;
  privileged?: boolean;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  device: string[];
  deviceCgroupRule: string[];
  ulimit: string[];
  oomScoreAdj?: string;
  sysctl: string[];
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const MIN_MEMORY = 6 * 1024 * 1024;

function parseResources(flags: RunFlags): Resources {
  const hostCpus = availableParallelism();
  // 0 means "no limit" for Docker's sizes.
  const memory = flags.memory === undefined ? undefined : parseBytes('--memory', flags.memory) || undefined;
  if (memory !== undefined && memory < MIN_MEMORY) throw new WhaleboxError('Minimum memory limit allowed is 6MB');
  let memorySwap: number | undefined;
  if (flags.memorySwap !== undefined && flags.memorySwap !== '0') {
    if (memory === undefined) throw new WhaleboxError('You should always set the Memory limit when using Memoryswap limit, see usage.');
    memorySwap = flags.memorySwap === '-1' ? -1 : parseBytes('--memory-swap', flags.memorySwap);
    if (memorySwap !== -1 && memorySwap < memory) {
      throw new WhaleboxError('Minimum memoryswap limit should be larger than memory limit, see usage');
    }
  }
  return {
    memory,
    memorySwap,
    cpus: flags.cpus === undefined ? undefined : parseCpus(flags.cpus, hostCpus),
    cpuShares: flags.cpuShares === undefined ? undefined : parseInteger('--cpu-shares', flags.cpuShares, 0),
    cpusetCpus: flags.cpusetCpus === undefined ? undefined : parseCpuList('--cpuset-cpus', flags.cpusetCpus, hostCpus),
    pidsLimit: flags.pidsLimit === undefined ? undefined : parseInteger('--pids-limit', flags.pidsLimit),
  };
}

/** A file a flag names (--env-file, a seccomp profile), with Docker's message when it cannot be read. */
function readFlagFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new WhaleboxError(`open ${file}: ${(err as Error).message.replace(/^[A-Z]+: /, '')}`);
  }
}

function toContainerConfig(image: string, command: string[], flags: RunFlags): ContainerConfig {
  if (flags.tty && flags.interactive && !flags.detach && !process.stdin.isTTY) {
    throw new WhaleboxError('the input device is not a TTY', 1);
  }
  const restart = parseRestart(flags.restart);
  if (flags.rm && restart.name !== 'no') throw new WhaleboxError('Conflicting options: --restart and --rm');
  if (flags.stopSignal !== undefined) parseSignal(flags.stopSignal);
  const env = [
    ...flags.envFile.flatMap((file) => parseEnvFile(readFlagFile(file), process.env)),
    ...flags.env.flatMap((entry) => expandEnv(entry, process.env)),
  ];
  return {
    image,
    name: flags.name,
    cmd: command.length ? command : undefined,
    entrypoint: flags.entrypoint,
    env,
    workdir: flags.workdir,
    user: flags.user,
    hostname: flags.hostname === undefined ? undefined : parseHostName('--hostname', flags.hostname),
    tty: flags.tty ?? false,
    interactive: flags.interactive ?? false,
    autoRemove: flags.rm ?? false,
    volumes: flags.volume.map(parseVolume),
    tmpfs: flags.tmpfs.map(parseTmpfs),
    readonlyRootfs: flags.readOnly ?? false,
    network: parseNetwork(flags.network),
    ...(flags.ip !== undefined ? { ip: flags.ip } : {}),
    networkAliases: flags.networkAlias.map((alias) => parseHostName('--network-alias', alias)),
    addHosts: flags.addHost.map(parseAddHost),
    dns: flags.dns,
    publish: parsePublish(flags.publish),
    publishAll: flags.publishAll ?? false,
    expose: flags.expose,
    resources: parseResources(flags),
    restart,
    detach: flags.detach ?? false,
    labels: parseLabels(flags.label),
    stopSignal: flags.stopSignal,
    stopTimeout: flags.stopTimeout === undefined ? undefined : parseInteger('--stop-timeout', flags.stopTimeout, -1),
    security: parseSecurity(flags),
  };
}

function parseSecurity(flags: RunFlags): SecurityConfig {
  return {
    privileged: flags.privileged ?? false,
    capAdd: parseCapabilities(flags.capAdd),
    capDrop: parseCapabilities(flags.capDrop),
    ...parseSecurityOpts(flags.securityOpt, readFlagFile),
    devices: flags.device.map(parseDevice),
    deviceCgroupRules: flags.deviceCgroupRule.map(parseDeviceCgroupRule),
    ulimits: flags.ulimit.map(parseUlimit),
    ...(flags.oomScoreAdj === undefined ? {} : { oomScoreAdj: parseOomScoreAdj(flags.oomScoreAdj) }),
    sysctls: parseSysctls(flags.sysctl, flags.network),
  };
}

/** The options `run` and `create` share: Docker's container configuration flags. */
function containerOptions(command: Command): Command {
  return command
    .usage('[OPTIONS] IMAGE [COMMAND] [ARG...]')
    .argument('<image>')
    .argument('[command...]')
    .helpOption('--help', 'Print usage')
    .passThroughOptions()
    .option('-i, --interactive', 'Keep STDIN open')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('--rm', 'Automatically remove the container when it exits')
    .option('--name <name>', 'Assign a name to the container')
    .option('-e, --env <list>', 'Set environment variables', collect, [])
    .option('--env-file <file>', 'Read in a file of environment variables', collect, [])
    .option('-w, --workdir <dir>', 'Working directory inside the container')
    .option('-u, --user <user>', 'Username or UID (format: <name|uid>[:<group|gid>])')
    .option('-h, --hostname <name>', 'Container host name')
    .option('--entrypoint <command>', 'Overwrite the default ENTRYPOINT of the image')
    .option('-v, --volume <list>', 'Bind mount a volume (HOST:CONTAINER[:ro])', collect, [])
    .option('--tmpfs <mount>', 'Mount a tmpfs directory (/path[:options])', collect, [])
    .option('--read-only', "Mount the container's root filesystem as read only")
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--cpus <decimal>', 'Number of CPUs')
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)')
    .option('--cpuset-cpus <list>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--pids-limit <int>', 'Tune container pids limit (set -1 for unlimited)')
    .option('--network <network>', 'Connect a container to a network (bridge, none, host, container:NAME, or a network)', 'bridge')
    .option('--ip <address>', 'IPv4 address (e.g., 172.30.100.104)')
    .option('--network-alias <alias>', 'Add network-scoped alias for the container', collect, [])
    .option('--add-host <host:ip>', 'Add a custom host-to-IP mapping (host:ip)', collect, [])
    .option('--dns <address>', 'Set custom DNS servers', collect, [])
    .option('-p, --publish <list>', "Publish a container's port(s) to the host", collect, [])
    .option('-P, --publish-all', 'Publish all exposed ports to random ports')
    .option('--expose <list>', 'Expose a port or a range of ports', collect, [])
    .option('--restart <policy>', 'Restart policy to apply when a container exits', 'no')
    .option('-l, --label <list>', 'Set meta data on a container', collect, [])
    .option('--stop-signal <signal>', 'Signal to stop the container')
    .option('--stop-timeout <int>', 'Timeout (in seconds) to stop a container')
    .option('--pull <policy>', 'Pull image before running ("always", "missing", "never")', 'missing')
    .option('--platform <platform>', 'Set platform if server is multi-platform capable')
    .option('--privileged', 'Give extended privileges to this container')
    .option('--cap-add <list>', 'Add Linux capabilities', collect, [])
    .option('--cap-drop <list>', 'Drop Linux capabilities', collect, [])
    .option('--security-opt <list>', 'Security Options (seccomp=unconfined|PROFILE.json, no-new-privileges)', collect, [])
    .option('--device <list>', 'Add a host device to the container (HOST[:CONTAINER][:rwm])', collect, [])
    .option('--device-cgroup-rule <list>', "Add a rule to the cgroup allowed devices list ('c 1:3 rwm')", collect, [])
    .option('--ulimit <ulimit>', 'Ulimit options (name=soft[:hard])', collect, [])
    .option('--oom-score-adj <int>', "Tune host's OOM preferences (-1000 to 1000)")
    .option('--sysctl <map>', 'Sysctl options (NAME=VALUE)', collect, []);
}

/**
 * Docker's `--pull`: a missing image is pulled first (`missing`), every time (`always`), or
 * never. Pull progress goes to stderr, so stdout stays the container's.
 */
async function ensureImage(context: Context, image: string, flags: RunFlags): Promise<void> {
  if (!['always', 'missing', 'never'].includes(flags.pull)) {
    throw new WhaleboxError(`invalid pull option: '${flags.pull}': must be one of "always", "missing" or "never"`);
  }
  // Only whether it is there: create reads the image itself.
  if (flags.pull !== 'always' && hasImage(context.db(), image)) return;
  const ref = parseReference(image);
  if (flags.pull === 'never') throw new WhaleboxError(`No such image: ${familiarString(ref)}`);
  const { pullWithProgress } = await import('./pull.js');
  const { ProgressLines } = await import('./progress.js');
  if (flags.pull === 'missing') process.stderr.write(`Unable to find image '${familiarString(ref)}' locally\n`);
  try {
    await pullWithProgress(context, ref, flags.platform, new ProgressLines(process.stderr));
  } catch (err) {
    // docker run's status for every engine-side failure, the pull's included.
    if (err instanceof WhaleboxError) throw new WhaleboxError(err.message);
    throw err;
  }
}

export function register(program: Command, context: () => Context): void {
  containerOptions(program.command('run').description('Create and run a new container from an image'))
    .option('--trace', 'Print the timeline of the container start-up steps')
    .option('-d, --detach', 'Run container in background and print container ID')
    .action(async (image: string, command: string[], flags: RunFlags) => {
      const config = toContainerConfig(image, command, flags);
      await ensureImage(context(), image, flags);
      if (config.detach) {
        process.stdout.write(`${await runDetached(context(), config)}\n`);
        return;
      }
      process.exitCode = await runForeground(context(), config, {
        trace: flags.trace ? (line) => process.stderr.write(`[trace] ${line}\n`) : undefined,
      });
    });
  containerOptions(program.command('create').description('Create a new container'))
    .action(async (image: string, command: string[], flags: RunFlags) => {
      // A created container starts detached (`start`); attaching arrives with the API server.
      const config = { ...toContainerConfig(image, command, flags), detach: true };
      await ensureImage(context(), image, flags);
      const { record } = createContainer(context(), config);
      process.stdout.write(`${record.id}\n`);
    });
}
