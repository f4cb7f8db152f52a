import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageRunConfig } from '../../image/oci-image.js';
import { applyConfigInstruction, isConfigInstruction, type ConfigInstruction, type Expand } from './config-steps.js';
import { parseDockerfile } from './dockerfile/parser.js';
import { expandWord, expandWords } from './dockerfile/words.js';

/** Applies each instruction of `body` (after a FROM) in turn, with `scope` as the ARGs in scope. */
function apply(body: string, start: ImageRunConfig = {}, scope: Record<string, string> = {}): ImageRunConfig {
  const stage = parseDockerfile(`FROM base\n${body}`).stages[0]!;
  let config = start;
  let cmdSet = false;
  for (const instruction of stage.instructions) {
    assert.ok(isConfigInstruction(instruction), instruction.kind);
    const variables = new Map(Object.entries(scope));
    for (const entry of config.Env ?? []) variables.set(entry.split('=', 1)[0]!, entry.slice(entry.indexOf('=') + 1));
    const expand: Expand = { word: (raw) => expandWord(raw, variables, '\\'), words: (raw) => expandWords(raw, variables, '\\') };
    config = applyConfigInstruction(config, instruction as ConfigInstruction, expand, cmdSet);
    if (instruction.kind === 'CMD') cmdSet = true;
  }
  return config;
}

test('ENV values see the variables as they were before the instruction', () => {
  const config = apply('ENV A=1\nENV A=2 B=$A\nENV C="${A}-${MISSING:-x}"', { Env: ['PATH=/bin'] });
  assert.deepEqual(config.Env, ['PATH=/bin', 'A=2', 'B=1', 'C=2-x']);
});

test('ARGs in scope expand, and ENV wins over an ARG of the same name', () => {
  const config = apply('LABEL version=$VERSION\nENV VERSION=env\nLABEL again=$VERSION', {}, { VERSION: 'arg' });
  assert.deepEqual(config.Labels, { version: 'arg', again: 'env' });
});

test('WORKDIR continues from the previous one; USER and STOPSIGNAL are taken as given', () => {
  const config = apply('WORKDIR /srv\nWORKDIR app/../data\nUSER nobody:nogroup\nSTOPSIGNAL SIGQUIT');
  assert.equal(config.WorkingDir, '/srv/data');
  assert.equal(config.User, 'nobody:nogroup');
  assert.equal(config.StopSignal, 'SIGQUIT');
  assert.throws(() => apply('STOPSIGNAL SIGNOPE'), /SIGNOPE/);
});

test('shell-form commands go through SHELL; ENTRYPOINT clears an inherited CMD but not its own stage\'s', () => {
  assert.deepEqual(apply('CMD echo hi').Cmd, ['/bin/sh', '-c', 'echo hi']);
  assert.deepEqual(apply('SHELL ["/bin/bash", "-ec"]\nCMD echo hi').Cmd, ['/bin/bash', '-ec', 'echo hi']);
  const inherited = apply('ENTRYPOINT ["/entry"]', { Cmd: ['from-base'] });
  assert.deepEqual(inherited, { Entrypoint: ['/entry'] });
  const own = apply('CMD ["arg"]\nENTRYPOINT ["/entry"]', { Cmd: ['from-base'] });
  assert.deepEqual(own, { Cmd: ['arg'], Entrypoint: ['/entry'] });
});

test('EXPOSE, VOLUME, HEALTHCHECK and ONBUILD land in the config', () => {
  const config = apply('EXPOSE 80 $PORTS\nVOLUME ["/data"]\nVOLUME /a /b\nHEALTHCHECK --interval=5s CMD ["true"]\nONBUILD RUN make', {}, { PORTS: '53/udp 8000-8001' });
  assert.deepEqual(config.ExposedPorts, { '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} });
  assert.deepEqual(config.Volumes, { '/data': {}, '/a': {}, '/b': {} });
  assert.deepEqual(config.Healthcheck, { Test: ['CMD', 'true'], Interval: 5_000_000_000 });
  assert.deepEqual(config.OnBuild, ['RUN make']);
  assert.deepEqual(apply('HEALTHCHECK NONE', config).Healthcheck, { Test: ['NONE'] });
});
