import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WhaleboxError } from '../../../util/errors.js';
import { DockerfileError, parseDockerfile, parseTrigger } from './parser.js';
import type { Instruction } from './types.js';

/** The instructions of the only stage of `FROM base` followed by `body`. */
function instructions(body: string): readonly Instruction[] {
  const dockerfile = parseDockerfile(`FROM base\n${body}`);
  assert.equal(dockerfile.stages.length, 1);
  return dockerfile.stages[0]!.instructions;
}

function only(body: string): Instruction {
  const [instruction, ...rest] = instructions(body);
  assert.deepEqual(rest, []);
  return instruction!;
}

/** Asserts that parsing fails with `reason` on `line`. */
function fails(text: string, line: number, reason: string): void {
  assert.throws(
    () => parseDockerfile(text),
    (err: unknown) => {
      assert.ok(err instanceof DockerfileError, String(err));
      assert.deepEqual({ line: err.line, reason: err.reason }, { line, reason }, text);
      return true;
    },
  );
}

test('groups instructions into stages, ARGs before the first FROM being global', () => {
  const dockerfile = parseDockerfile(
    [
      'ARG VERSION=3.19',
      'ARG A B="two words"',
      'FROM --platform=$BUILDPLATFORM alpine:${VERSION} AS Builder',
      'RUN make',
      'from builder as second',
      'COPY --from=builder /out /out',
      'FROM scratch',
    ].join('\n'),
  );
  assert.equal(dockerfile.escape, '\\');
  assert.equal(dockerfile.syntax, undefined);
  assert.deepEqual(
    dockerfile.globalArgs.map((arg) => arg.args),
    [[{ name: 'VERSION', rawDefault: '3.19' }], [{ name: 'A' }, { name: 'B', rawDefault: '"two words"' }]],
  );
  assert.deepEqual(
    dockerfile.stages.map((stage) => ({ ...stage, instructions: stage.instructions.map((i) => i.text) })),
    [
      {
        index: 0,
        from: {
          kind: 'FROM',
          line: 3,
          endLine: 3,
          text: 'FROM --platform=$BUILDPLATFORM alpine:${VERSION} AS Builder',
          rawImage: 'alpine:${VERSION}',
          stageName: 'builder',
          rawPlatform: '$BUILDPLATFORM',
        },
        instructions: ['RUN make'],
      },
      {
        index: 1,
        from: { kind: 'FROM', line: 5, endLine: 5, text: 'from builder as second', rawImage: 'builder', stageName: 'second' },
        instructions: ['COPY --from=builder /out /out'],
      },
      { index: 2, from: { kind: 'FROM', line: 7, endLine: 7, text: 'FROM scratch', rawImage: 'scratch' }, instructions: [] },
    ],
  );
});

test('joins continuation lines, skipping comments and blank lines inside them', () => {
  const run = only(['RUN apt-get update && \\', '  # install things', '', '    apt-get install -y curl \\  ', '  && echo done'].join('\n'));
  assert.deepEqual(run, {
    kind: 'RUN',
    line: 2,
    endLine: 6,
    text: 'RUN apt-get update &&     apt-get install -y curl   && echo done',
    command: { shell: 'apt-get update &&     apt-get install -y curl   && echo done' },
    heredocs: [],
  });
});

test('a continuation at the end of the file ends the instruction there', () => {
  assert.deepEqual(
    instructions('RUN echo \\').map((i) => [i.text, i.line, i.endLine]),
    [['RUN echo', 2, 2]],
  );
});

test('an escaped escape at the end of a line does not continue it', () => {
  assert.deepEqual(
    instructions('RUN echo \\\\\nRUN next').map((i) => i.text),
    ['RUN echo \\\\', 'RUN next'],
  );
});

