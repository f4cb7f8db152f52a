import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { exposedPorts, formatPortCommand, formatPorts, parsePublish, publishAll, resolveHostPorts, type PortMapping } from './ports.js';

const tcp = (hostPort: number, containerPort: number, hostIp = ''): PortMapping => ({ hostIp, hostPort, containerPort, protocol: 'tcp' });

test('-p forms parse as Docker parses them', () => {
  assert.deepEqual(parsePublish(['80']), [tcp(0, 80)]);
  assert.deepEqual(parsePublish(['8080:80']), [tcp(8080, 80)]);
  assert.deepEqual(parsePublish(['127.0.0.1::80']), [tcp(0, 80, '127.0.0.1')]);
  assert.deepEqual(parsePublish(['127.0.0.1:8080:80/UDP']), [{ ...tcp(8080, 80, '127.0.0.1'), protocol: 'udp' }]);
  assert.deepEqual(parsePublish(['8000-8002:80-82']), [tcp(8000, 80), tcp(8001, 81), tcp(8002, 82)]);
  assert.deepEqual(parsePublish(['80-81']), [tcp(0, 80), tcp(0, 81)]);
  assert.deepEqual(parsePublish(['8000-8010:80']), [{ ...tcp(8000, 80), hostPortEnd: 8010 }]);
  assert.deepEqual(parsePublish(['0:80/']), [tcp(0, 80)]);
  assert.deepEqual(parsePublish(['1:2', '3']), [tcp(1, 2), tcp(0, 3)]);
});

test('bad -p values get Docker\'s messages', () => {
  const cases: [string, string][] = [
    ['x', 'invalid containerPort: x'],
    ['8080:x', 'invalid containerPort: x'],
    ['0', 'invalid containerPort: 0'],
    ['65536', 'invalid containerPort: 65536'],
    ['82-80', 'invalid containerPort: 82-80'],
    ['x:80', 'invalid hostPort: x'],
    ['70000:80', 'invalid hostPort: 70000'],
    ['80/sctpx', 'invalid proto: sctpx'],
    ['8000-8001:80-82', 'invalid ranges specified for container and host Ports: 80-82 and 8000-8001'],
    ['8080:', 'no port specified: 8080:<empty>'],
    ['1.2.3:80:80', 'invalid IP address: 1.2.3'],
  ];
  for (const [value, message] of cases) assert.throws(() => parsePublish([value]), { message }, value);
  assert.throws(() => parsePublish(['[::1]:80:80']), /^WhaleboxError: invalid IP address: \[::1\]: whalebox publishes on IPv4 addresses only/);
  assert.throws(() => parsePublish(['80/sctp']), { message: 'invalid proto: sctp (whalebox publishes tcp and udp ports only)' });
});

test('exposed ports: the image\'s and --expose, sorted, once each; -P publishes the unpublished', () => {
  const exposed = exposedPorts({ '80/tcp': {}, '53/udp': {}, '443': {} }, ['80', '7000-7001/tcp', '53/udp']);
  assert.deepEqual(exposed, [
    { port: 53, protocol: 'udp' },
    { port: 80, protocol: 'tcp' },
    { port: 443, protocol: 'tcp' },
    { port: 7000, protocol: 'tcp' },
    { port: 7001, protocol: 'tcp' },
  ]);
  assert.deepEqual(exposedPorts(undefined, []), []);
  assert.throws(() => exposedPorts(undefined, ['1:2']), { message: 'invalid port format for --expose: 1:2' });
  assert.throws(() => exposedPorts(undefined, ['x']), { message: "invalid range format for --expose: x, error: invalid port 'x'" });
  assert.deepEqual(publishAll(exposed.slice(0, 2)), [
    { hostIp: '', hostPort: 0, containerPort: 53, protocol: 'udp' },
    tcp(0, 80),
  ]);
  assert.deepEqual(publishAll(exposed.slice(0, 2), parsePublish(['8080:80'])), [{ hostIp: '', hostPort: 0, containerPort: 53, protocol: 'udp' }]);
});

