// A progress bar for long bench work on stderr: redrawn in place on a terminal, a line every few seconds otherwise.

const WIDTH = 30;

function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '—';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** One line: `[#######.......]  45.2 %  4,520,000/10,000,200  18,230/s  ETA 5m01s` (rate over the whole run so far). */
export function progressLine(done: number, total: number, seconds: number, what = ''): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * WIDTH);
  const rate = seconds > 0 ? done / seconds : 0;
  const eta = rate > 0 ? (total - done) / rate : Number.NaN;
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  return `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${(frac * 100).toFixed(1).padStart(5)} %  ${n(done)}/${n(total)}${what ? ` ${what}` : ''}  ${n(rate)}/s  ${done >= total ? `took ${duration(seconds)}` : `ETA ${duration(eta)}`}`;
}

export class ProgressBar {
  private readonly t0 = Date.now();
  private last = 0;
  private readonly tty: boolean;

  constructor(
    private readonly total: number,
    private readonly what = '',
    private readonly out: NodeJS.WriteStream = process.stderr,
    /** ms between lines when the output is not a terminal */
    private readonly everyMs = 5000,
  ) {
    this.tty = out.isTTY === true;
  }

  update(done: number): void {
    const now = Date.now();
    const finished = done >= this.total;
    if (!finished && now - this.last < (this.tty ? 200 : this.everyMs)) return;
    this.last = now;
    const line = progressLine(done, this.total, (now - this.t0) / 1000, this.what);
    if (this.tty) this.out.write(`\r${line}${finished ? '\n' : ''}`);
    else this.out.write(`${line}\n`);
  }
}
