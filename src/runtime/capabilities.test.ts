import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capabilityMask, DOCKER_DEFAULT_CAPABILITIES, normalizeCapability } from './capabilities.js';

test("Docker's default set is the mask Docker containers show as CapEff", () => {
  assert.equal(DOCKER_DEFAULT_CAPABILITIES.length, 14);
  assert.equal(capabilityMask(DOCKER_DEFAULT_CAPABILITIES).padStart(16, '0'), '00000000a80425fb');
});

test('names are accepted with or without CAP_ and in any case', () => {
  assert.equal(normalizeCapability('net_admin'), 'CAP_NET_ADMIN');
  assert.equal(normalizeCapability('CAP_SYS_ADMIN'), 'CAP_SYS_ADMIN');
  assert.equal(capabilityMask(['CAP_CHECKPOINT_RESTORE']), (1n << 40n).toString(16));
  assert.throws(() => normalizeCapability('FLY'), /unknown capability: "FLY"/);
});
