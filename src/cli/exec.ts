import type { Command } from 'commander';
import { WhaleboxError } from '../util/errors.js';
import type { Context } from '../engine/context.js';
import { expandEnv } from '../engine/container-config.js';
import { execInContainer } from '../engine/exec.js';

interface ExecFlags {
  interactive?: boolean;
  tty?: boolean;
  detach?: boolean;
  env: string[];
  workdir?: string;
  user?: string;
  privileged?: boolean;
}

export function define(command: Command, context: () => Context): void {
  command
    .description('Execute a command in a running container')
    .usage('[OPTIONS] CONTAINER COMMAND [ARG...]')
    .argument('<container>')
    .argument('<command...>')
    .passThroughOptions()
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('-d, --detach', 'Detached mode: run command in the background')
    .option('-e, --env <list>', 'Set environment variables', (v: string, p: string[]) => [...p, v], [])
    .option('-w, --workdir <dir>', 'Working directory inside the container')
    .option('-u, --user <user>', 'Username or UID (format: "<name|uid>[:<group|gid>]")')
    .option('--privileged', 'Give extended privileges to the command')
    .action(async (container: string, args: string[], flags: ExecFlags) => {
      if (flags.tty && flags.interactive && !flags.detach && !process.stdin.isTTY) {
        throw new WhaleboxError('the input device is not a TTY', 1);
      }
      process.exitCode = await execInContainer(context(), container, {
        command: args,
        interactive: flags.interactive ?? false,
        tty: flags.tty ?? false,
        detach: flags.detach ?? false,
        env: flags.env.flatMap((entry) => expandEnv(entry, process.env)),
        workdir: flags.workdir,
        user: flags.user,
        privileged: flags.privileged ?? false,
      });
    });
}
