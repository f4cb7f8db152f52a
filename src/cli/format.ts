import { compileFormat } from './go-template.js';

/**
 * Output helpers that reproduce what the docker CLI prints, so that scripts parsing `docker`
 * output work unchanged: go-units' HumanSize and HumanDuration, and text/tabwriter tables.
 */

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/**
 * go-units `HumanSizeWithPrecision`: decimal units, `precision` significant digits, printed
 * with Go's `%g` (`4.26MB`, `1.2kB`, `816B`, even `1e+03kB` for 999 999 bytes, as Docker does).
 * Docker's `images` and `ps --size` use precision 3.
 */
export function humanSize(bytes: number, precision = 3): string {
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < DECIMAL_UNITS.length - 1) {
    size /= 1000;
    unit++;
  }
  return formatG(size, precision) + DECIMAL_UNITS[unit];
}

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/**
 * go-units `BytesSize`: binary units and Go's `%.4g` (`20MiB`, `1.535MiB`, `512B`), as
 * `docker stats` prints memory.
 */
export function bytesSize(bytes: number): string {
  let size = bytes;
  let unit = 0;
  while (size >= 1024 && unit < BINARY_UNITS.length - 1) {
    size /= 1024;
    unit++;
  }
  return formatG(size, 4) + BINARY_UNITS[unit];
}

/**
 * Go's `fmt.Sprintf("%.*g", precision, value)` for finite non-negative values: rounds half to
 * even on the exact binary value (as strconv does), drops trailing zeros, and switches to
 * `d.dde+XX` when the exponent is below -4 or at least the precision.
 */
export function formatG(value: number, precision: number): string {
  if (value === 0) return '0';
  // 100 digits hold the whole exact expansion of any double in the range sizes live in.
  const [mantissa, exponentText] = value.toExponential(100).split('e') as [string, string];
  const exact = mantissa.replace('.', '');
  let exponent = Number(exponentText);
  let digits = exact.slice(0, precision);
  const next = exact[precision]!;
  const beyond = exact.slice(precision + 1);
  const odd = Number(digits[digits.length - 1]) % 2 === 1;
  if (next > '5' || (next === '5' && (/[1-9]/.test(beyond) || odd))) {
    const rounded = (BigInt(digits) + 1n).toString();
    if (rounded.length > digits.length) exponent++;
    digits = rounded.slice(0, precision);
  }
  digits = digits.replace(/0+$/, '');
  if (exponent < -4 || exponent >= precision) {
    const fraction = digits.slice(1);
    const sign = exponent < 0 ? '-' : '+';
    return `${digits[0]}${fraction ? `.${fraction}` : ''}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `0.${'0'.repeat(-exponent - 1)}${digits}`;
  const integer = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return fraction ? `${integer}.${fraction}` : integer;
}

/**
 * go-units `HumanDuration`: "Less than a second", "About a minute", "3 days", "2 years", …
 * Docker appends " ago" for CREATED columns. Negative durations (clock skew) read as the shortest.
 */
export function humanDuration(milliseconds: number): string {
  const seconds = Math.trunc(milliseconds / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(milliseconds / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(milliseconds / 3_600_000) / 24 / 365)} years`;
}

/**
 * Lays out rows (the first is the header) as the docker CLI's
 * `tabwriter.NewWriter(out, minWidth, 1, 3, ' ', 0)` does: every column but the last is padded
 * to its widest cell plus 3 spaces, and at least `minWidth` characters (10 in most commands,
 * 20 in `top`). Returns the lines, each ending in "\n".
 */
export function formatTable(rows: readonly (readonly string[])[], minWidth = 10): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => {
      if (column < row.length - 1) widths[column] = Math.max(widths[column] ?? 0, displayWidth(cell));
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, column) => {
          if (column === row.length - 1) return cell;
          const width = Math.max(minWidth, widths[column]! + 3);
          return cell + ' '.repeat(width - displayWidth(cell));
        })
        .join(''),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/** tabwriter counts UTF-8 code points, not UTF-16 units. */
function displayWidth(text: string): number {
  return [...text].length;
}

/** Docker's ellipsis: cut to `max` characters with "…" as the last one. */
export function ellipsis(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** Go's `time.Time.String()` of a UTC time, as `--format '{{.CreatedAt}}'` prints it. */
export function goTime(iso: string): string {
  return new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC');
}

/**
 * Prints list entries (objects with Docker's `--format` field names) as the docker CLI does:
 * `json` prints one object a line; a Go template one line an entry, and a `table` template
 * (`defaultTable` when no format or just `table` is given) a header row from `headers` and
 * tabwriter columns.
 */
export function printEntries(entries: readonly object[], format: string | undefined, defaultTable: string, headers: Record<string, string>): void {
  if (format === 'json') {
    process.stdout.write(entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
    return;
  }
  const compiled = compileFormat(format && format !== 'table' ? format : defaultTable);
  const lines = entries.map((entry) => compiled.render(entry));
  if (!compiled.table) {
    process.stdout.write(lines.map((line) => `${line}\n`).join(''));
    return;
  }
  process.stdout.write(formatTable([compiled.header(headers), ...lines].map((line) => line.split('\t'))));
}
