import { createHash } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { familiarString } from '../reference.js';
import { WhaleboxError } from '../../util/errors.js';
import { Authenticator } from './auth.js';
import { findCredentials, type Credentials } from './credentials.js';
import { displayUrl, isTransient, RegistryError } from './errors.js';
import { allowsPlainHttp, once, ping, readBody, registryHost, responseError, retrying, send, type Response } from './transport.js';

/** The OCI distribution API (`/v2/…`) of one registry, with Docker's transport and auth rules. */

/** Times a blob download resumes after a dropped connection, and the first wait before it. */
const BLOB_RESUMES = 3;
const BLOB_RESUME_DELAY_MS = 200;

export interface RegistryOptions {
  /** Hosts (host[:port]) where plain HTTP is allowed, besides localhost / 127.0.0.0/8 / ::1 which always are (as Docker). */
  readonly insecureRegistries?: readonly string[];
  /** Blobs larger than this are uploaded in PATCH chunks of this size (default 16 MiB). */
  readonly chunkSize?: number;
}

export interface Manifest {
  readonly mediaType: string;
  readonly digest: string;
  readonly bytes: Buffer;
}

interface Call {
  readonly method: string;
  /** A path (`/v2/…`) or an absolute URL (an upload's Location). */
  readonly target: string;
  readonly scopes: readonly string[];
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: Buffer | Readable;
  /** Send it once, even with a buffered body: the request is not idempotent (an upload step). */
  readonly once?: boolean;
}

const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;
/** containerd's limit: a manifest is metadata, and a larger answer is a registry gone wrong. */
const MANIFEST_LIMIT = 4 * 1024 * 1024;
const TOKEN_LIMIT = 1024 * 1024;
const LIST_LIMIT = 16 * 1024 * 1024;
/** Content types that say nothing of the manifest: its own `mediaType` field does. */
const GENERIC_TYPES = new Set(['', 'application/json', 'text/plain', 'application/octet-stream']);
const DIGEST_ALGORITHMS = new Set(['sha256', 'sha384', 'sha512']);

const pull = (repository: string): string[] => [`repository:${repository}:pull`];
const push = (repository: string): string[] => [`repository:${repository}:pull,push`];

export class RegistryClient {
  private readonly host: string;
  private readonly insecureRegistries: readonly string[];
  private readonly plainHttp: boolean;
  private readonly chunkSize: number;
  private readonly auth: Authenticator;
  private pinged: Promise<string> | undefined;

  /** `domain` as in ImageReference.domain; docker.io is served by registry-1.docker.io. */
  constructor(
    private readonly domain: string,
    options: RegistryOptions = {},
  ) {
    this.host = registryHost(domain);
    this.insecureRegistries = options.insecureRegistries ?? [];
    try {
      this.plainHttp = allowsPlainHttp(this.host, options.insecureRegistries ?? []);
    } catch {
      throw new WhaleboxError(`invalid registry host: ${domain}`, 1);
    }
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    // Read once, when a challenge first asks: config.json does not change during a pull.
    let stored: { credentials?: Credentials } | undefined;
    this.auth = this.authenticator(() => (stored ??= { credentials: findCredentials(domain) }).credentials);
  }

  /**
   * GET a manifest or index by tag or digest with the given Accept types. The bytes are checked
   * against the digest asked for, or the one the registry reports (Docker-Content-Digest).
   */
  async getManifest(repository: string, reference: string, accept: readonly string[]): Promise<Manifest> {
    const response = await this.call({ method: 'GET', target: `/v2/${repository}/manifests/${reference}`, scopes: pull(repository), headers: { accept: accept.join(', ') } });
    if (response.status === 404) throw await responseError(response, `manifest for ${this.name(repository, reference)} not found`);
    if (response.status !== 200) throw await responseError(response);
    const bytes = await readBody(response, MANIFEST_LIMIT);
    const reported = response.headers['docker-content-digest'];
    const expected = reference.includes(':') ? reference : typeof reported === 'string' && DIGEST_ALGORITHMS.has(reported.split(':')[0]!) ? reported : undefined;
    if (expected !== undefined && digestOf(bytes, expected.split(':')[0]) !== expected) {
      throw new RegistryError(`manifest verification failed for digest ${expected} (${this.name(repository, reference)})`);
    }
    return { mediaType: mediaTypeOf(response, bytes), digest: expected ?? digestOf(bytes), bytes };
  }

