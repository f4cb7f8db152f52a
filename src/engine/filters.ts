import { WhaleboxError } from '../util/errors.js';

/**
 * Docker's `--filter name=value` arguments (api/types/filters), with its messages: values by
 * name, names checked against what the command accepts.
 */
export type Filters = ReadonlyMap<string, readonly string[]>;

export function parseFilters(args: readonly string[], accepted: readonly string[]): Filters {
  const filters = new Map<string, string[]>();
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq < 0) throw new WhaleboxError('bad format of filter (expected name=value)', 1);
    const name = arg.slice(0, eq).trim().toLowerCase();
    filters.set(name, [...(filters.get(name) ?? []), arg.slice(eq + 1).trim()]);
  }
  for (const name of filters.keys()) if (!accepted.includes(name)) throw new WhaleboxError(`invalid filter '${name}'`, 1);
  return filters;
}

/** Docker's GetBoolOrDefault: true/1 or false/0, and nothing contradictory. */
export function booleanFilter(filters: Filters, name: string, fallback: boolean): boolean {
  const values = filters.get(name);
  if (values === undefined) return fallback;
  const isTrue = values.some((v) => v === 'true' || v === '1');
  const isFalse = values.some((v) => v === 'false' || v === '0');
  if (isTrue === isFalse) throw new WhaleboxError(`invalid filter '${name}=[${values.join(' ')}]'`, 1);
  return isTrue;
}

/**
 * `label=k` / `label=k=v` (every one must match) and `label!=…` (the labels must not match
 * them all), as Docker's MatchKVList and prune's matchLabels.
 */
export function matchLabels(filters: Filters, labels: Readonly<Record<string, string>>): boolean {
  const all = (values: readonly string[]): boolean =>
    values.every((value) => {
      const [key, wanted] = value.split(/=(.*)/s) as [string, string | undefined];
      return Object.hasOwn(labels, key) && (wanted === undefined || labels[key] === wanted);
    });
  const negated = filters.get('label!');
  return all(filters.get('label') ?? []) && (negated === undefined || !all(negated));
}
