import { posix } from 'node:path';
import { WhaleboxError } from '../util/errors.js';
import type { ImageRunConfig } from './oci-image.js';

/**
 * Dockerfile instructions given as `--change` to `import` (and later `commit`), applied to an
 * image's run config as Docker does: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER,
 * VOLUME, WORKDIR. Variables in values are not expanded (`ENV A=$B` stores `$B` literally).
 */
export function applyChanges(config: ImageRunConfig, changes: readonly string[]): ImageRunConfig {
  const result = structuredClone(config);
  for (const change of changes) applyChange(result, change);
  return result;
}

function applyChange(config: ImageRunConfig, change: string): void {
  const [, keyword = '', rest = ''] = /^\s*(\S*)\s*([\s\S]*?)\s*$/.exec(change)!;
  const instruction = keyword.toUpperCase();
  const known = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'];
  if (!known.includes(instruction)) {
    throw new WhaleboxError(`${keyword || JSON.stringify(change)} is not a valid change command`);
  }
  if (rest === '') throw new WhaleboxError(`${instruction} requires at least one argument`);
  switch (instruction) {
    case 'CMD':
      config.Cmd = commandForm(rest);
      break;
    case 'ENTRYPOINT':
      config.Entrypoint = commandForm(rest);
      break;
    case 'ENV':
      for (const [name, value] of nameValues(instruction, rest)) {
        const env = (config.Env ?? []).filter((entry) => entry.split('=', 1)[0] !== name);
        config.Env = [...env, `${name}=${value}`];
      }
      break;
    case 'LABEL':
      config.Labels = { ...config.Labels, ...Object.fromEntries(nameValues(instruction, rest)) };
      break;
    case 'EXPOSE':
      config.ExposedPorts = { ...config.ExposedPorts };
      for (const word of shellWords(rest)) for (const port of exposedPorts(word)) config.ExposedPorts[port] = {};
      break;
    case 'VOLUME':
      config.Volumes = { ...config.Volumes };
      for (const path of jsonArray(rest) ?? shellWords(rest)) config.Volumes[path] = {};
      break;
    case 'STOPSIGNAL':
      config.StopSignal = rest;
      break;
    case 'USER':
      config.User = rest;
      break;
    case 'WORKDIR':
      // A relative WORKDIR continues from the previous one.
      config.WorkingDir = posix.resolve(config.WorkingDir || '/', rest);
      break;
  }
}

/** Exec form (`["sh", "-c", "…"]`) as given; shell form run by /bin/sh -c. */
function commandForm(rest: string): string[] {
  return jsonArray(rest) ?? ['/bin/sh', '-c', rest];
}

function jsonArray(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value as string[];
  } catch {
    // Not JSON: Docker then takes the text as shell form.
  }
  return undefined;
}

/** `A=1 B="two words"`, or the legacy single `NAME value with spaces`. */
function nameValues(instruction: string, rest: string): Array<[string, string]> {
  const [first = ''] = rest.split(/\s+/, 1);
  if (!first.includes('=')) {
    const value = rest.slice(first.length).trim();
    if (value === '') throw new WhaleboxError(`${instruction} names a variable without a value: ${rest}`);
    return [[first, value]];
  }
  return shellWords(rest).map((word) => {
    const equals = word.indexOf('=');
    if (equals <= 0) throw new WhaleboxError(`${instruction} expects NAME=VALUE pairs, got "${word}"`);
    return [word.slice(0, equals), word.slice(equals + 1)];
  });
}

/** Splits on blanks, honouring quotes and backslashes as the Dockerfile parser does. */
function shellWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && '"\\$`'.includes(text[i + 1] ?? '')) word += text[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new WhaleboxError(`unterminated quote in change: ${text}`);
  if (inWord) words.push(word);
  return words;
}

/** `80`, `53/udp`, `8000-8002/tcp` → `80/tcp`, `53/udp`, `8000/tcp` … `8002/tcp`. */
export function exposedPorts(spec: string): string[] {
  const match = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  const first = Number(match?.[1]);
  const last = match?.[2] === undefined ? first : Number(match[2]);
  if (!match || first < 1 || last > 65535 || last < first) {
    throw new WhaleboxError(`invalid port for EXPOSE: ${spec} (expected PORT[-PORT][/tcp|udp|sctp], ports 1-65535)`);
  }
  const protocol = (match[3] ?? 'tcp').toLowerCase();
  return Array.from({ length: last - first + 1 }, (_, i) => `${first + i}/${protocol}`);
}
