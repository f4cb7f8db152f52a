import { readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerConfig } from './container-config.js';

/** The command as Docker lists it: arguments that hold a space in single quotes. */
export function commandLine(config: ContainerConfig): string {
  const [path = '', ...args] = config.process ?? [];
  return [path, ...args.map((arg) => (arg.includes(' ') ? `'${arg}'` : arg))].join(' ');
}

/** Bytes in a directory tree (the container's writable layer), hard links counted once. */
export function treeSize(dir: string): number {
  let total = 0;
  const seen = new Set<number>();
  const walk = (path: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(path);
    } catch {
      return;
    }
    for (const name of entries) {
      const child = join(path, name);
      const st = lstatSync(child, { bigint: false, throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(child);
      else if (!seen.has(st.ino)) {
        seen.add(st.ino);
        total += st.size;
      }
    }
  };
  walk(dir);
  return total;
}
