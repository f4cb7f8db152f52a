import { once } from 'node:events';
import { constants } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract, pack as tarPack, type Header, type Pack } from 'tar-stream';
import { installPaxCodec, XATTR_PREFIX, xattrText } from '../../image/tar-pax.js';
import { WhaleboxError } from '../../util/errors.js';
import type { Entry, EntryType } from './entries.js';
import { failure } from './errors.js';

const TYPE_BITS: Record<EntryType, number> = {
  file: constants.S_IFREG,
  link: constants.S_IFREG,
  directory: constants.S_IFDIR,
  symlink: constants.S_IFLNK,
  'character-device': constants.S_IFCHR,
  'block-device': constants.S_IFBLK,
  fifo: constants.S_IFIFO,
};
/** The largest id an octal ustar field holds; larger ones go in pax records. */
const USTAR_MAX_ID = 0o7777777;

/** The entries as a stream of tar bytes; an error while reading them destroys the stream with it. */
export function tarReadable(entries: AsyncIterable<Entry>): Readable {
  const output = new PassThrough();
  writeTar(entries, output).then(
    () => output.end(),
    (err: Error) => output.destroy(err),
  );
  return output;
}

/** Writes the entries to `output` as a tar; returns its size. */
export async function writeTar(entries: AsyncIterable<Entry>, output: NodeJS.WritableStream): Promise<number> {
  const pack = tarPack();
  // A reader that went away (EPIPE) stops the copy: without a listener it would crash the
  // process, and the packing would wait forever for room. Once broken, the listener stays.
  const broken = new AbortController();
  const onError = (err: Error): void => broken.abort(err);
  output.on('error', onError);
  // A stream destroyed by its reader (a pipe consumer that stopped) ends without an error.
  const onClose = (): void => broken.abort(Object.assign(new Error('the reader closed the stream'), { code: 'EPIPE' }));
  output.on('close', onClose);
  broken.signal.addEventListener('abort', () => pack.destroy(broken.signal.reason as Error));
  let bytes = 0;
  const sending = (async () => {
    for await (const chunk of pack as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      if (!output.write(chunk)) await once(output, 'drain', { signal: broken.signal });
    }
    await new Promise((resolve) => setImmediate(resolve)); // the last writes' errors come a tick later
  })();
  try {
    for await (const entry of entries) await addToTar(pack, entry);
    pack.finalize();
    await sending;
    if (broken.signal.aborted) throw broken.signal.reason;
  } catch (err) {
    pack.destroy();
    await sending.catch(() => {});
    throw failure('cannot write the archive', broken.signal.aborted ? broken.signal.reason : err);
  }
  output.off('error', onError).off('close', onClose);
  return bytes;
}

/** What the ustar header cannot hold: large ids, and xattrs (names sorted, for a reproducible tar). */
function paxRecords(entry: Entry): Record<string, string> | undefined {
  const pax: Record<string, string> = {};
  if (entry.uid > USTAR_MAX_ID || entry.gid > USTAR_MAX_ID) Object.assign(pax, { uid: String(entry.uid), gid: String(entry.gid) });
  if (entry.xattrs?.size) {
    installPaxCodec();
    for (const name of [...entry.xattrs.keys()].sort()) pax[`${XATTR_PREFIX}${name}`] = xattrText(entry.xattrs.get(name)!);
  }
  return Object.keys(pax).length > 0 ? pax : undefined;
}

function addToTar(pack: Pack, entry: Entry): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = pack.entry(
      {
        name: entry.type === 'directory' ? `${entry.name}/` : entry.name,
        type: entry.type,
        // With the type bits: tar-stream takes a mode of 0 for "unset" and writes 0644.
        mode: entry.mode | TYPE_BITS[entry.type],
        uid: entry.uid,
        gid: entry.gid,
        mtime: new Date(Math.floor(entry.mtime) * 1000),
        size: entry.size,
        linkname: entry.linkname,
        devmajor: entry.devmajor,
        devminor: entry.devminor,
        pax: paxRecords(entry),
      },
      (err) => (err ? reject(err) : resolve()),
    );
    if (entry.type !== 'file') return; // entries without contents end by themselves
    (async () => {
      for await (const chunk of entry.body ?? []) if (!sink.write(chunk)) await once(sink, 'drain');
      sink.end(null); // streamx: null is "no last chunk"
    })().catch((err: Error) => {
      sink.destroy(err);
      reject(err);
    });
  });
}

/** The entries of a tar read from `input`. */
export async function* tarEntries(input: NodeJS.ReadableStream): AsyncGenerator<Entry> {
  const extract = tarExtract();
  const feeding = pipeline(input, extract as unknown as NodeJS.WritableStream);
  feeding.catch(() => {}); // awaited below; an early stop must not leave it unhandled
  try {
    for await (const source of extract) {
      const header = source.header;
      const entry = { name: header.name, ...tarMetadata(header) };
      switch (header.type) {
        case 'file':
        case 'contiguous-file':
          yield { ...entry, type: 'file', size: header.size, body: source as AsyncIterable<Uint8Array> };
          break;
        case 'directory':
        case 'symlink':
        case 'link':
        case 'character-device':
        case 'block-device':
        case 'fifo':
          for await (const _chunk of source as AsyncIterable<Uint8Array>); // nothing, normally
          yield { ...entry, type: header.type, size: 0, linkname: header.linkname, devmajor: header.devmajor, devminor: header.devminor };
          break;
        default:
          throw new WhaleboxError(`cannot copy "${header.name}": unsupported tar entry type ${header.type}`, 1);
      }
    }
    await feeding;
  } catch (err) {
    if (err instanceof WhaleboxError) throw err;
    throw new WhaleboxError(`cannot read the tar archive: ${(err as Error).message}`, 1);
  }
}

/** Owner, mode and time of a tar entry, pax records first (tar-stream leaves those to us). */
function tarMetadata(header: Header): Pick<Entry, 'mode' | 'uid' | 'gid' | 'mtime'> {
  const pax = (header.pax ?? {}) as Record<string, string | undefined>;
  const id = (record: string | undefined, value: number, what: string): number => {
    const result = record !== undefined ? Number(record) : value;
    if (!Number.isInteger(result) || result < 0 || result > 0xfffffffe) {
      throw new WhaleboxError(`cannot copy "${header.name}": invalid ${what} ${record ?? value}`, 1);
    }
    return result;
  };
  const mtime = pax.mtime !== undefined ? Number(pax.mtime) : header.mtime.getTime() / 1000;
  return {
    mode: header.mode & 0o7777,
    uid: id(pax.uid, header.uid, 'uid'),
    gid: id(pax.gid, header.gid, 'gid'),
    mtime: Number.isFinite(mtime) ? mtime : 0,
  };
}
