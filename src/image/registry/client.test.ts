import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { RegistryClient } from './client.js';

/**
 * The client against small in-process HTTP servers on 127.0.0.0/8, which the client reaches by
 * plain HTTP after its HTTPS handshake fails (as Docker does for local registries).
 */

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

const servers: Server[] = [];
after(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

async function serve(handler: Handler, address = '127.0.0.1'): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handler(req, res, Buffer.concat(chunks)));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return `${address}:${(server.address() as AddressInfo).port}`;
}

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const MANIFEST = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function errorBody(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code, message, detail: {} }] }));
}

test('a manifest by tag: media type from Content-Type, digest from Docker-Content-Digest, checked', async () => {
  const host = await serve((req, res) => {
    if (req.url === '/v2/') return res.end('{}');
    if (req.url === '/v2/app/manifests/v1') return res.writeHead(200, { 'content-type': OCI_MANIFEST, 'docker-content-digest': sha256(MANIFEST) }).end(MANIFEST);
    if (req.url === '/v2/app/manifests/bad') return res.writeHead(200, { 'docker-content-digest': sha256(Buffer.from('other')) }).end(MANIFEST);
    res.writeHead(200, { 'content-type': 'application/json' }).end(MANIFEST); // a digest that is not MANIFEST's
  });
  const client = new RegistryClient(host);
  assert.deepEqual(await client.getManifest('app', 'v1', [OCI_MANIFEST]), { mediaType: OCI_MANIFEST, digest: sha256(MANIFEST), bytes: MANIFEST });
  await assert.rejects(client.getManifest('app', 'bad', [OCI_MANIFEST]), /manifest verification failed for digest sha256:/);
  const wrong = sha256(Buffer.from('something else'));
  await assert.rejects(client.getManifest('app', wrong, [OCI_MANIFEST]), new RegExp(`manifest verification failed for digest ${wrong}`));
});

test("a missing manifest is Docker's message, with the registry's error", async () => {
  const host = await serve((req, res) => (req.url === '/v2/' ? res.end('{}') : errorBody(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown')));
  await assert.rejects(new RegistryClient(host).getManifest('app', 'v1', [OCI_MANIFEST]), (err: Error & { exitCode?: number }) => {
    assert.equal(err.message, `manifest for ${host}/app:v1 not found: manifest unknown: manifest unknown`);
    assert.equal(err.exitCode, 1);
    return true;
  });
});

test('503 is tried again, then succeeds; 400 is not tried again', async () => {
  let calls = 0;
  const host = await serve((req, res) => {
    if (req.url === '/v2/') return res.end('{}');
    calls++;
    if (req.url?.startsWith('/v2/busy/') && calls < 3) return res.writeHead(503).end();
    if (req.url?.startsWith('/v2/busy/')) return res.writeHead(200).end();
    errorBody(res, 400, 'NAME_INVALID', 'invalid repository name');
  });
  const client = new RegistryClient(host);
  assert.equal(await client.blobExists('busy', sha256(MANIFEST)), true);
  assert.equal(calls, 3);
  calls = 0;
  await assert.rejects(client.blobExists('bad', sha256(MANIFEST)), /unexpected status from HEAD request to http:\/\/.*\/v2\/bad\/blobs\/sha256:[0-9a-f]+: 400 Bad Request/);
  assert.equal(calls, 1);
});

test('a blob redirected to another host is fetched without the registry credentials', async () => {
  const config = mkdtempSync(join(tmpdir(), 'whalebox-client-'));
  after(() => rmSync(config, { recursive: true, force: true }));
  const blob = Buffer.from('layer bytes');
  const seen: (string | undefined)[] = [];
  const storage = await serve((req, res) => {
    seen.push(req.headers.authorization);
    res.end(blob);
  }, '127.0.0.2');
  const basic = `Basic ${Buffer.from('me:pw').toString('base64')}`;
  const host = await serve((req, res) => {
    if (req.headers.authorization !== basic) return res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
    seen.push(req.headers.authorization);
    res.writeHead(307, { location: `http://${storage}/signed?X-Signature=abc` }).end();
  });
  mkdirSync(join(config, 'whalebox'));
  writeFileSync(join(config, 'whalebox', 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from('me:pw').toString('base64') } } }));
  process.env.WHALEBOX_CONFIG = join(config, 'whalebox');
  process.env.DOCKER_CONFIG = join(config, 'docker');
  try {
    const { stream, size } = await new RegistryClient(host).fetchBlob('app', sha256(blob));
    assert.equal(size, blob.length);
    assert.deepEqual(await collect(stream), blob);
    assert.deepEqual(seen, [basic, undefined]);
  } finally {
    delete process.env.WHALEBOX_CONFIG;
    delete process.env.DOCKER_CONFIG;
  }
});

