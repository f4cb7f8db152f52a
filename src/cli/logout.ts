import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('logout')
    .description('Log out from a registry')
    .usage('[SERVER]')
    .argument('[server]', 'the registry (host[:port]); Docker Hub when omitted')
    .action(async (server: string | undefined) => {
      const { findCredentials, removeCredentials, serverKey } = await import('../image/registry/credentials.js');
      const key = serverKey(server ?? 'docker.io');
      process.stdout.write(removeCredentials(key) ? `Removing login credentials for ${key}\n` : `Not logged in to ${key}\n`);
      // Whalebox never writes Docker's file, so a `docker login` there still applies here.
      const remaining = findCredentials(key);
      if (remaining !== undefined) process.stderr.write(`WARNING! ${remaining.file} still holds credentials for ${key}; whalebox uses them too.\n`);
    });
}