test('tolerates CRLF line endings, leading blanks, a BOM and any keyword case', () => {
  const dockerfile = parseDockerfile('\uFEFF  from base\r\n\trun echo \\\r\n  hi\r\n  Cmd ["sh"]\r\n');
  assert.deepEqual(
    dockerfile.stages[0]!.instructions.map((i) => [i.kind, i.text, i.line, i.endLine]),
    [
      ['RUN', 'run echo   hi', 2, 3],
      ['CMD', 'Cmd ["sh"]', 4, 4],
    ],
  );
});

test('reads parser directives at the very top only', () => {
  const backtick = parseDockerfile('# syntax=docker/dockerfile:1.7\n#  ESCAPE = ` \n# check=skip=all\nFROM base\nRUN echo a `\n  b\nCOPY C:\\src C:\\dst');
  assert.equal(backtick.escape, '`');
  assert.equal(backtick.syntax, 'docker/dockerfile:1.7');
  assert.deepEqual(
    backtick.stages[0]!.instructions.map((i) => i.text),
    ['RUN echo a   b', 'COPY C:\\src C:\\dst'],
  );
  for (const text of ['# a comment\n# escape=`\nFROM base\nRUN a `', '\n# escape=`\nFROM base\nRUN a `', 'FROM base\n# escape=`\nRUN a `']) {
    const dockerfile = parseDockerfile(text);
    assert.equal(dockerfile.escape, '\\', text);
    assert.deepEqual((dockerfile.stages[0]!.instructions[0] as { command: unknown }).command, { shell: 'a `' });
  }
});

test('exec form for a JSON array of strings, shell form for anything else', () => {
  assert.deepEqual(
    instructions(
      ['CMD ["echo", "a b"]', 'RUN [ "ls" , "-l" ]', 'ENTRYPOINT [not json', 'CMD ["a"] trailing', 'ENTRYPOINT []', 'CMD echo $HOME'].join('\n'),
    ).map((i) => (i as { command: unknown }).command),
    [
      { exec: ['echo', 'a b'] },
      { exec: ['ls', '-l'] },
      { shell: '[not json' },
      { shell: '["a"] trailing' },
      { exec: [] },
      { shell: 'echo $HOME' },
    ],
  );
  assert.deepEqual(only('SHELL ["/bin/bash", "-o", "pipefail", "-c"]'), {
    kind: 'SHELL',
    line: 2,
    endLine: 2,
    text: 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
    shell: ['/bin/bash', '-o', 'pipefail', '-c'],
  });
});

test('ENV and LABEL: name=value pairs with quotes kept, or the legacy one pair', () => {
  const pairs = (body: string) => (only(body) as { rawPairs: unknown }).rawPairs;
  assert.deepEqual(pairs('ENV A=1 B="two words" C=a\\ b D=\'$x\' E='), [
    ['A', '1'],
    ['B', '"two words"'],
    ['C', 'a\\ b'],
    ['D', "'$x'"],
    ['E', ''],
  ]);
  assert.deepEqual(pairs('ENV LEGACY value  with "spaces"'), [['LEGACY', 'value  with "spaces"']]);
  assert.deepEqual(pairs('LABEL org.example.title="My \\"image\\"" version=1'), [
    ['org.example.title', '"My \\"image\\""'],
    ['version', '1'],
  ]);
  assert.deepEqual(pairs('LABEL description A long one'), [['description', 'A long one']]);
  assert.deepEqual((parseDockerfile('# escape=`\nFROM base\nENV A=a` b B=c\\d').stages[0]!.instructions[0] as { rawPairs: unknown }).rawPairs, [
    ['A', 'a` b'],
    ['B', 'c\\d'],
  ]);
});

