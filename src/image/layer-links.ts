import { mkdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errnoCode, WhaleboxError } from '../util/errors.js';

/**
 * Short names for layer directories, layers/l/<12 hex> -> ../<hex>/diff, as Docker's overlay2
 * keeps them: an overlay's lowerdir option lists every layer, and the mount options must fit in
 * one page, so 120 layers cannot be named by full paths. The root overlay is mounted from inside
 * the layers directory with these relative names (see buildSpec).
 */

/** Length of the short names under layers/l/ (hex digits of the chain ID). */
const LINK_LENGTH = 12;

/** `l/<12 hex>`: the short name of a layer's diff directory, relative to the layers directory. */
export function layerLink(chainId: string): string {
  return `l/${chainId.slice('sha256:'.length, 'sha256:'.length + LINK_LENGTH)}`;
}

/** The layers directory and the short name of an unpacked layer's diff directory (layers/<hex>/diff). */
export function layerLinkOf(layerDir: string): { layersDir: string; link: string } {
  const layer = dirname(layerDir);
  return { layersDir: dirname(layer), link: layerLink(`sha256:${basename(layer)}`) };
}

/**
 * Makes layers/l/<12 hex> point at each layer's diff directory; links already there are kept
 * (and checked). Run at unpack, and before each container is created: stores made before short
 * names existed get theirs then.
 */
export function ensureLayerLinks(layersDir: string, chainIds: readonly string[]): void {
  mkdirSync(join(layersDir, 'l'), { recursive: true });
  for (const chainId of chainIds) {
    const link = join(layersDir, layerLink(chainId));
    const target = `../${chainId.slice('sha256:'.length)}/diff`;
    try {
      symlinkSync(target, link);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      if (readlinkSync(link) !== target) throw new WhaleboxError(`layer short name ${link} already names another layer`);
    }
  }
}
