import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { register as registerRun } from './run.js';
import { register as registerContainer } from './container.js';
import { register as registerImages } from './images.js';
import { register as registerImport } from './import.js';

/** Each command module adds itself to the program; the order here is the order in --help. */
export function registerCommands(program: Command, context: () => Context): void {
  registerRun(program, context);
  registerContainer(program, context);
  registerImages(program, context);
  registerImport(program, context);
}
