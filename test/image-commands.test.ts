// Integration tests of the image-management commands (tag, rmi, image inspect/history/prune,
// images filters and formats, system df) through the built CLI bundle (`npm run build` first).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxTar, Store } from './helpers.js';

function ok(result: { status: number | null; stdout: string; stderr: string }): string {
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

function rows(output: string): string[][] {
  return output
    .trimEnd()
    .split('\n')
    .map((line) => line.split(/ {3,}/));
}

/** A fresh store with busybox:latest; every test cleans up after itself with `after`. */
function busyboxStore(): { store: Store; id: string; short: string } {
  const store = Store.withBusybox();
  after(() => store.remove());
  const id = ok(store.wb(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).trim();
  return { store, id, short: id.slice(7, 19) };
}

/** Everything an image left on disk and in the store, for before/after comparisons. */
function storeContents(store: Store) {
  const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);
  return {
    layers: list(join(store.root, 'layers')).filter((name) => name !== 'l'),
    blobs: list(join(store.root, 'blobs', 'sha256')),
    images: ok(store.wb(['images', '-aq', '--no-trunc'])).split('\n').filter(Boolean),
  };
}

describe('tag and rmi', () => {
  test('tag adds a name; rmi of one name untags, of the last deletes everything', () => {
    const { store, id, short } = busyboxStore();
    const before = storeContents(store);
    assert.equal(before.layers.length, 1);
    assert.equal(before.blobs.length, 3);
    ok(store.wb(['tag', 'busybox', 'me/app:v1']));
    ok(store.wb(['tag', short, '127.0.0.1:5000/app:v1']));
    assert.deepEqual(
      rows(ok(store.wb(['images']))).slice(1).map((row) => row.slice(0, 3)),
      [
        ['127.0.0.1:5000/app', 'v1', short],
        ['busybox', 'latest', short],
        ['me/app', 'v1', short],
      ],
    );

    assert.equal(ok(store.wb(['rmi', 'me/app:v1'])), 'Untagged: me/app:v1\n');
    const byId = store.wb(['rmi', short]);
    assert.equal(byId.status, 1);
    assert.equal(byId.stderr, `whalebox: conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories\n`);
    assert.equal(ok(store.wb(['image', 'rm', '127.0.0.1:5000/app:v1'])), 'Untagged: 127.0.0.1:5000/app:v1\n');
    assert.deepEqual(storeContents(store), before);

    const removed = ok(store.wb(['rmi', 'busybox']));
    assert.equal(removed, `Untagged: busybox:latest\nDeleted: ${id}\nDeleted: sha256:${before.layers[0]}\n`);
    assert.deepEqual(storeContents(store), { layers: [], blobs: [], images: [] });
    assert.deepEqual(rows(ok(store.wb(['system', 'df'])))[1], ['Images', '0', '0', '0B', '0B']);
  });

  test('tag and rmi report Docker errors with status 1 and go on with the other names', () => {
    const { store } = busyboxStore();
    const missing = store.wb(['tag', 'nope', 'x']);
    assert.deepEqual([missing.status, missing.stderr], [1, 'whalebox: No such image: nope:latest\n']);
    const bad = store.wb(['tag', 'busybox', 'Bad']);
    assert.deepEqual([bad.status, bad.stderr], [1, 'whalebox: Error parsing reference: "Bad" is not a valid repository/tag: invalid reference format: repository name (library/Bad) must be lowercase\n']);
    const digest = store.wb(['tag', 'busybox', `x@sha256:${'a'.repeat(64)}`]);
    assert.deepEqual([digest.status, digest.stderr], [1, 'whalebox: refusing to create a tag with a digest reference\n']);

    ok(store.wb(['tag', 'busybox', 'second']));
    const some = store.wb(['rmi', 'nope', 'second']);
    assert.equal(some.status, 1);
    assert.equal(some.stdout, 'Untagged: second:latest\n');
    assert.equal(some.stderr, 'whalebox: No such image: nope:latest\n');
    // With -f a missing image is reported but is no failure, as in Docker.
    const forced = store.wb(['rmi', '-f', 'nope']);
    assert.deepEqual([forced.status, forced.stderr], [0, 'whalebox: No such image: nope:latest\n']);
  });

  test('a container blocks rmi; -f untags and keeps the image for a stopped one; a running one blocks -f by ID', () => {
    const { store, id, short } = busyboxStore();
    const container = ok(store.wb(['create', 'busybox', 'true'])).trim();
    const refused = store.wb(['rmi', 'busybox']);
    assert.equal(refused.status, 1);
    assert.equal(
      refused.stderr,
      `whalebox: conflict: unable to remove repository reference "busybox" (must force) - container ${container.slice(0, 12)} is using its referenced image ${short}\n`,
    );
    const byId = store.wb(['rmi', short]);
    assert.equal(byId.stderr, `whalebox: conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${container.slice(0, 12)}\n`);

    const before = storeContents(store);
    assert.equal(ok(store.wb(['rmi', '-f', 'busybox'])), 'Untagged: busybox:latest\n');
    assert.deepEqual(storeContents(store), before, 'the image stays, dangling, for its container');
    assert.deepEqual(rows(ok(store.wb(['images']))).slice(1).map((row) => row.slice(0, 3)), [['<none>', '<none>', short]]);
    // The container still starts from it.
    assert.equal(ok(store.wb(['start', '-a', container])), '');

    ok(store.wb(['tag', short, 'busybox']));
    const running = ok(store.wb(['run', '-d', 'busybox', 'sleep', '60'])).trim();
    try {
      const forced = store.wb(['rmi', '-f', short]);
      assert.equal(forced.status, 1);
      assert.equal(forced.stderr, `whalebox: conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${running.slice(0, 12)}\n`);
      // By name, -f only takes the name away (Docker's behaviour): the image stays for the container.
      assert.equal(ok(store.wb(['rmi', '-f', 'busybox'])), 'Untagged: busybox:latest\n');
      assert.deepEqual(storeContents(store), before);
    } finally {
      store.wb(['rm', '-f', running, container]);
    }
    assert.equal(ok(store.wb(['rmi', short])), `Deleted: ${id}\nDeleted: sha256:${before.layers[0]}\n`);
  });

  test('a layer another image shares stays when the first image goes', () => {
    const { store, id } = busyboxStore();
    const shell = ok(store.wb(['import', '-c', 'CMD ["sh"]', busyboxTar(), 'shell:1'])).trim();
    assert.notEqual(shell, id);
    const both = storeContents(store);
    assert.equal(both.layers.length, 1);
    assert.equal(both.blobs.length, 5, 'one layer blob, two configs, two manifests');

    assert.equal(ok(store.wb(['rmi', 'busybox'])), `Untagged: busybox:latest\nDeleted: ${id}\n`);
    const after = storeContents(store);
    assert.deepEqual(after.layers, both.layers);
    assert.equal(after.blobs.length, 3);
    assert.ok(!after.blobs.includes(id.slice(7)));
    assert.deepEqual(after.images, [shell]);
    assert.equal(ok(store.wb(['run', '--rm', 'shell:1', 'echo', 'still here'])), 'still here\n');
  });
});

describe('image inspect, history, images', () => {
  test('image inspect has Docker fields; inspect falls back to images', () => {
    const { store, id } = busyboxStore();
    ok(store.wb(['tag', 'busybox', '127.0.0.1:5000/app:v1']));
    const [image] = JSON.parse(ok(store.wb(['image', 'inspect', 'busybox'])));
    assert.deepEqual(Object.keys(image), [
      'Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'DockerVersion', 'Author', 'Config',
      'Architecture', 'Os', 'Size', 'GraphDriver', 'RootFS', 'Metadata',
    ]);
    assert.equal(image.Id, id);
    assert.deepEqual(image.RepoTags, ['127.0.0.1:5000/app:v1', 'busybox:latest']);
    assert.deepEqual(image.RepoDigests, []);
    assert.equal(image.Config.Cmd, null);
    assert.equal(image.Os, 'linux');
    assert.equal(image.GraphDriver.Name, 'overlay2');
    const layer = storeContents(store).layers[0]!;
    assert.equal(image.GraphDriver.Data.UpperDir, join(store.root, 'layers', layer, 'diff'));
    assert.deepEqual(image.RootFS, { Type: 'layers', Layers: [`sha256:${layer}`] });
    assert.equal(image.Size, Number(ok(store.wb(['image', 'inspect', '-f', '{{.Size}}', 'busybox'])).trim()));
    assert.equal(image.Metadata.LastTagTime, '0001-01-01T00:00:00Z');

    assert.equal(ok(store.wb(['inspect', '-f', '{{.Id}}', 'busybox'])), `${id}\n`);
    const container = store.wb(['inspect', '--type', 'container', 'busybox']);
    assert.deepEqual([container.status, container.stdout, container.stderr], [1, '[]\n', 'whalebox: No such container: busybox\n']);
    const neither = store.wb(['inspect', 'nothing']);
    assert.deepEqual([neither.status, neither.stderr], [1, 'whalebox: No such object: nothing\n']);
    const missing = store.wb(['image', 'inspect', 'busybox', 'nothing']);
    assert.equal(missing.status, 1);
    assert.equal(JSON.parse(missing.stdout).length, 1);
    assert.equal(missing.stderr, 'whalebox: No such image: nothing:latest\n');
  });

  test('history lists the config history, the image ID on top', () => {
    const { store, id, short } = busyboxStore();
    const [header, ...lines] = rows(ok(store.wb(['history', 'busybox'])));
    assert.deepEqual(header, ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT']);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]![0], short);
    assert.match(lines[0]![1]!, / ago$/);
    assert.equal(lines[0]!.at(-1), 'Imported from -');
    const size = ok(store.wb(['image', 'inspect', '-f', '{{.Size}}', 'busybox'])).trim();
    const raw = ok(store.wb(['image', 'history', '--no-trunc', '-H=false', '--format', '{{.ID}}|{{.Size}}|{{.Comment}}', 'busybox']));
    assert.equal(raw, `${id}|${size}|Imported from -\n`);
    assert.equal(ok(store.wb(['history', '-q', 'busybox'])), `${short}\n`);
  });

  test('images: --digests, -q, --no-trunc, filters and --format', async () => {
    const { store, id, short } = busyboxStore();
    const shell = ok(store.wb(['import', '-c', 'CMD ["sh"]', '-c', 'LABEL role=shell', busyboxTar(), 'shell:1'])).trim();
    ok(store.wb(['tag', 'busybox', 'me/app:v1']));
    // A moved tag leaves its old image dangling.
    ok(store.wb(['import', busyboxTar(), 'old:1']));
    ok(store.wb(['tag', 'shell:1', 'old:1']));

    const digests = rows(ok(store.wb(['images', '--digests'])));
    assert.deepEqual(digests[0], ['REPOSITORY', 'TAG', 'DIGEST', 'IMAGE ID', 'CREATED', 'SIZE']);
    assert.ok(digests.slice(1).every((row) => row[2] === '<none>'));
    // One line a row, as Docker: an image with two names shows twice.
    const quiet = ok(store.wb(['images', '-q'])).split('\n').filter(Boolean);
    assert.equal(quiet.filter((line) => line === short).length, 2);
    assert.ok(ok(store.wb(['images', '-q', '--no-trunc'])).split('\n').includes(id));

    // Images created at the same time (same tar) list in ID order: compare sorted.
    const format = (args: string[]): string =>
      ok(store.wb(['images', ...args, '--format', '{{.Repository}}:{{.Tag}}'])).split('\n').filter(Boolean).sort().map((line) => `${line}\n`).join('');
    assert.equal(format(['-f', 'dangling=true']), '');
    assert.equal(format(['-f', 'reference=*:latest']), 'busybox:latest\n');
    assert.equal(format(['-f', 'reference=me/*', '-f', 'reference=shell']), 'me/app:v1\nshell:1\n');
    assert.equal(format(['-f', 'label=role=shell']), 'old:1\nshell:1\n');
    assert.equal(format(['-f', 'dangling=false', 'me/app']), 'me/app:v1\n');
    assert.equal(format(['-f', `since=${short}`]), '');
    assert.equal(format(['-f', `before=${shell}`]), '');
    const table = rows(ok(store.wb(['image', 'ls', '--format', 'table {{.ID}}\t{{.Repository}}', 'busybox'])));
    assert.deepEqual(table, [['IMAGE ID', 'REPOSITORY'], [short, 'busybox']]);

    const unknown = store.wb(['images', '-f', 'x=1']);
    assert.deepEqual([unknown.status, unknown.stderr], [1, "whalebox: invalid filter 'x'\n"]);
    const maybe = store.wb(['images', '-f', 'dangling=maybe']);
    assert.deepEqual([maybe.status, maybe.stderr], [1, "whalebox: invalid filter 'dangling=[maybe]'\n"]);
    const glob = store.wb(['images', '-f', 'reference=[']);
    assert.deepEqual([glob.status, glob.stderr], [1, 'whalebox: syntax error in pattern\n']);
  });
});

describe('image prune and system df', () => {
  test('prune removes dangling images, -a every unused one; df counts them', () => {
    const { store, id } = busyboxStore();
    // The same content with another config: a second image sharing busybox's layer.
    const shell = ok(store.wb(['import', '-c', 'CMD ["sh"]', busyboxTar(), 'shell:1'])).trim();
    ok(store.wb(['tag', 'busybox', 'shell:1'])); // shell's image is dangling now

    const declined = store.wb(['image', 'prune'], { input: 'n\n' });
    assert.equal(declined.status, 0);
    assert.match(declined.stderr, /^WARNING! This will remove all dangling images\.\nAre you sure you want to continue\? \[y\/N\] $/);
    assert.equal(declined.stdout, '');

    const dangling = ok(store.wb(['image', 'prune', '-f']));
    assert.equal(dangling, `Deleted Images:\ndeleted: ${shell}\n\nTotal reclaimed space: 0B\n`);

    const container = ok(store.wb(['create', 'busybox', 'true'])).trim();
    const df = rows(ok(store.wb(['system', 'df'])));
    const bytes = Number(ok(store.wb(['image', 'inspect', '-f', '{{.Size}}', 'busybox'])).trim());
    assert.deepEqual(df[0], ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE']);
    assert.deepEqual(df[1]!.slice(0, 3), ['Images', '1', '1']);
    assert.match(df[1]![3]!, /^\d\.\d{3}MB$/);
    assert.ok(Math.abs(Number.parseFloat(df[1]![3]!) * 1e6 - bytes) <= 500, 'the size of the one image');
    assert.equal(df[1]![4], '0B (0%)');
    assert.deepEqual(df[2], ['Containers', '1', '0', '0B', '0B']);
    assert.deepEqual(df.slice(3), [['Local Volumes', '0', '0', '0B', '0B'], ['Build Cache', '0', '0', '0B', '0B']]);
    const verbose = ok(store.wb(['system', 'df', '-v']));
    assert.match(verbose, /^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\nbusybox +latest /);
    assert.ok(verbose.includes(`\nContainers space usage:\n\nCONTAINER ID`));
    assert.ok(verbose.includes(container.slice(0, 12)));

    assert.equal(ok(store.wb(['image', 'prune', '-a', '-f'])), 'Total reclaimed space: 0B\n', 'the image in use stays');
    ok(store.wb(['rm', container]));
    const all = ok(store.wb(['image', 'prune', '--all', '--force']));
    assert.match(all, new RegExp(`^Deleted Images:\nuntagged: busybox:latest\nuntagged: shell:1\ndeleted: ${id}\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: \\d`));
    assert.deepEqual(storeContents(store), { layers: [], blobs: [], images: [] });
  });
});
