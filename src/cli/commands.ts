import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { register as registerRun } from './run.js';
import { register as registerImages } from './images.js';
import { register as registerImport } from './import.js';
import { define as defineCleanup } from './cleanup.js';
import { define as defineCp } from './cp.js';
import { define as defineExec } from './exec.js';
import { define as defineInspect } from './inspect.js';
import { define as defineKill } from './kill.js';
import { define as defineLogs } from './logs.js';
import { definePause, defineUnpause } from './pause.js';
import { defineContainerPrune, defineSystem } from './prune.js';
import { define as definePs } from './ps.js';
import { define as defineRename } from './rename.js';
import { define as defineRestart } from './restart.js';
import { define as defineRm } from './rm.js';
import { define as defineStart } from './start.js';
import { define as defineStats } from './stats.js';
import { define as defineTop } from './top.js';
import { define as defineStop } from './stop.js';
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
  ['cp', defineCp],
];

/** Each command module adds itself to the program; the order here is the order in --help. */
export function registerCommands(program: Command, context: () => Context): void {
  registerRun(program, context);
  const group = program.command('container').description('Manage containers');
  for (const [name, define, groupName, aliases] of CONTAINER_COMMANDS) {
    define(program.command(name), context);
    define(group.command(groupName ?? name).aliases(aliases ?? []), context);
  }
  defineCleanup(group.command('cleanup'), context);
  defineContainerPrune(group.command('prune'), context);
  defineSystem(program.command('system'), context);
  registerImages(program, context);
  registerImport(program, context);
}