test('the PORTS column is the docker CLI\'s', () => {
  assert.equal(formatPorts([tcp(8080, 80)], []), '0.0.0.0:8080->80/tcp');
  assert.equal(formatPorts([tcp(8000, 8000), tcp(8001, 8001), tcp(8002, 8002)], []), '0.0.0.0:8000-8002->8000-8002/tcp');
  // Only ports published on the same number group; others come after the groups, one by one.
  assert.equal(
    formatPorts([tcp(8002, 82), tcp(8000, 80), tcp(8001, 81)], [{ port: 9000, protocol: 'tcp' }]),
    '9000/tcp, 0.0.0.0:8000->80/tcp, 0.0.0.0:8001->81/tcp, 0.0.0.0:8002->82/tcp',
  );
  assert.equal(
    formatPorts([tcp(5000, 5000, '127.0.0.1')], [
      { port: 80, protocol: 'tcp' },
      { port: 81, protocol: 'tcp' },
      { port: 83, protocol: 'tcp' },
      { port: 53, protocol: 'udp' },
      { port: 5000, protocol: 'tcp' },
    ]),
    // Go's order: a group closed by a gap is printed first, the open groups after it.
    '80-81/tcp, 53/udp, 83/tcp, 127.0.0.1:5000->5000/tcp',
  );
  assert.equal(formatPorts([], []), '');
});

test('the port command lists mappings, or the addresses of one', () => {
  const mappings = [tcp(8080, 80), tcp(9000, 9000, '127.0.0.1'), { ...tcp(5353, 53), protocol: 'udp' as const }, tcp(8443, 443)];
  assert.equal(
    formatPortCommand(mappings, 'c'),
    '53/udp -> 0.0.0.0:5353\n80/tcp -> 0.0.0.0:8080\n443/tcp -> 0.0.0.0:8443\n9000/tcp -> 127.0.0.1:9000\n',
  );
  assert.equal(formatPortCommand(mappings, 'c', '80'), '0.0.0.0:8080\n');
  assert.equal(formatPortCommand(mappings, 'c', '53/udp'), '0.0.0.0:5353\n');
  assert.equal(formatPortCommand([], 'c'), '');
  assert.throws(() => formatPortCommand(mappings, 'c', '80/udp'), { message: "No public port '80/udp' published for c" });
  assert.throws(() => formatPortCommand(mappings, 'c', 'http'), { message: 'invalid port (http)' });
});

test('host ports: a free one is chosen; a busy explicit one is refused', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const busy = (server.address() as { port: number }).port;
  try {
    const [random, second] = await resolveHostPorts(parsePublish(['127.0.0.1::80', '127.0.0.1::81']), () => false);
    assert.ok(random!.hostPort >= 49153 && random!.hostPort <= 65535);
    assert.notEqual(random!.hostPort, second!.hostPort);
    await assert.rejects(resolveHostPorts(parsePublish([`127.0.0.1:${busy}:80`]), () => false), {
      message: `Bind for 127.0.0.1:${busy} failed: port is already allocated`,
    });
    await assert.rejects(resolveHostPorts(parsePublish(['8080:80']), (m) => m.hostPort === 8080), {
      message: 'Bind for 0.0.0.0:8080 failed: port is already allocated',
    });
    // In a host range, the first free port is taken.
    const [inRange] = await resolveHostPorts(parsePublish([`127.0.0.1:${busy}-${busy + 1}:80/udp`]), () => false);
    assert.deepEqual(inRange, { hostIp: '127.0.0.1', hostPort: busy, containerPort: 80, protocol: 'udp' });
    const [skipped] = await resolveHostPorts(parsePublish([`127.0.0.1:${busy}-${busy + 1}:80`]), () => false);
    assert.equal(skipped!.hostPort, busy + 1);
  } finally {
    server.close();
  }
});
