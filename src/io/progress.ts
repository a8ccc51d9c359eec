// Progress for long jobs: a redrawn one-line bar on a TTY, and a plain log line every few seconds when
// stderr is not a TTY (CI, `| tee`), so that a run always shows it is alive and how fast it goes.

export interface ProgressOptions {
  label: string;
  /** Total units (bytes, steps…) for the bar and ETA; undefined when unknown. */
  total?: number;
  /** Units already done when this process started (a resumed run): the ETA uses only this process's rate. */
  startAt?: number;
  /** Seconds between log lines when not a TTY. */
  logEverySeconds?: number;
  stream?: NodeJS.WriteStream;
}

export class Progress {
  private readonly start = performance.now();
  private lastDraw = -Infinity; // the first update draws at once
  private done = 0;
  private fields: Record<string, string> = {};
  private readonly tty: boolean;
  private readonly stream: NodeJS.WriteStream;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY) && !process.env.CI;
  }

  /** Seconds since the start. */
  elapsed(): number {
    return (performance.now() - this.start) / 1000;
  }

  /** Sets the units done so far and the fields shown after the bar (already formatted). */
  update(done: number, fields: Record<string, string> = {}): void {
    this.done = done;
    this.fields = fields;
    const now = performance.now();
    const every = this.tty ? 100 : (this.opts.logEverySeconds ?? 5) * 1000;
    if (now - this.lastDraw < every) return;
    this.lastDraw = now;
    this.draw(false);
  }

  finish(fields: Record<string, string> = this.fields): void {
    this.fields = fields;
    this.draw(true);
  }

  private draw(final: boolean): void {
    const { total, label } = this.opts;
    const frac = total ? Math.min(1, this.done / total) : undefined;
    const elapsed = this.elapsed();
    const doneHere = this.done - (this.opts.startAt ?? 0);
    const eta =
      total && doneHere > 0 && !final
        ? formatSeconds((elapsed * Math.max(0, total - this.done)) / doneHere)
        : undefined;
    const bar = frac !== undefined ? `${renderBar(frac, 24)} ${(frac * 100).toFixed(1).padStart(5)}%` : '';
    const parts = [
      label,
      bar,
      ...Object.entries(this.fields).map(([k, v]) => `${k} ${v}`),
      `elapsed ${formatSeconds(elapsed)}`,
    ];
    if (eta) parts.push(`eta ${eta}`);
    const line = parts.filter(Boolean).join(' | ');
    if (this.tty) this.stream.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    else this.stream.write(`${new Date().toISOString()} ${line}\n`);
  }
}

function renderBar(frac: number, width: number): string {
  const full = Math.round(frac * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** 12345678 → "12.3M" */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(n % 1 === 0 ? 0 : 1);
}
