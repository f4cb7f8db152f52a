import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { WhaleboxError } from '../../util/errors.js';

/**
 * Whom a registry's TLS connection trusts, as Docker decides it: the public CAs (Node's own and
 * the system bundle) plus, per host, the certs.d folder: every `*.crt` there is a CA, and a
 * `X.cert` with its `X.key` is the client certificate to present.
 */

const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** Docker's certs.d and whalebox's own; WHALEBOX_CERTS_DIR replaces both. */
export function certsDirs(): string[] {
  const dir = process.env.WHALEBOX_CERTS_DIR;
  return dir ? [dir] : ['/etc/docker/certs.d', '/etc/whalebox/certs.d'];
}

let publicCAs: string[] | undefined;

function publicAuthorities(): string[] {
  if (publicCAs === undefined) {
    let system: string[] = [];
    try {
      system = [readFileSync(SYSTEM_BUNDLE, 'utf8')];
    } catch {
      // No system bundle (a minimal image): Node's own list remains.
    }
    publicCAs = [...rootCertificates, ...system];
  }
  return publicCAs;
}

/** The TLS context for connections to `host` (host[:port], the name of its certs.d folder). */
export function secureContextFor(host: string): SecureContext {
  const ca = [...publicAuthorities()];
  let client: { cert: string; key: string } | undefined;
  for (const dir of certsDirs()) {
    const hostDir = join(dir, host);
    let names: string[];
    try {
      names = readdirSync(hostDir).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const file = join(hostDir, name);
      if (name.endsWith('.crt')) ca.push(readFileSync(file, 'utf8'));
      if (name.endsWith('.cert') && client === undefined) {
        const keyName = `${name.slice(0, -'.cert'.length)}.key`;
        if (!names.includes(keyName)) throw new WhaleboxError(`missing key ${keyName} for client certificate ${file}`, 1);
        client = { cert: readFileSync(file, 'utf8'), key: readFileSync(join(hostDir, keyName), 'utf8') };
      }
    }
  }
  try {
    return createSecureContext({ ca, ...client });
  } catch (err) {
    throw new WhaleboxError(`TLS configuration for ${host} (${certsDirs().map((dir) => join(dir, host)).join(', ')}): ${(err as Error).message}`, 1);
  }
}
