import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { register as registerRun } from './run.js';
import { define as defineImages } from './images.js';
import { define as defineHistory } from './history.js';
import { register as registerImport } from './import.js';
import { register as registerLogin } from './login.js';
import { register as registerLogout } from './logout.js';
import { define as defineCleanup } from './cleanup.js';
import { define as defineBuild } from './build.js';
import { defineBuilder } from './builder.js';
import { define as defineCommit } from './commit.js';
import { defineNetworkConnect, defineNetworkDisconnect } from './network-connect.js';
import { define as defineCp } from './cp.js';
import { define as defineExec } from './exec.js';
import { define as defineExport } from './export.js';
import { define as defineInspect, defineImageInspect } from './inspect.js';
import { define as defineKill } from './kill.js';
import { define as defineLoad } from './load.js';
import { define as defineLogs } from './logs.js';
import { defineNetworkCreate, defineNetworkInspect, defineNetworkLs, defineNetworkPrune, defineNetworkRm } from './network.js';
import { definePause, defineUnpause } from './pause.js';
import { defineContainerPrune, defineImagePrune, defineSystem } from './prune.js';
import { define as definePort } from './port.js';
import { define as definePs } from './ps.js';
import { define as definePull } from './pull.js';
import { define as definePush } from './push.js';
import { define as defineRename } from './rename.js';
import { define as defineRestart } from './restart.js';
import { define as defineRm } from './rm.js';
import { define as defineRmi } from './rmi.js';
import { define as defineSave } from './save.js';
import { define as defineStart } from './start.js';
import { define as defineStats } from './stats.js';
import { define as defineTop } from './top.js';
import { define as defineStop } from './stop.js';
import { define as defineTag } from './tag.js';
import { define as defineWait } from './wait.js';

type Define = (command: Command, context: () => Context) => void;

/** Container commands: top-level (`whalebox stop`) and under `whalebox container`. */
const CONTAINER_COMMANDS: [name: string, define: Define, groupName?: string, aliases?: string[]][] = [
  ['ps', definePs, 'ls', ['ps', 'list']],
  ['logs', defineLogs],
  ['exec', defineExec],
  ['start', defineStart],
  ['stop', defineStop],
  ['restart', defineRestart],
  ['kill', defineKill],
  ['wait', defineWait],
  ['rm', defineRm, 'rm', ['remove']],
  ['inspect', defineInspect],
  ['pause', definePause],
  ['unpause', defineUnpause],
  ['rename', defineRename],
  ['stats', defineStats],
  ['top', defineTop],
  ['port', definePort],
  ['cp', defineCp],
  ['commit', defineCommit],
  ['export', defineExport],
];

/**
 * Image commands: under `whalebox image` (with aliases there), and top-level under the name
 * Docker gives them there, if any (`whalebox rmi` is `whalebox image rm`).
 */
const IMAGE_COMMANDS: [groupName: string, define: Define, topName?: string, aliases?: string[]][] = [
  ['build', defineBuild, 'build'],
  ['ls', defineImages, 'images', ['list']],
  ['rm', defineRmi, 'rmi', ['remove']],
  ['tag', defineTag, 'tag'],
  ['inspect', defineImageInspect],
  ['history', defineHistory, 'history'],
  ['prune', defineImagePrune],
  ['save', defineSave, 'save'],
  ['load', defineLoad, 'load'],
  ['pull', definePull, 'pull'],
  ['push', definePush, 'push'],
];

/** Network commands: only under `whalebox network`, as in Docker. */
const NETWORK_COMMANDS: [name: string, define: Define, aliases?: string[]][] = [
  ['create', defineNetworkCreate],
  ['ls', defineNetworkLs, ['list']],
  ['inspect', defineNetworkInspect],
  ['rm', defineNetworkRm, ['remove']],
  ['prune', defineNetworkPrune],
  ['connect', defineNetworkConnect],
  ['disconnect', defineNetworkDisconnect],
];

/** Global options that take a value: their value is not the command's name. */
const GLOBAL_WITH_VALUE = new Set(['--root', '--run-root', '--cgroup-parent', '--insecure-registry']);

/** The command a command line names (the first word that is not a global option). */
function commandName(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (GLOBAL_WITH_VALUE.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/**
 * Each command module adds itself to the program; the order here is the order in --help.
 * Only the command the arguments name is built (all of them for help or an unknown name):
 * building every command costs each call a few milliseconds of start-up.
 */
export function registerCommands(program: Command, context: () => Context, args: readonly string[]): void {
  const named = commandName(args);
  const known = ['run', 'create', 'container', 'system', 'image', 'network', 'builder', 'import', 'login', 'logout', ...CONTAINER_COMMANDS.map(([name]) => name), ...IMAGE_COMMANDS.flatMap(([, , topName]) => topName ?? [])];
  const want = (...names: string[]): boolean => named === undefined || !known.includes(named) || names.includes(named);
  if (want('run', 'create')) registerRun(program, context);
  if (want('container')) {
    const group = program.command('container').description('Manage containers');
    for (const [name, define, groupName, aliases] of CONTAINER_COMMANDS) define(group.command(groupName ?? name).aliases(aliases ?? []), context);
    defineCleanup(group.command('cleanup'), context);
    defineContainerPrune(group.command('prune'), context);
  }
  for (const [name, define] of CONTAINER_COMMANDS) if (want(name)) define(program.command(name), context);
  if (want('system')) defineSystem(program.command('system'), context);
  if (want('image')) {
    const group = program.command('image').description('Manage images');
    for (const [name, define, , aliases] of IMAGE_COMMANDS) define(group.command(name).aliases(aliases ?? []), context);
  }
  for (const [, define, topName] of IMAGE_COMMANDS) if (topName !== undefined && want(topName)) define(program.command(topName), context);
  if (want('network')) {
    const group = program.command('network').description('Manage networks');
    for (const [name, define, aliases] of NETWORK_COMMANDS) define(group.command(name).aliases(aliases ?? []), context);
  }
  if (want('builder')) defineBuilder(program.command('builder'), context);
  if (want('import')) registerImport(program, context);
  if (want('login')) registerLogin(program);
  if (want('logout')) registerLogout(program);
}