test('ARG, single-value and list instructions', () => {
  assert.deepEqual(
    instructions(
      [
        'ARG A B=2 C="x y"',
        'WORKDIR /srv/my app',
        'USER www-data:www-data',
        'STOPSIGNAL SIGQUIT',
        'MAINTAINER Someone <someone@example.com>',
        'EXPOSE 80/tcp  53/udp ${PORT}',
        'VOLUME ["/data", " /logs "]',
        'VOLUME /a /b',
      ].join('\n'),
    ).map(({ line, endLine, text, ...rest }) => rest),
    [
      { kind: 'ARG', args: [{ name: 'A' }, { name: 'B', rawDefault: '2' }, { name: 'C', rawDefault: '"x y"' }] },
      { kind: 'WORKDIR', rawValue: '/srv/my app' },
      { kind: 'USER', rawValue: 'www-data:www-data' },
      { kind: 'STOPSIGNAL', rawValue: 'SIGQUIT' },
      { kind: 'MAINTAINER', rawValue: 'Someone <someone@example.com>' },
      { kind: 'EXPOSE', rawValues: ['80/tcp', '53/udp', '${PORT}'] },
      { kind: 'VOLUME', rawValues: ['/data', '/logs'] },
      { kind: 'VOLUME', rawValues: ['/a', '/b'] },
    ],
  );
});

test('COPY and ADD: flags, sources and destination', () => {
  assert.deepEqual(only('COPY --from=build --chown=app:app --chmod=0755 --link a "b c" /dest/'), {
    kind: 'COPY',
    line: 2,
    endLine: 2,
    text: 'COPY --from=build --chown=app:app --chmod=0755 --link a "b c" /dest/',
    rawSources: ['a', '"b', 'c"'],
    rawDestination: '/dest/',
    rawFrom: 'build',
    rawChown: 'app:app',
    rawChmod: '0755',
    link: true,
    heredocs: [],
  });
  assert.deepEqual(only('ADD --link=false ["a b", "https://example.com/x.tgz", "/opt/"]'), {
    kind: 'ADD',
    line: 2,
    endLine: 2,
    text: 'ADD --link=false ["a b", "https://example.com/x.tgz", "/opt/"]',
    rawSources: ['a b', 'https://example.com/x.tgz'],
    rawDestination: '/opt/',
    link: false,
    heredocs: [],
  });
  assert.deepEqual((only('COPY --chown="a b" x y') as { rawChown: unknown }).rawChown, 'a b');
});

test('RUN flags', () => {
  assert.deepEqual(only('RUN --network=none --security=sandbox echo hi'), {
    kind: 'RUN',
    line: 2,
    endLine: 2,
    text: 'RUN --network=none --security=sandbox echo hi',
    command: { shell: 'echo hi' },
    rawNetwork: 'none',
    heredocs: [],
  });
  assert.deepEqual((only('RUN -- --version') as { command: unknown }).command, { shell: '--version' });
  assert.deepEqual((only('RUN -x') as { command: unknown }).command, { shell: '-x' });
});

test('RUN with only a heredoc runs its body', () => {
  assert.deepEqual(only('RUN <<EOF\napt-get update\napt-get install -y curl\nEOF'), {
    kind: 'RUN',
    line: 2,
    endLine: 5,
    text: 'RUN <<EOF',
    command: { shell: 'apt-get update\napt-get install -y curl\n' },
    heredocs: [{ name: 'EOF', content: 'apt-get update\napt-get install -y curl\n', expand: true }],
  });
  const stripped = only('RUN --network=host <<-END\n\tif true; then\n\t\techo $HOME\n\tfi\n\tEND');
  assert.deepEqual((stripped as { command: unknown }).command, { shell: 'if true; then\necho $HOME\nfi\n' });
  assert.equal(stripped.endLine, 6);
});

test('RUN passing heredocs to a command gives the shell the whole text', () => {
  const run = only(["RUN cat <<A > /a && python3 - <<'B'", 'one $X', 'A', 'print("two")', 'B'].join('\n'));
  assert.deepEqual(run, {
    kind: 'RUN',
    line: 2,
    endLine: 6,
    text: "RUN cat <<A > /a && python3 - <<'B'",
    command: { shell: "cat <<A > /a && python3 - <<'B'\none $X\nA\nprint(\"two\")\nB" },
    heredocs: [
      { name: 'A', content: 'one $X\n', expand: true },
      { name: 'B', content: 'print("two")\n', expand: false },
    ],
  });
});

