import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { resolveContainer } from '../engine/containers.js';
import { pauseContainer, unpauseContainer } from '../engine/lifecycle.js';
import type { ContainerRow } from '../store/containers.js';
import { eachContainer } from './each-container.js';

/** pause and unpause: the same command shape around the freezer, each way. */
function freezerCommand(description: string, action: (context: Context, row: ContainerRow) => Promise<void>) {
  return (command: Command, context: () => Context): void => {
    command
      .description(description)
      .argument('<container...>')
      .action(async (containers: string[]) => {
        await eachContainer(containers, (ref) => action(context(), resolveContainer(context(), ref)));
      });
  };
}

export const definePause = freezerCommand('Pause all processes within one or more containers', pauseContainer);
export const defineUnpause = freezerCommand('Unpause all processes within one or more containers', unpauseContainer);