  /**
   * GET a blob as a stream; the caller verifies its digest. `offset` resumes a download (a Range
   * request); `size` is the whole blob's (-1 when the registry does not say). The stream ends in
   * an error when the body stops short.
   */
  async fetchBlob(repository: string, digest: string, offset = 0): Promise<{ stream: NodeJS.ReadableStream & Readable; size: number }> {
    const response = await this.call({
      method: 'GET',
      target: `/v2/${repository}/blobs/${digest}`,
      scopes: pull(repository),
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
    });
    if (response.status !== 200 && response.status !== 206) throw await responseError(response);
    // A server that ignores Range sends the whole blob: what the caller has is skipped here.
    const start = response.status === 206 ? offset : 0;
    const length = Number(response.headers['content-length'] ?? -1);
    const total = /\/(\d+)$/.exec(response.headers['content-range'] ?? '')?.[1];
    const stream = checkedBody(response, length, offset - start, `blob ${digest} from ${this.domain}/${repository}`);
    return { stream, size: total !== undefined ? Number(total) : length < 0 ? -1 : start + length };
  }

  /**
   * A blob as one stream that outlives dropped connections: after a transient failure
   * mid-body it asks again from the first byte it lacks (a Range request), a few times, so a
   * long download does not start over. The caller verifies the digest as usual.
   */
  blobStream(repository: string, digest: string): Readable {
    const fetch = this.fetchBlob.bind(this);
    const bytes = async function* (): AsyncGenerator<Buffer> {
      let offset = 0;
      for (let retry = 0; ; retry++) {
        try {
          const { stream } = await fetch(repository, digest, offset);
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            offset += chunk.length;
            yield chunk;
          }
          return;
        } catch (err) {
          if (retry === BLOB_RESUMES || !isTransient(err)) throw err;
        }
        await sleep(BLOB_RESUME_DELAY_MS * 2 ** retry);
      }
    };
    return Readable.from(bytes(), { objectMode: false });
  }

  async blobExists(repository: string, digest: string): Promise<boolean> {
    const response = await this.call({ method: 'HEAD', target: `/v2/${repository}/blobs/${digest}`, scopes: pull(repository) });
    if (response.status !== 200 && response.status !== 404) throw await responseError(response);
    // Even an empty body must be read to its end, or the socket never goes back to the pool.
    response.body.resume();
    return response.status === 200;
  }

  /** Cross-repository mount: true when mounted; false when the registry started an upload instead. */
  async mountBlob(repository: string, digest: string, fromRepository: string): Promise<boolean> {
    const query = new URLSearchParams({ mount: digest, from: fromRepository });
    const response = await this.call({
      method: 'POST',
      target: `/v2/${repository}/blobs/uploads/?${query}`,
      scopes: [...push(repository), ...pull(fromRepository)],
    });
    if (response.status !== 201 && response.status !== 202) throw await responseError(response);
    response.body.resume();
    if (response.status === 202) await this.cancelUpload(response, repository);
    return response.status === 201;
  }

  /**
   * Uploads a blob: one PUT with the body when it is at most chunkSize, else PATCH chunks then the
   * closing PUT. A transient failure starts the upload again with a fresh stream from `open`.
   */
  async uploadBlob(repository: string, digest: string, size: number, open: () => Readable): Promise<void> {
    await retrying(async () => {
      const source = open();
      try {
        await this.uploadOnce(repository, digest, size, source);
      } finally {
        source.destroy();
      }
    });
  }

  /** PUT a manifest under a tag or digest; returns the digest the registry reports. */
  async putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer): Promise<string> {
    const response = await this.call({
      method: 'PUT',
      target: `/v2/${repository}/manifests/${reference}`,
      scopes: push(repository),
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    if (response.status !== 201) throw await responseError(response);
    response.body.resume();
    // The digest is what the bytes hash to, as Docker computes it: a header could name anything.
    return digestOf(bytes);
  }

  /** The repository's tags, every page of them (`Link: <…>; rel="next"`). */
  async listTags(repository: string): Promise<string[]> {
    const tags: string[] = [];
    for (let target: string | undefined = `/v2/${repository}/tags/list`; target !== undefined; ) {
      const response = await this.call({ method: 'GET', target, scopes: pull(repository) });
      if (response.status !== 200) throw await responseError(response);
      const body = await readBody(response, LIST_LIMIT);
      let page: { tags?: unknown };
      try {
        page = JSON.parse(body.toString('utf8')) as typeof page;
      } catch {
        throw new RegistryError(`tags of ${this.domain}/${repository}: the registry's answer is not JSON`);
      }
      if (Array.isArray(page?.tags)) tags.push(...page.tags.filter((tag): tag is string => typeof tag === 'string'));
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(response.headers.link ?? ''));
      target = next === null ? undefined : new URL(next[1]!, response.url).href;
    }
    return tags;
  }

  /** GET /v2/ with these credentials (not the stored ones): resolves when the registry accepts them. */
  async checkLogin(username: string, password: string): Promise<void> {
    const auth = this.authenticator(() => ({ username, password }));
    const response = await this.call({ method: 'GET', target: '/v2/', scopes: [] }, auth);
    response.body.resume();
    if (response.status !== 200) {
      throw new RegistryError(`login attempt to ${response.url.href} failed with status: ${response.status} ${response.statusText}`, String(response.status));
    }
  }

  private authenticator(credentials: () => Credentials | undefined): Authenticator {
    return new Authenticator(credentials, async (url, headers) => {
      // A realm on plain HTTP would carry the credentials in clear: only where plain HTTP is allowed.
      if (url.protocol !== 'https:' && !allowsPlainHttp(url.host, this.insecureRegistries)) {
        throw new RegistryError(`refusing to send credentials to the token realm ${url.origin}: it is not HTTPS`);
      }
      const response = await send({ method: 'GET', url, headers });
      return { status: response.status, statusText: response.statusText, body: await readBody(response, TOKEN_LIMIT) };
    });
  }

  /** The registry's origin (scheme and host), found by the first call's ping, which also meets its challenge. */
  private origin(): Promise<string> {
    this.pinged ??= ping(this.host, this.plainHttp).then(
      ({ origin, response }) => {
        response.body.resume();
        if (response.status === 401) this.auth.challenged(response.headers['www-authenticate'], []);
        return origin;
      },
      (err: unknown) => {
        this.pinged = undefined;
        throw err;
      },
    );
    return this.pinged;
  }

  /**
   * One API call, authenticated: a 401 is answered once (a new token, the challenged scheme) and
   * the request sent again, when its body can be sent again.
   */
  private async call(call: Call, auth = this.auth): Promise<Response> {
    const url = new URL(call.target, await this.origin());
    const replayable = call.once !== true && !(call.body instanceof Readable);
    for (let challenged = false; ; challenged = true) {
      const authorization = await auth.authorization(call.scopes);
      const headers = authorization === undefined ? call.headers : { ...call.headers, authorization };
      const response = await send({ method: call.method, url, headers, body: call.body }, replayable ? isTransient : once);
      // Only the registry's own challenge counts: a 401 from a redirect target (blob storage)
      // must not send our credentials to a realm that third party names.
      const own = response.url.origin === url.origin;
      if (response.status !== 401 || challenged || !replayable || !own || !auth.challenged(response.headers['www-authenticate'], call.scopes)) {
        return response;
      }
      response.body.resume();
    }
  }

  private async uploadOnce(repository: string, digest: string, size: number, source: Readable): Promise<void> {
    const scopes = push(repository);
    const started = await this.call({ method: 'POST', target: `/v2/${repository}/blobs/uploads/`, scopes });
    if (started.status !== 202) throw await responseError(started);
    started.body.resume();
    let location = uploadLocation(started);
    const octets = { 'content-type': 'application/octet-stream' };
    let closing: Call;
    if (size <= this.chunkSize) {
      const body = source.pipe(exactLength(size, `blob ${digest}`));
      // pipe() does not pass a source's errors on: a file that vanishes or fails to read must
      // end the request with its error, not crash the process or leave the body open.
      source.on('error', (err) => body.destroy(new RegistryError(`blob ${digest}: ${err.message}`)));
      closing = { method: 'PUT', target: withDigest(location, digest), scopes, headers: { ...octets, 'content-length': String(size) }, body };
    } else {
      let offset = 0;
      for await (const chunk of chunks(source, this.chunkSize)) {
        const range = `${offset}-${offset + chunk.length - 1}`;
        const patched = await this.call({ method: 'PATCH', target: location, scopes, headers: { ...octets, 'content-range': range }, body: chunk, once: true });
        if (patched.status !== 202) throw await responseError(patched);
        patched.body.resume();
        location = uploadLocation(patched);
        offset += chunk.length;
      }
      if (offset !== size) throw new RegistryError(`blob ${digest}: the stream gave ${offset} bytes, ${size} expected`);
      closing = { method: 'PUT', target: withDigest(location, digest), scopes, once: true };
    }
    const done = await this.call(closing);
    if (done.status !== 201) throw await responseError(done);
    done.body.resume();
  }

  /** Ends an upload the registry started instead of a mount; a leftover one expires anyway. */
  private async cancelUpload(started: Response, repository: string): Promise<void> {
    try {
      const response = await this.call({ method: 'DELETE', target: uploadLocation(started), scopes: push(repository) });
      response.body.resume();
    } catch {
      // Nothing is lost: the registry purges abandoned uploads.
    }
  }

  /** `127.0.0.1:5000/app:v1`, `busybox@sha256:…`: the image as Docker's messages name it. */
  private name(repository: string, reference: string): string {
    const ref = reference.includes(':') ? { digest: reference } : { tag: reference };
    return familiarString({ domain: this.domain, path: repository, ...ref });
  }
}