test('heredoc delimiters: quoting turns expansion off; quoted << is not a heredoc; exec form has none', () => {
  const heredocs = (body: string) => (instructions(body)[0] as { heredocs: unknown }).heredocs;
  assert.deepEqual(heredocs('RUN <<"EOF"\n$X\nEOF'), [{ name: 'EOF', content: '$X\n', expand: false }]);
  assert.deepEqual(heredocs('RUN 3<<E"O"F cat\n$X\nEOF'), [{ name: 'EOF', content: '$X\n', expand: false }]);
  assert.deepEqual(heredocs('RUN echo "<<EOF" \'<<X\'\nCMD x'), []);
  assert.deepEqual(heredocs('RUN ["cat", "<<EOF"]\nCMD x'), []);
  assert.deepEqual(heredocs('RUN cat <<EOF\n  EOF\nEOF'), [{ name: 'EOF', content: '  EOF\n', expand: true }]);
});

test('COPY takes heredocs as sources', () => {
  assert.deepEqual(only('COPY --chmod=0644 <<conf.ini <<-script.sh extra /etc/app/\n[a]\nb=1\nconf.ini\n\t#!/bin/sh\n\techo hi\n\tscript.sh'), {
    kind: 'COPY',
    line: 2,
    endLine: 8,
    text: 'COPY --chmod=0644 <<conf.ini <<-script.sh extra /etc/app/',
    rawSources: ['extra'],
    rawDestination: '/etc/app/',
    rawChmod: '0644',
    link: false,
    heredocs: [
      { name: 'conf.ini', content: '[a]\nb=1\n', expand: true },
      { name: 'script.sh', content: '#!/bin/sh\necho hi\n', expand: true },
    ],
  });
});

test('HEALTHCHECK', () => {
  const health = (body: string) => {
    const { line, endLine, text, kind, ...rest } = only(body);
    assert.equal(kind, 'HEALTHCHECK');
    return rest;
  };
  assert.deepEqual(health('HEALTHCHECK NONE'), { test: ['NONE'] });
  assert.deepEqual(health('HEALTHCHECK none'), { test: ['NONE'] });
  assert.deepEqual(health('HEALTHCHECK CMD ["curl", "-f", "http://localhost/"]'), { test: ['CMD', 'curl', '-f', 'http://localhost/'] });
  assert.deepEqual(
    health('HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=1.5h --start-interval=0s --retries=3 cmd curl -f http://x || exit 1'),
    {
      test: ['CMD-SHELL', 'curl -f http://x || exit 1'],
      interval: 90e9,
      timeout: 500e6,
      startPeriod: 5400e9,
      startInterval: 0,
      retries: 3,
    },
  );
});

test('ONBUILD keeps its trigger as written, heredocs included', () => {
  assert.deepEqual(only('ONBUILD RUN echo \\\n  hello'), {
    kind: 'ONBUILD',
    line: 2,
    endLine: 3,
    text: 'ONBUILD RUN echo   hello',
    trigger: 'RUN echo   hello',
  });
  const withHeredoc = only('onbuild COPY <<-EOF /motd\n\twelcome\n\tEOF');
  assert.deepEqual(withHeredoc, {
    kind: 'ONBUILD',
    line: 2,
    endLine: 4,
    text: 'onbuild COPY <<-EOF /motd',
    trigger: 'COPY <<-EOF /motd\n\twelcome\nEOF',
  });
  assert.deepEqual(parseTrigger((withHeredoc as { trigger: string }).trigger, '\\', 9), {
    kind: 'COPY',
    line: 9,
    endLine: 9,
    text: 'COPY <<-EOF /motd',
    rawSources: [],
    rawDestination: '/motd',
    link: false,
    heredocs: [{ name: 'EOF', content: 'welcome\n', expand: true }],
  });
});

