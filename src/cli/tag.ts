import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { tagImage } from '../engine/image-tag.js';

export function define(command: Command, context: () => Context): void {
  command
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .usage('SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]')
    .argument('<source>')
    .argument('<target>')
    .action((source: string, target: string) => tagImage(context(), source, target));
}