test('a blob body that ends early is an error; a resumed download starts at its offset', async () => {
  const blob = Buffer.from('0123456789abcdef');
  const host = await serve((req, res) => {
    if (req.url === '/v2/') return res.end('{}');
    if (req.url?.includes('short')) {
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.write(blob.subarray(0, 5));
      return setTimeout(() => res.socket?.destroy(), 20);
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && req.url?.includes('ranged')) return res.writeHead(206, { 'content-range': `bytes ${range[1]}-15/16` }).end(blob.subarray(Number(range[1])));
    res.end(blob); // ignores Range
  });
  const client = new RegistryClient(host);
  const short = await client.fetchBlob('short', sha256(blob));
  await assert.rejects(collect(short.stream), /blob sha256:[0-9a-f]+ from 127\.0\.0\.1:\d+\/short: (unexpected EOF|aborted)/);
  const ranged = await client.fetchBlob('ranged', sha256(blob), 10);
  assert.deepEqual([ranged.size, (await collect(ranged.stream)).toString()], [16, 'abcdef']);
  const whole = await client.fetchBlob('whole', sha256(blob), 10);
  assert.deepEqual([whole.size, (await collect(whole.stream)).toString()], [16, 'abcdef']);
});

test('blobStream resumes a dropped download from the bytes it lacks', async () => {
  const blob = Buffer.from('0123456789abcdef');
  const ranges: string[] = [];
  const host = await serve((req, res) => {
    if (req.url === '/v2/') return res.end('{}');
    ranges.push(req.headers.range ?? 'none');
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    res.writeHead(start ? 206 : 200, { 'content-length': String(blob.length - start), ...(start ? { 'content-range': `bytes ${start}-15/16` } : {}) });
    // Each answer breaks off after 6 bytes, until the end is near.
    const end = Math.min(blob.length, start + 6);
    res.write(blob.subarray(start, end));
    if (end === blob.length) return res.end();
    setTimeout(() => res.socket?.destroy(), 20);
  });
  const stream = new RegistryClient(host).blobStream('flaky', sha256(blob));
  assert.equal((await collect(stream)).toString(), blob.toString());
  assert.deepEqual(ranges, ['none', 'bytes=6-', 'bytes=12-']);
});

