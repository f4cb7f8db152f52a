import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WhaleboxError } from '../util/errors.js';
import { applyChanges } from './changes.js';

test('applies Dockerfile instructions to the run config', () => {
  const config = applyChanges({ Env: ['PATH=/bin', 'KEEP=1'], WorkingDir: '/srv' }, [
    'CMD ["sh"]',
    'entrypoint /entry.sh --flag',
    'ENV PATH=/usr/bin:/bin GREETING="hello world" ESCAPED=a\\ b',
    'ENV LEGACY value with spaces',
    'LABEL org.example.title="My image" version=1',
    'EXPOSE 80 53/udp 8000-8002',
    'VOLUME ["/data", "/logs"]',
    'VOLUME /cache',
    'USER www-data:www-data',
    'WORKDIR app',
    'STOPSIGNAL SIGQUIT',
  ]);
  assert.deepEqual(config, {
    Env: ['KEEP=1', 'PATH=/usr/bin:/bin', 'GREETING=hello world', 'ESCAPED=a b', 'LEGACY=value with spaces'],
    WorkingDir: '/srv/app',
    Cmd: ['sh'],
    Entrypoint: ['/bin/sh', '-c', '/entry.sh --flag'],
    Labels: { 'org.example.title': 'My image', version: '1' },
    ExposedPorts: { '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {}, '8002/tcp': {} },
    Volumes: { '/data': {}, '/logs': {}, '/cache': {} },
    User: 'www-data:www-data',
    StopSignal: 'SIGQUIT',
  });
});

test('does not modify its input', () => {
  const original = { Env: ['A=1'] };
  applyChanges(original, ['ENV A=2']);
  assert.deepEqual(original, { Env: ['A=1'] });
});

test('a CMD that is not a JSON array of strings is shell form', () => {
  assert.deepEqual(applyChanges({}, ['CMD [not json']).Cmd, ['/bin/sh', '-c', '[not json']);
  assert.deepEqual(applyChanges({}, ['CMD [1, 2]']).Cmd, ['/bin/sh', '-c', '[1, 2]']);
});

test('rejects what Docker rejects', () => {
  const cases: Array<[string, string]> = [
    ['RUN echo hi', 'RUN is not a valid change command'],
    ['', '"" is not a valid change command'],
    ['CMD', 'CMD requires at least one argument'],
    ['ENV A', 'ENV names a variable without a value: A'],
    ['ENV A=1 =2', 'ENV expects NAME=VALUE pairs, got "=2"'],
    ['ENV A="open', 'unterminated quote in change: A="open'],
    ['EXPOSE 0', 'invalid port for EXPOSE: 0 (expected PORT[-PORT][/tcp|udp|sctp], ports 1-65535)'],
    ['EXPOSE 80/http', 'invalid port for EXPOSE: 80/http (expected PORT[-PORT][/tcp|udp|sctp], ports 1-65535)'],
  ];
  for (const [change, message] of cases) {
    assert.throws(
      () => applyChanges({}, [change]),
      (err: unknown) => err instanceof WhaleboxError && err.message === message,
      change,
    );
  }
});
