/**
 * The TypeScript side of docs/shim-protocol.md: plans are encoded here and written to the
 * shim's fd 3; reports come back on fd 4 and are decoded here.
 */

export const PLAN_MAGIC = 0x31504257; // "WBP1" read as a little-endian u32

export type Field = string | number | bigint;

/** One plan record: its name and fields, and how the runtime describes it to a user. */
export interface PlanRecord {
  readonly op: string;
  readonly args: readonly Field[];
  readonly describe: string;
}

function encodeRecord(fields: readonly Field[]): Buffer {
  const parts: Buffer[] = [u32(fields.length)];
  for (const field of fields) {
    const bytes = Buffer.from(String(field), 'utf8');
    parts.push(u32(bytes.length), bytes);
  }
  return Buffer.concat(parts);
}

function u32(value: number): Buffer {
  const buffer = Buffer.allocUnsafe(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

export function encodePlan(records: readonly PlanRecord[]): Buffer {
  const body = Buffer.concat(records.map((r) => encodeRecord([r.op, ...r.args])));
  return Buffer.concat([u32(PLAN_MAGIC), u32(body.length), body]);
}

/**
 * Splits a byte stream into records as they complete; keeps the incomplete tail for the next
 * chunk. Fields are returned as strings.
 */
export class ReportDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): string[][] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const records: string[][] = [];
    for (;;) {
      const record = this.take();
      if (!record) return records;
      records.push(record);
    }
  }

  private take(): string[] | undefined {
    const data = this.pending;
    if (data.length < 4) return undefined;
    const count = data.readUInt32LE(0);
    let offset = 4;
    const fields: string[] = [];
    for (let i = 0; i < count; i++) {
      if (data.length < offset + 4) return undefined;
      const length = data.readUInt32LE(offset);
      if (data.length < offset + 4 + length) return undefined;
      fields.push(data.toString('utf8', offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    this.pending = data.subarray(offset);
    return fields;
  }
}
