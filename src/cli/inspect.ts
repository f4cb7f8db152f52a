import type { Command } from 'commander';
import { WhaleboxError } from '../util/errors.js';
import type { Context } from '../engine/context.js';
import { refreshContainer, resolveContainer } from '../engine/containers.js';
import { inspectContainer } from '../engine/inspect.js';
import { compileFormat } from './go-template.js';

export function define(command: Command, context: () => Context): void {
  command
    .description('Display detailed information on one or more containers')
    .argument('<container...>')
    .option('-f, --format <template>', 'Format output using a custom template')
    .action(async (containers: string[], flags: { format?: string }) => {
      const found: Record<string, unknown>[] = [];
      const missing: string[] = [];
      for (const reference of containers) {
        try {
          const row = await refreshContainer(context(), resolveContainer(context(), reference));
          found.push(inspectContainer(context(), row));
        } catch (err) {
          if (!(err instanceof WhaleboxError)) throw err;
          missing.push(err.message);
        }
      }
      if (flags.format) {
        const format = compileFormat(flags.format);
        process.stdout.write(found.map((item) => `${format.render(item)}\n`).join(''));
      } else {
        process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
      }
      for (const message of missing) process.stderr.write(`whalebox: ${message}\n`);
      if (missing.length) process.exitCode = 1;
    });
}
