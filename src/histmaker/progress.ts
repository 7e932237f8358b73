/**
 * Progress of a run on stderr: files done / total, events, events/s and an ETA from the fraction of
 * files done (the current file counted by its read fraction). On a terminal one line is redrawn;
 * otherwise (batch jobs, logs) a plain line is printed at most every `logEverySeconds`.
 */

export interface ProgressOptions {
  totalFiles: number;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** false: print nothing */
  enabled?: boolean;
  logEverySeconds?: number;
  now?: () => number;
}

export class Progress {
  private readonly totalFiles: number;
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly enabled: boolean;
  private readonly logEveryMs: number;
  private readonly now: () => number;
  private readonly startedAt: number;
  private filesDone = 0;
  private filesFailed = 0;
  private events = 0;
  /** read fraction of the files in progress, by slot (one slot per --jobs worker; 0 without workers) */
  private readonly fractions = new Map<number, number>();
  private lastDrawAt = -Infinity;
  private lastLine = "";

  constructor(opts: ProgressOptions) {
    this.totalFiles = opts.totalFiles;
    this.stream = opts.stream ?? process.stderr;
    this.enabled = opts.enabled ?? true;
    this.logEveryMs = (opts.logEverySeconds ?? 10) * 1000;
    this.now = opts.now ?? (() => Date.now());
    this.startedAt = this.now();
  }

  /**
   * Events were processed; `fileFraction` is how far through the current file the reader is (0..1).
   * `slot` tells apart files processed at the same time (--jobs workers): their fractions add up.
   */
  addEvents(n: number, fileFraction: number, slot = 0): void {
    this.events += n;
    this.fractions.set(slot, Math.min(1, Math.max(0, fileFraction)));
    this.draw(false);
  }

  /** The current file's events are discarded (it will be retried or recorded as failed). */
  discardEvents(n: number, slot = 0): void {
    this.events -= n;
    this.fractions.delete(slot);
  }

  fileDone(ok: boolean, slot = 0): void {
    this.filesDone++;
    if (!ok) this.filesFailed++;
    this.fractions.delete(slot);
    this.draw(true);
  }

  /** Prints a message without garbling the progress line. */
  log(message: string): void {
    if (!this.enabled) return;
    if (this.stream.isTTY) this.stream.write("\r\x1b[K");
    this.stream.write(message + "\n");
    this.lastDrawAt = -Infinity;
    this.draw(true);
  }

  finish(): void {
    if (!this.enabled) return;
    this.draw(true);
    if (this.stream.isTTY) this.stream.write("\n");
  }

  /** The status line, e.g. `files 3/10 (1 failed)  events 1.2e+06  85.1k ev/s  ETA 0:42`. */
  line(): string {
    const elapsed = Math.max(1e-3, (this.now() - this.startedAt) / 1000);
    const rate = this.events / elapsed;
    let inFlight = 0;
    for (const f of this.fractions.values()) inFlight += f;
    const progress = this.totalFiles > 0 ? Math.min(1, (this.filesDone + inFlight) / this.totalFiles) : 1;
    const eta = progress > 0 ? (elapsed * (1 - progress)) / progress : Number.NaN;
    const width = 20;
    const filled = Math.round(progress * width);
    const bar = "#".repeat(filled) + ".".repeat(width - filled);
    const failed = this.filesFailed > 0 ? ` (${this.filesFailed} failed)` : "";
    return (
      `[${bar}] files ${this.filesDone}/${this.totalFiles}${failed}  events ${compact(this.events)}  ` +
      `${compact(rate)} ev/s  elapsed ${clock(elapsed)}  ETA ${Number.isFinite(eta) ? clock(eta) : "?"}`
    );
  }

  private draw(force: boolean): void {
    if (!this.enabled) return;
    const t = this.now();
    const tty = this.stream.isTTY === true;
    const every = tty ? 200 : this.logEveryMs;
    if (!force && t - this.lastDrawAt < every) return;
    if (!tty && force && t - this.lastDrawAt < 1000 && this.filesDone < this.totalFiles) return;
    const line = this.line();
    if (!tty && line === this.lastLine) return;
    this.lastDrawAt = t;
    this.lastLine = line;
    this.stream.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
  }
}

function compact(x: number): string {
  if (x < 1e3) return x.toFixed(0);
  if (x < 1e6) return `${(x / 1e3).toFixed(1)}k`;
  if (x < 1e9) return `${(x / 1e6).toFixed(2)}M`;
  return `${(x / 1e9).toFixed(2)}G`;
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}
