import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveUser } from './image-user.js';

const base = mkdtempSync(join(tmpdir(), 'wb-user-'));
const top = mkdtempSync(join(tmpdir(), 'wb-user-'));
after(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(top, { recursive: true, force: true });
});
mkdirSync(join(base, 'etc'));
writeFileSync(join(base, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nold:x:5:5::/old:/bin/sh\n');
mkdirSync(join(top, 'etc'));
writeFileSync(join(top, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n');
writeFileSync(join(top, 'etc/group'), 'root:x:0:\nwww:x:33:\nstaff:x:50:www,other\n');
const layers = [base, top];

test('names resolve from the topmost layer, with supplementary groups', () => {
  assert.deepEqual(resolveUser(layers, 'www'), { uid: 33, gid: 33, additionalGids: [50], home: '/var/www' });
  assert.throws(() => resolveUser(layers, 'old'), /unable to find user old: no matching entries in passwd file/);
});

test('numeric ids need no entry; groups by name or number', () => {
  assert.deepEqual(resolveUser(layers, '1234'), { uid: 1234, gid: 0, additionalGids: [], home: '/' });
  assert.deepEqual(resolveUser(layers, '1234:staff'), { uid: 1234, gid: 50, additionalGids: [], home: '/' });
  assert.deepEqual(resolveUser(layers, 'www:7'), { uid: 33, gid: 7, additionalGids: [], home: '/var/www' });
  assert.throws(() => resolveUser(layers, '0:nogroup'), /unable to find group nogroup/);
});

test('image symlinks never lead to host files', () => {
  const evil = mkdtempSync(join(tmpdir(), 'wb-user-'));
  try {
    mkdirSync(join(evil, 'etc'));
    symlinkSync('/etc/shadow', join(evil, 'etc/passwd'));
    symlinkSync('/dev/zero', join(evil, 'etc/group'));
    assert.throws(() => resolveUser([evil], 'root'), /unable to find user root/);
    assert.deepEqual(resolveUser([evil], '0'), { uid: 0, gid: 0, additionalGids: [], home: '/' });
    // A link that stays inside the image is followed there.
    rmSync(join(evil, 'etc/passwd'));
    mkdirSync(join(evil, 'data'));
    writeFileSync(join(evil, 'data/passwd'), 'app:x:7:7::/app:/bin/sh\n');
    symlinkSync('../../../data/passwd', join(evil, 'etc/passwd'));
    assert.equal(resolveUser([evil], 'app').uid, 7);
  } finally {
    rmSync(evil, { recursive: true, force: true });
  }
});
