import { Command, CommanderError } from 'commander';
import { WhaleboxError } from '../util/errors.js';
import { createContext, type Context, type GlobalOptions } from '../engine/context.js';
import { registerCommands } from './commands.js';

/** Docker's status for a usage error or an engine failure. */
const ENGINE_FAILURE = 125;

function buildProgram(): Command {
  const program = new Command('whalebox')
    .description('A Docker-compatible container engine')
    .version(process.env.WHALEBOX_VERSION ?? '0.1.0', '-v, --version')
    .option('--root <dir>', 'persistent state directory (env WHALEBOX_ROOT)')
    .option('--run-root <dir>', 'volatile state directory (env WHALEBOX_RUN_ROOT)')
    .option('--cgroup-parent <path>', 'cgroup holding new containers (env WHALEBOX_CGROUP_PARENT; default whalebox)')
    .option(
      '--insecure-registry <host>',
      'registry to reach over plain HTTP when HTTPS fails; repeatable (env WHALEBOX_INSECURE_REGISTRIES, comma-separated)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  let context: Context | undefined;
  const getContext = (): Context => (context ??= createContext(program.opts<GlobalOptions>()));
  registerCommands(program, getContext, process.argv.slice(2));
  const quiet = (command: Command): void => {
    for (const sub of command.commands) {
      sub.exitOverride().configureOutput({ outputError: () => {} });
      quiet(sub);
    }
  };
  quiet(program);
  return program;
}

/** Commander's messages, reworded as Docker prints them. */
function usageMessage(err: CommanderError): string {
  const unknown = /unknown option '([^']+)'/.exec(err.message);
  if (unknown) return `unknown flag: ${unknown[1]}`;
  return err.message.replace(/^error: /, '');
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      if (err.code === 'commander.help') return 0;
      process.stderr.write(`whalebox: ${usageMessage(err)}\nSee 'whalebox --help'.\n`);
      return ENGINE_FAILURE;
    }
    if (err instanceof WhaleboxError) {
      process.stderr.write(`whalebox: ${err.message}\n`);
      return err.exitCode;
    }
    const detail = process.env.WHALEBOX_DEBUG ? (err as Error).stack : String((err as Error)?.message ?? err);
    process.stderr.write(`whalebox: ${detail}\n`);
    return ENGINE_FAILURE;
  }
}

// `whalebox logs c | head -1`: a reader that goes away ends the command quietly, as in Docker.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