test('uploads: one PUT for a small blob, PATCH chunks for a larger one; mounts; manifests; tags', async () => {
  const uploads = new Map<string, Buffer>();
  const blobs = new Map<string, Buffer>();
  const requests: string[] = [];
  let next = 0;
  const host = await serve((req, res, body) => {
    const url = new URL(req.url!, 'http://x');
    requests.push(`${req.method} ${url.pathname}${req.headers['content-range'] ? ` ${req.headers['content-range']}` : ''}`);
    const upload = /^\/v2\/app\/blobs\/uploads\/(\w+)$/.exec(url.pathname)?.[1];
    if (url.pathname === '/v2/') return res.end('{}');
    if (req.method === 'POST' && url.searchParams.get('mount')) {
      if (blobs.has(url.searchParams.get('mount')!)) return res.writeHead(201).end();
    }
    if (req.method === 'POST') {
      uploads.set(String(++next), Buffer.alloc(0));
      return res.writeHead(202, { location: `/v2/app/blobs/uploads/${next}?_state=s${next}` }).end();
    }
    if (upload !== undefined && req.method === 'DELETE') return res.writeHead(204).end(uploads.delete(upload) ? '' : '');
    if (upload !== undefined && url.searchParams.get('_state') !== `s${upload}`) return errorBody(res, 400, 'BLOB_UPLOAD_INVALID', 'bad state');
    if (upload !== undefined && req.method === 'PATCH') {
      uploads.set(upload, Buffer.concat([uploads.get(upload)!, body]));
      return res.writeHead(202, { location: `http://${req.headers.host}/v2/app/blobs/uploads/${upload}?_state=s${upload}` }).end();
    }
    if (upload !== undefined && req.method === 'PUT') {
      const bytes = Buffer.concat([uploads.get(upload)!, body]);
      if (sha256(bytes) !== url.searchParams.get('digest')) return errorBody(res, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
      blobs.set(sha256(bytes), bytes);
      return res.writeHead(201).end();
    }
    if (req.method === 'PUT' && url.pathname === '/v2/app/manifests/v1') return res.writeHead(201, { 'docker-content-digest': sha256(body) }).end();
    if (url.pathname === '/v2/app/tags/list' && !url.search) return res.writeHead(200, { link: '</v2/app/tags/list?last=b&n=2>; rel="next"' }).end('{"name":"app","tags":["a","b"]}');
    if (url.pathname === '/v2/app/tags/list') return res.end('{"name":"app","tags":["c"]}');
    res.writeHead(404).end();
  });
  const client = new RegistryClient(host, { chunkSize: 4 });
  const small = Buffer.from('tiny');
  const large = Buffer.from('0123456789');
  await client.uploadBlob('app', sha256(small), small.length, () => Readable.from([small]));
  await client.uploadBlob('app', sha256(large), large.length, () => Readable.from([large.subarray(0, 3), large.subarray(3)]));
  assert.deepEqual([blobs.get(sha256(small)), blobs.get(sha256(large))], [small, large]);
  assert.deepEqual(requests.splice(0), [
    'GET /v2/',
    'POST /v2/app/blobs/uploads/',
    'PUT /v2/app/blobs/uploads/1',
    'POST /v2/app/blobs/uploads/',
    'PATCH /v2/app/blobs/uploads/2 0-3',
    'PATCH /v2/app/blobs/uploads/2 4-7',
    'PATCH /v2/app/blobs/uploads/2 8-9',
    'PUT /v2/app/blobs/uploads/2',
  ]);
  await assert.rejects(
    client.uploadBlob('app', sha256(small), 3, () => Readable.from([small])),
    /blob sha256:[0-9a-f]+: the stream gave more than 3 bytes/,
  );
  assert.equal(await client.mountBlob('app', sha256(large), 'other'), true);
  assert.equal(await client.mountBlob('app', sha256(Buffer.from('absent')), 'other'), false);
  assert.equal(uploads.size, 3, 'the upload started instead of the mount is cancelled');
  assert.equal(await client.putManifest('app', 'v1', OCI_MANIFEST, MANIFEST), sha256(MANIFEST));
  assert.deepEqual(await client.listTags('app'), ['a', 'b', 'c']);
});

test('nothing listening: a Docker-like message, at once', async () => {
  const host = await serve(() => {});
  servers.at(-1)!.close();
  const started = Date.now();
  await assert.rejects(
    new RegistryClient(host).getManifest('app', 'v1', [OCI_MANIFEST]),
    (err: Error) => err.message === `Get "https://${host}/v2/": dial tcp ${host}: connect: connection refused`,
  );
  assert.ok(Date.now() - started < 1000, 'a refused first connection is not tried again');
});

test('a host that is not local gets no plain-HTTP fallback', async () => {
  const host = await serve((_req, res) => res.end('{}'));
  const port = host.split(':')[1];
  // localhost is local; the same server under an insecureRegistries entry too; but not otherwise.
  await assert.rejects(new RegistryClient(`127.0.0.1.nip.invalid:${port}`).blobExists('a', sha256(MANIFEST)), /Get "https:\/\/127\.0\.0\.1\.nip\.invalid:\d+\/v2\/": dial tcp: lookup 127\.0\.0\.1\.nip\.invalid: no such host/);
  assert.equal(await new RegistryClient(`localhost:${port}`).blobExists('a', sha256(MANIFEST)), true);
});

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
