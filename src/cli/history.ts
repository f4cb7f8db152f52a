import type { Command } from 'commander';
import type { Context } from '../engine/context.js';
import { imageHistory } from '../engine/image-history.js';
import { shortId } from '../engine/image-lookup.js';
import { WhaleboxError } from '../util/errors.js';
import { ellipsis, humanDuration, humanSize, printEntries } from './format.js';

interface HistoryFlags {
  human: boolean;
  quiet?: boolean;
  /** False with --no-trunc. */
  trunc: boolean;
  format?: string;
}

const HEADERS: Record<string, string> = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

/** A pflag boolean value (`-H=false`, `--human=0`); commander hands `-H=false` over as `=false`. */
function parseBool(value: string): boolean {
  const text = value.replace(/^=/, '');
  if (/^(1|t|T|TRUE|true|True)$/.test(text)) return true;
  if (/^(0|f|F|FALSE|false|False)$/.test(text)) return false;
  throw new WhaleboxError(`invalid argument "${text}" for "-H, --human" flag: strconv.ParseBool: parsing "${text}": invalid syntax`);
}

/** Go's RFC 3339 without fractions, as the docker CLI prints history times. */
function rfc3339(iso: string): string {
  return new Date(iso).toISOString().replace(/\.\d+Z$/, 'Z');
}

export function define(command: Command, context: () => Context): void {
  command
    .description('Show the history of an image')
    .usage('[OPTIONS] IMAGE')
    .argument('<image>')
    .option('--format <format>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
    .option('-H, --human [bool]', 'Print sizes and dates in human readable format', parseBool, true)
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only show image IDs')
    .action((image: string, flags: HistoryFlags) => {
      const now = Date.now();
      const entries = imageHistory(context(), image).map((row) => {
        const createdBy = row.createdBy.replaceAll('\t', ' ');
        return {
          Comment: row.comment,
          CreatedAt: rfc3339(row.created),
          CreatedBy: flags.trunc ? ellipsis(createdBy, 45) : createdBy,
          CreatedSince: flags.human ? `${humanDuration(now - Date.parse(row.created))} ago` : rfc3339(row.created),
          ID: flags.trunc && row.id !== '<missing>' ? shortId(row.id) : row.id,
          Size: flags.human ? humanSize(row.size) : String(row.size),
        };
      });
      const defaultTable = flags.quiet ? '{{.ID}}' : 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
      printEntries(entries, flags.format, defaultTable, HEADERS);
    });
}
