import type { Command } from 'commander';
import { Writable } from 'node:stream';
import { WhaleboxError } from '../util/errors.js';

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

export function register(program: Command): void {
  program
    .command('login')
    .description('Authenticate to a registry')
    .usage('[OPTIONS] [SERVER]')
    .argument('[server]', 'the registry (host[:port]); Docker Hub when omitted')
    .option('-u, --username <username>', 'Username')
    .option('-p, --password <password>', 'Password or Personal Access Token (PAT)')
    .option('--password-stdin', 'Take the Password or Personal Access Token (PAT) from stdin')
    .action(async (server: string | undefined, flags: LoginFlags) => {
      if (flags.password !== undefined) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      if (flags.passwordStdin && flags.password !== undefined) throw new WhaleboxError('--password and --password-stdin are mutually exclusive', 1);
      if (flags.passwordStdin && flags.username === undefined) throw new WhaleboxError('Must provide --username with --password-stdin', 1);
      // Loaded on use: the registry client is dead weight for every other command.
      const { RegistryClient } = await import('../image/registry/client.js');
      const { findCredentials, serverHost, storeCredentials, whaleboxConfigFile } = await import('../image/registry/credentials.js');
      const host = serverHost(server ?? 'docker.io');
      const client = new RegistryClient(host);
      let username = flags.username?.trim();
      let password = flags.passwordStdin ? await readStdin() : flags.password;
      const stored = username === undefined && password === undefined ? findCredentials(host) : undefined;
      if (stored !== undefined) {
        // As Docker: a bare `login` first tries what is stored, and asks only if that fails.
        process.stdout.write('Authenticating with existing credentials...\n');
        try {
          await client.checkLogin(stored.username, stored.password);
          process.stdout.write('Login Succeeded\n');
          return;
        } catch {
          process.stderr.write(`Stored credentials for ${host} were refused.\n`);
        }
      }
      if (username === undefined || password === undefined) {
        if (!process.stdin.isTTY) throw new WhaleboxError('Cannot perform an interactive login from a non TTY device', 1);
        username ??= (await prompt('Username: ', false)).trim();
        password ??= await prompt('Password: ', true);
      }
      if (username === '') throw new WhaleboxError('Non-null Username Required', 1);
      if (password === '') throw new WhaleboxError('Password Required', 1);
      await client.checkLogin(username, password);
      storeCredentials(host, { username, password });
      process.stderr.write(`WARNING! Your password will be stored unencrypted in ${whaleboxConfigFile()}.\n`);
      process.stdout.write('Login Succeeded\n');
    });
}

/** All of stdin, less the line end a `echo pw |` adds (as Docker trims it). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Asks on the terminal; a hidden answer is not echoed. */
async function prompt(question: string, hidden: boolean): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!muted) process.stdout.write(chunk);
      done();
    },
  });
  const reader = createInterface({ input: process.stdin, output, terminal: true });
  try {
    const answer = reader.question(question);
    muted = hidden;
    return await answer;
  } finally {
    reader.close();
    if (hidden) process.stdout.write('\n');
  }
}