function digestOf(bytes: Buffer, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

function mediaTypeOf(response: Response, bytes: Buffer): string {
  const header = (response.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (!GENERIC_TYPES.has(header)) return header;
  try {
    const declared = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    if (typeof declared === 'string') return declared;
  } catch {
    // Not JSON: the header is all there is.
  }
  return header;
}

/** Where an upload continues: the Location of the last step's answer, maybe relative. */
function uploadLocation(response: Response): string {
  const location = response.headers.location;
  if (location === undefined) throw new RegistryError(`${response.method} ${displayUrl(response.url)}: upload answer without a Location`);
  return new URL(location, response.url).href;
}

function withDigest(location: string, digest: string): string {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url.href;
}

/** Passes `size` bytes through, and fails when the source gives more or fewer. */
function exactLength(size: number, what: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > size ? new RegistryError(`${what}: the stream gave more than ${size} bytes`) : null, chunk);
    },
    flush(done) {
      done(seen < size ? new RegistryError(`${what}: the stream gave ${seen} bytes, ${size} expected`) : null);
    },
  });
}

/**
 * A blob's body as the caller reads it: `skip` leading bytes dropped, and an error (not a quiet
 * end) when the body stops before its Content-Length or the connection breaks.
 */
function checkedBody(response: Response, length: number, skip: number, what: string): Transform {
  let seen = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const from = Math.max(0, Math.min(chunk.length, skip - seen));
      seen += chunk.length;
      done(null, from === chunk.length ? undefined : chunk.subarray(from));
    },
    flush(done) {
      done(length >= 0 && seen < length ? new RegistryError(`${what}: unexpected EOF after ${seen} of ${length} bytes`, 'ECONNRESET') : null);
    },
  });
  const body = response.body;
  body.on('error', (err) => stream.destroy(new RegistryError(`${what}: ${err.message}`, 'ECONNRESET')));
  body.on('aborted', () => stream.destroy(new RegistryError(`${what}: unexpected EOF after ${seen} of ${length} bytes`, 'ECONNRESET')));
  stream.on('close', () => {
    if (!body.complete) body.destroy();
  });
  body.pipe(stream);
  return stream;
}

/** The source in buffers of `size` bytes (the last one shorter). */
async function* chunks(source: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const data of source as AsyncIterable<Buffer>) {
    let rest = data;
    while (length + rest.length >= size) {
      parts.push(rest.subarray(0, size - length));
      yield Buffer.concat(parts);
      rest = rest.subarray(size - length);
      parts = [];
      length = 0;
    }
    if (rest.length > 0) {
      parts.push(rest);
      length += rest.length;
    }
  }
  if (length > 0) yield Buffer.concat(parts);
}
