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

/** `header` words, then per record `u32 count` and per field `u32 length` + bytes. */
function encodeRecords(records: readonly (readonly Field[])[], header: readonly number[]): Buffer {
  const encoded = records.map((fields) => fields.map((field) => Buffer.from(String(field), 'utf8')));
  let size = header.length * 4;
  for (const fields of encoded) size += 4 + fields.reduce((sum, bytes) => sum + 4 + bytes.length, 0);
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const value of header) offset = out.writeUInt32LE(value, offset);
  for (const fields of encoded) {
    offset = out.writeUInt32LE(fields.length, offset);
    for (const bytes of fields) {
      offset = out.writeUInt32LE(bytes.length, offset);
      offset += bytes.copy(out, offset);
    }
  }
  return out;
}

/** A plan: magic, body length, then the records (docs/shim-protocol.md). */
export function encodePlan(records: readonly PlanRecord[]): Buffer {
  const plan = encodeRecords(records.map((r) => [r.op, ...r.args]), [PLAN_MAGIC, 0]);
  plan.writeUInt32LE(plan.length - 8, 4);
  return plan;
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
