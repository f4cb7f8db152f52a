import { join } from 'node:path';
import { errnoCode, WhaleboxError } from '../../util/errors.js';
import { certsDirs } from './trust.js';

/**
 * A registry exchange that failed. `code` is the errno name of a network failure or the HTTP
 * status of a refused request: it says whether trying again could help.
 */
export class RegistryError extends WhaleboxError {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message, 1);
  }
}

/** Failures that another try may not meet: a dropped connection, a busy or restarting server. */
const TRANSIENT_ERRNOS = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'EAI_AGAIN']);
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);

export function isTransientStatus(status: number): boolean {
  return TRANSIENT_STATUSES.has(status);
}

export function isTransient(err: unknown): boolean {
  const code = err instanceof RegistryError ? err.code : undefined;
  return code !== undefined && (TRANSIENT_ERRNOS.has(code) || isTransientStatus(Number(code)));
}

/** The server answered the TLS handshake with something else: it speaks plain HTTP. */
export function isPlainHttpServer(err: unknown): boolean {
  return err instanceof RegistryError && plainHttpCode(err.code);
}

function plainHttpCode(code: string | undefined): boolean {
  return code === 'EPROTO' || (code?.startsWith('ERR_SSL_') ?? false);
}

const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A URL as messages show it: no query (upload state, signed storage URLs) and no user info. */
export function displayUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** Go's spelling, which Docker's messages show: `Get "https://host/v2/": …`. */
function goMethod(method: string): string {
  return method[0]! + method.slice(1).toLowerCase();
}

/** A network or TLS failure, worded as Docker words it. */
export function transportError(method: string, url: URL, err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  const code = errnoCode(err);
  const address = `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`;
  let reason = (err as Error)?.message ?? String(err);
  if (code === 'ECONNREFUSED') reason = `dial tcp ${address}: connect: connection refused`;
  else if (code === 'ENOTFOUND') reason = `dial tcp: lookup ${url.hostname}: no such host`;
  else if (code === 'EHOSTUNREACH') reason = `dial tcp ${address}: connect: no route to host`;
  else if (code === 'ENETUNREACH') reason = `dial tcp ${address}: connect: network is unreachable`;
  else if (code === 'ECONNRESET') reason = `read tcp ${address}: connection reset by peer`;
  else if (plainHttpCode(code)) reason = 'http: server gave HTTP response to HTTPS client';
  else if (code !== undefined && CERTIFICATE_ERRORS.has(code)) {
    const places = certsDirs().map((dir) => join(dir, url.host, 'ca.crt'));
    reason = `tls: failed to verify certificate: ${reason} (to trust ${url.host}, put its CA certificate in ${places.join(' or ')})`;
  }
  return new RegistryError(`${goMethod(method)} "${displayUrl(url)}": ${reason}`, code);
}

interface ErrorBody {
  errors?: { code?: unknown; message?: unknown }[];
  details?: unknown;
}

/**
 * The message in a registry's error body (`{"errors":[{"code":"MANIFEST_UNKNOWN","message":
 * "manifest unknown"}]}` → `manifest unknown: manifest unknown`, as Docker prints it), or a
 * token server's `details`; undefined when the body says nothing readable.
 */
export function registryMessage(body: Buffer): string | undefined {
  let parsed: ErrorBody;
  try {
    parsed = JSON.parse(body.toString('utf8')) as ErrorBody;
  } catch {
    return undefined;
  }
  const messages = (Array.isArray(parsed?.errors) ? parsed.errors : []).map(({ code, message }) => {
    const name = typeof code === 'string' ? code.toLowerCase().replaceAll('_', ' ') : 'error';
    return typeof message === 'string' && message !== '' ? `${name}: ${message}` : name;
  });
  if (messages.length > 0) return messages.join('; ');
  return typeof parsed?.details === 'string' ? parsed.details : undefined;
}

/** What a status means when the body does not say. */
export function statusMessage(method: string, url: URL, status: number, statusText: string): string {
  if (status === 401) return 'unauthorized: authentication required';
  if (status === 403) return 'denied: requested access to the resource is denied';
  return `unexpected status from ${method} request to ${displayUrl(url)}: ${status} ${statusText}`;
}
