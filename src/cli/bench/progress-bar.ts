/**
 * A one-line progress bar on stderr, redrawn in place; only when stderr is a
 * terminal (in a pipe or a log file it would be noise).
 */
import type { BenchProgress } from './run-bench.js';

const barWidth = 30;

export class ProgressBar {
  private lastOps = 0;
  private lastS = 0;
  readonly enabled: boolean;

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = stream.isTTY === true;
  }

  private phase: BenchProgress['phase'] | undefined;

  update(progress: BenchProgress): void {
    if (!this.enabled) return;
    if (progress.phase !== this.phase) {
      // A new phase restarts the rate computation.
      this.phase = progress.phase;
      this.lastOps = progress.ops;
      this.lastS = progress.elapsedS;
    }
    const intervalS = progress.elapsedS - this.lastS;
    const rate = intervalS > 0 ? (progress.ops - this.lastOps) / intervalS : 0;
    this.lastOps = progress.ops;
    this.lastS = progress.elapsedS;
    const label = progress.phase === 'warmup' ? `${this.label} (warm-up)` : this.label;
    this.draw(progress.elapsedS / progress.durationS, `${Math.round(rate).toLocaleString('en-US')} ops/s`, label, progress.phase === 'warmup' ? '~' : '#');
  }

  /** Draws the bar at `fraction` (0..1) with `detail` after the percentage (e.g. a rate). */
  draw(fraction: number, detail: string, label = this.label, fill = '#'): void {
    if (!this.enabled) return;
    const clamped = Math.min(1, Math.max(0, fraction));
    const filled = Math.round(clamped * barWidth);
    const bar = fill.repeat(filled) + '-'.repeat(barWidth - filled);
    this.stream.write(`\r${label} [${bar}] ${Math.round(clamped * 100).toString().padStart(3)}%  ${detail}  \x1b[K`);
  }

  done(): void {
    if (this.enabled) this.stream.write('\r\x1b[K');
  }
}
