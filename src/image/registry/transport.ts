import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { pipeline, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { displayUrl, isPlainHttpServer, isTransient, isTransientStatus, registryMessage, RegistryError, statusMessage, transportError } from './errors.js';
import { secureContextFor } from './trust.js';

/**
 * HTTP to registries as Docker does it: HTTPS first, plain HTTP only for hosts that allow it,
 * one keep-alive agent per origin, a connect timeout, retries of transient failures, and
 * redirects that never carry registry credentials to another host.
 */

export interface Request {
  readonly method: string;
  readonly url: URL;
  /** Lower-case names. */
  readonly headers?: OutgoingHttpHeaders;
  /** A stream is sent once: a request with one is never retried. */
  readonly body?: Buffer | Readable;
}

export interface Response {
  readonly method: string;
  /** Where the response came from (after redirects). */
  readonly url: URL;
  readonly status: number;
  readonly statusText: string;
  readonly headers: IncomingHttpHeaders;
  /** Read it, or `resume()` it to free the connection. */
  readonly body: IncomingMessage;
}

const CONNECT_TIMEOUT_MS = 30_000;
/** A connection that carries nothing for this long is dead (a stalled download, say). */
const IDLE_TIMEOUT_MS = 5 * 60_000;
const RETRIES = 3;
const BACKOFF_MS = 200;
const MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** docker.io's API is served by registry-1.docker.io, as in Docker. */
export function registryHost(domain: string): string {
  return domain === 'docker.io' ? 'registry-1.docker.io' : domain;
}

/** localhost, 127.0.0.0/8 and ::1 may always use plain HTTP, as in Docker; others when listed. */
export function allowsPlainHttp(host: string, insecureRegistries: readonly string[]): boolean {
  const { hostname } = new URL(`http://${host}`);
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    /^127\.\d+\.\d+\.\d+$/.test(hostname) ||
    insecureRegistries.includes(host) ||
    insecureRegistries.includes(hostname)
  );
}

const agents = new Map<string, http.Agent>();

function agentFor(url: URL): http.Agent {
  let agent = agents.get(url.origin);
  if (agent === undefined) {
    agent =
      url.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, secureContext: secureContextFor(url.host) })
        : new http.Agent({ keepAlive: true });
    agents.set(url.origin, agent);
  }
  return agent;
}

const timeout = (message: string): Error => Object.assign(new Error(message), { code: 'ETIMEDOUT' });

/** One exchange: resolves when the response headers arrive. Network failures are RegistryErrors. */
function exchange(request: Request): Promise<Response> {
  const { method, url, body } = request;
  return new Promise((resolve, reject) => {
    // A Content-Length rather than chunked encoding for every buffered body, empty ones included.
    const length = body instanceof Readable || method === 'GET' || method === 'HEAD' ? {} : { 'content-length': String(body?.length ?? 0) };
    const client = url.protocol === 'https:' ? https : http;
    const outgoing = client.request(url, { method, headers: { ...length, ...request.headers }, agent: agentFor(url) });
    let bodyFailure: unknown;
    // A body that failed (a short file, say) is the cause of the broken request, not the socket.
    outgoing.on('error', (err) => reject(transportError(method, url, bodyFailure ?? err)));
    outgoing.on('response', (response) =>
      resolve({ method, url, status: response.statusCode ?? 0, statusText: response.statusMessage ?? '', headers: response.headers, body: response }),
    );
    outgoing.on('socket', (socket) => {
      if (!socket.connecting) return; // a kept-alive connection
      const timer = setTimeout(() => outgoing.destroy(timeout(`dial tcp ${url.host}: i/o timeout`)), CONNECT_TIMEOUT_MS);
      socket.once('connect', () => clearTimeout(timer));
      outgoing.once('close', () => clearTimeout(timer));
    });
    outgoing.setTimeout(IDLE_TIMEOUT_MS, () => outgoing.destroy(timeout(`i/o timeout: nothing received for ${IDLE_TIMEOUT_MS / 60_000} minutes`)));
    if (body instanceof Readable) {
      pipeline(body, outgoing, (err) => {
        bodyFailure = err ?? undefined;
        if (err) outgoing.destroy(err);
      });
    } else {
      outgoing.end(body);
    }
  });
}

/** An exchange that follows redirects of GET and HEAD. Credentials never go to another host. */
async function follow(request: Request): Promise<Response> {
  let { url, headers = {} } = request;
  for (let hops = 0; ; hops++) {
    const response = await exchange({ ...request, url, headers });
    const location = response.headers.location;
    const redirectable = request.method === 'GET' || request.method === 'HEAD';
    if (!redirectable || !REDIRECTS.has(response.status) || location === undefined || hops === MAX_REDIRECTS) return response;
    response.body.resume();
    const next = new URL(location, url);
    // Blob storage behind a redirect (S3, a CDN) signs its own URLs; registry tokens stay home.
    // Compared by origin: an https -> http redirect to the same host must not carry them either.
    if (next.origin !== url.origin) headers = Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'authorization'));
    url = next;
  }
}

/** Runs `attempt` again, up to 3 times after a short backoff, while it fails transiently. */
export async function retrying<T>(attempt: () => Promise<T>, transient: (err: unknown) => boolean = isTransient): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (err) {
      if (retry === RETRIES || !transient(err)) throw err;
    }
    await sleep(BACKOFF_MS * 2 ** retry);
  }
}

/** For requests that must be sent once (a stream, an upload step that is not idempotent). */
export const once = (): boolean => false;

/**
 * Sends a request, following redirects, and tries again while the failure is transient (`once`
 * for no retries). A response with a transient status (429, 502-504) is an error when the tries
 * run out; any other response is the caller's to judge.
 */
export function send(request: Request, transient: (err: unknown) => boolean = isTransient): Promise<Response> {
  return retrying(async () => {
    const response = await follow(request);
    if (isTransientStatus(response.status)) throw await responseError(response);
    return response;
  }, transient);
}

/**
 * GET /v2/, Docker's ping: over HTTPS, or plain HTTP when the host allows it and its server does
 * not speak TLS. A certificate that fails verification is reported, never a reason to downgrade.
 * Nothing listening is final at once: only a connection lost later is worth another try.
 */
export async function ping(host: string, plainHttpAllowed: boolean): Promise<{ origin: string; response: Response }> {
  const get = async (origin: string) => ({
    origin,
    response: await send({ method: 'GET', url: new URL('/v2/', origin) }, (err) => isTransient(err) && (err as RegistryError).code !== 'ECONNREFUSED'),
  });
  try {
    return await get(`https://${host}`);
  } catch (err) {
    if (!plainHttpAllowed || !isPlainHttpServer(err)) throw err;
    return get(`http://${host}`);
  }
}

/** The whole body, at most `limit` bytes (a registry answer, not a blob). */
export async function readBody(response: Response, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > limit) {
        response.body.destroy();
        throw new RegistryError(`${response.method} ${displayUrl(response.url)}: response larger than ${limit} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    throw transportError(response.method, response.url, err);
  }
  return Buffer.concat(chunks);
}

const ERROR_BODY_LIMIT = 64 * 1024;

/** The error a refused request stands for, from the registry's error body or else its status. */
export async function responseError(response: Response, prefix?: string): Promise<RegistryError> {
  let message: string | undefined;
  try {
    message = registryMessage(await readBody(response, ERROR_BODY_LIMIT));
  } catch {
    // An unreadable error body: the status says enough.
  }
  message ??= statusMessage(response.method, response.url, response.status, response.statusText);
  return new RegistryError(prefix === undefined ? message : `${prefix}: ${message}`, String(response.status));
}
