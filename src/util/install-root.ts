import { join } from 'node:path';

/**
 * The directory holding dist/, native/ and node_modules/. The CLI runs as a CommonJS bundle in
 * dist/ (where __dirname exists); tests run the sources as ES modules under tsx, from src/util/.
 */
export function installRoot(): string {
  return typeof __dirname === 'string' ? join(__dirname, '..') : join(import.meta.dirname, '..', '..');
}