test('parseTrigger parses one instruction located at the given line', () => {
  assert.deepEqual(parseTrigger('RUN echo hi', '\\', 7), {
    kind: 'RUN',
    line: 7,
    endLine: 7,
    text: 'RUN echo hi',
    command: { shell: 'echo hi' },
    heredocs: [],
  });
  assert.deepEqual(parseTrigger('ENV A=a` b', '`', 1), { kind: 'ENV', line: 1, endLine: 1, text: 'ENV A=a` b', rawPairs: [['A', 'a` b']] });
  const refused: Array<[string, string]> = [
    ['ONBUILD RUN x', 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed'],
    ['from alpine', "FROM isn't allowed as an ONBUILD trigger"],
    ['MAINTAINER me', "MAINTAINER isn't allowed as an ONBUILD trigger"],
    ['RUN a\nRUN b', 'onbuild trigger should be a single expression'],
    ['', 'onbuild trigger should be a single expression'],
    ['COPY a', 'COPY requires at least two arguments, but only one was provided. Destination could not be determined.'],
  ];
  for (const [trigger, reason] of refused) {
    assert.throws(
      () => parseTrigger(trigger, '\\', 4),
      (err: unknown) => err instanceof DockerfileError && err.line === 4 && err.reason === reason,
      trigger,
    );
  }
});

test('errors are DockerfileErrors worded as BuildKit, with exit status 1', () => {
  assert.throws(
    () => parseDockerfile('FROM base\nRUN ok\nFOO bar'),
    (err: unknown) =>
      err instanceof DockerfileError &&
      err instanceof WhaleboxError &&
      err.exitCode === 1 &&
      err.line === 3 &&
      err.message === 'dockerfile parse error on line 3: unknown instruction: FOO (did you mean FROM?)',
  );
  assert.throws(() => parseDockerfile(''), { message: 'the Dockerfile cannot be empty' });
});

test('rejects what BuildKit rejects, at the line of the instruction', () => {
  const cases: Array<[string, number, string]> = [
    ['# only a comment\n\n', 2, 'file with no instructions'],
    ['ARG A\nARG B', 0, 'dockerfile contains no stages to build'],
    ['ARG A\nENV B=1\nFROM base', 2, 'no build stage in current context'],
    ['# escape=x\nFROM base', 1, "invalid escape token 'x' does not match ` or \\"],
    ['# escape=`\n# escape=\\\nFROM base', 2, 'only one escape parser directive can be used'],
    ['FROM base\nRUNN x', 2, 'unknown instruction: RUNN (did you mean RUN?)'],
    ['FROM base\ncpy a b', 2, 'unknown instruction: cpy (did you mean copy?)'],
    ['FROM', 1, 'FROM requires either one or three arguments'],
    ['FROM a b', 1, 'FROM requires either one or three arguments'],
    ['FROM a AS b c', 1, 'FROM requires either one or three arguments'],
    ['FROM a AS 1st', 1, 'invalid name for build stage: "1st", name can\'t start with a number or contain symbols'],
    ['FROM --platfrom=x a', 1, 'unknown flag: platfrom (did you mean platform?)'],
    ['FROM base\nRUN --mount=type=cache,target=/c make', 2, 'RUN --mount is not supported'],
    ['FROM base\nRUN --network=bridge make', 2, 'invalid network mode "bridge"'],
    ['FROM base\nRUN --security=insecure make', 2, 'RUN --security=insecure is not supported'],
    ['FROM base\nRUN --foo make', 2, 'unknown flag: foo'],
    ['FROM base\nRUN --network make', 2, 'missing a value on flag: network'],
    ['FROM base\nRUN ["a", 1]', 2, 'when using JSON array syntax, arrays must be comprised of strings only'],
    ['FROM base\nRUN cat <<EOF\nno end', 2, 'unterminated heredoc'],
    ['FROM base\nSHELL /bin/bash -c', 2, 'SHELL requires the arguments to be in JSON form'],
    ['FROM base\nSHELL []', 2, 'SHELL requires at least one argument'],
    ['FROM base\n\nCOPY \\\n  a', 3, 'COPY requires at least two arguments, but only one was provided. Destination could not be determined.'],
    ['FROM base\nADD --from=x a b', 2, 'unknown flag: from'],
    ['FROM base\nADD --checksum=sha256:00 a b', 2, 'ADD --checksum is not supported'],
    ['FROM base\nCOPY --link=maybe a b', 2, 'expecting boolean value for flag link, not: maybe'],
    ['FROM base\nCOPY --chown a b', 2, 'missing a value on flag: chown'],
    ['FROM base\nCOPY --chown=a --chown=b a b', 2, 'duplicate flag specified: chown'],
    ['FROM base\nCOPY a <<EOF\nx\nEOF', 2, 'COPY cannot accept a heredoc as a destination'],
    ['FROM base\nENV', 2, 'ENV requires at least one argument'],
    ['FROM base\nENV A', 2, 'ENV must have two arguments'],
    ['FROM base\nENV A=1 B', 2, 'Syntax error - can\'t find = in "B". Must be of the form: name=value'],
    ['FROM base\nLABEL =x', 2, 'LABEL names can not be blank'],
    ['FROM base\nARG', 2, 'ARG requires at least one argument'],
    ['FROM base\nARG =1', 2, 'ARG names can not be blank'],
    ['FROM base\nWORKDIR', 2, 'WORKDIR requires exactly one argument'],
    ['FROM base\nUSER --x=1 root', 2, 'unknown flag: x'],
    ['FROM base\nEXPOSE', 2, 'EXPOSE requires at least one argument'],
    ['FROM base\nVOLUME ["/a", " "]', 2, 'VOLUME specified can not be an empty string'],
    ['FROM base\nHEALTHCHECK', 2, 'HEALTHCHECK requires at least one argument'],
    ['FROM base\nHEALTHCHECK NONE x', 2, 'HEALTHCHECK NONE takes no arguments'],
    ['FROM base\nHEALTHCHECK curl x', 2, 'Unknown type "CURL" in HEALTHCHECK (try CMD)'],
    ['FROM base\nHEALTHCHECK CMD', 2, 'Missing command after HEALTHCHECK CMD'],
    ['FROM base\nHEALTHCHECK --intervall=1s CMD x', 2, 'unknown flag: intervall (did you mean interval?)'],
    ['FROM base\nHEALTHCHECK --interval=soon CMD x', 2, 'time: invalid duration "soon"'],
    ['FROM base\nHEALTHCHECK --timeout=30 CMD x', 2, 'time: missing unit in duration "30"'],
    ['FROM base\nHEALTHCHECK --timeout=3d CMD x', 2, 'time: unknown unit "d" in duration "3d"'],
    ['FROM base\nHEALTHCHECK --start-period=10us CMD x', 2, 'Interval "start-period" cannot be less than 1ms'],
    ['FROM base\nHEALTHCHECK --retries=-1 CMD x', 2, '--retries cannot be negative (-1)'],
    ['FROM base\nHEALTHCHECK --retries=many CMD x', 2, 'strconv.ParseInt: parsing "many": invalid syntax'],
    ['FROM base\nONBUILD', 2, 'ONBUILD requires at least one argument'],
    ['FROM base\nONBUILD ONBUILD RUN x', 2, 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed'],
    ['FROM base\nONBUILD FROM alpine', 2, "FROM isn't allowed as an ONBUILD trigger"],
    ['FROM base\n\nONBUILD maintainer me', 3, "MAINTAINER isn't allowed as an ONBUILD trigger"],
    ['FROM base\nONBUILD BOGUS x', 2, 'unknown instruction: BOGUS'],
  ];
  for (const [text, line, reason] of cases) fails(text, line, reason);
});
