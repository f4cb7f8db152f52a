import { WhaleboxError } from '../util/errors.js';

/**
 * The subset of Go templates that `--format` strings use in practice: `{{.Field}}`,
 * `{{.Field.Sub}}`, `{{json .}}` / `{{json .Field}}`, and `\t`/`\n` escapes. A leading `table`
 * asks for a header row (the field names, as docker prints them).
 */
export interface CompiledFormat {
  readonly table: boolean;
  render(value: unknown): string;
  header(headers: Record<string, string>): string;
}

const ACTION = /\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}/g;

function lookup(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path ? path.split('.') : []) {
    if (current === null || typeof current !== 'object' || !(key in current)) {
      throw new WhaleboxError(`template: can't evaluate field ${key}`);
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '<no value>';
  if (typeof value === 'object') return Array.isArray(value) ? `[${value.map(show).join(' ')}]` : `map[${Object.entries(value).map(([k, v]) => `${k}:${show(v)}`).join(' ')}]`;
  return String(value);
}

export function compileFormat(format: string): CompiledFormat {
  const table = /^table(\s|$)/.test(format);
  const body = (table ? format.replace(/^table\s*/, '') : format).replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const stray = body.replace(ACTION, '');
  if (stray.includes('{{') || stray.includes('}}')) {
    throw new WhaleboxError(`template parsing error: unsupported action in "${format}" (supported: {{.Field}}, {{json .}})`);
  }
  return {
    table,
    render: (value) => body.replace(ACTION, (_, json: string | undefined, path: string) => (json ? JSON.stringify(lookup(value, path)) : show(lookup(value, path)))),
    header: (headers) => body.replace(ACTION, (_match, _json, path: string) => headers[path] ?? path.toUpperCase()),
  };
}
