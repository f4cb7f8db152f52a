import { humanSize } from './format.js';

/**
 * Per-item progress lines as `docker pull` and `docker push` print them: on a terminal one line
 * per layer, rewritten in place (`a1b2c3d4e5f6: Downloading [=====>     ]  1.2MB/3.4MB`); to a
 * pipe or file only the changes of state, one line each, without bars.
 */
export class ProgressLines {
  private readonly ids: string[] = [];
  private readonly lastDraw = new Map<string, number>();

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  /** A new state of `id`: `Pulling fs layer`, `Pushed`, … */
  status(id: string, text: string): void {
    this.draw(id, text);
  }

  /** Bytes done of `total` while `action` (Downloading, Pushing) goes on; terminals only. */
  progress(id: string, action: string, current: number, total: number): void {
    if (!this.tty) return;
    const now = Date.now();
    // A redraw per chunk would cost more than the download; ten a second read as smooth.
    if (current < total && now - (this.lastDraw.get(id) ?? 0) < 100) return;
    this.lastDraw.set(id, now);
    this.draw(id, `${action} ${progressBar(current, total)}`);
  }

  /** A line of its own below the layers (Digest:, Status:, …). */
  line(text: string): void {
    this.out.write(`${text}\n`);
  }

  private draw(id: string, text: string): void {
    let index = this.ids.indexOf(id);
    if (index === -1 || !this.tty) {
      if (index === -1) this.ids.push(id);
      this.out.write(`${id}: ${text}\n`);
      return;
    }
    const up = this.ids.length - index;
    this.out.write(`\x1b[${up}A\r\x1b[2K${id}: ${text}\x1b[${up}B\r`);
  }
}

/** Docker's JSONProgress bar: 50 columns, then `current/total` in go-units sizes. */
export function progressBar(current: number, total: number): string {
  const width = 50;
  const filled = total > 0 ? Math.min(width, Math.floor((current / total) * width)) : 0;
  const bar = filled === width ? '='.repeat(width) : `${'='.repeat(filled)}>${' '.repeat(width - filled - 1)}`;
  return `[${bar}]  ${humanSize(current, 4)}/${humanSize(total, 4)}`;
}
