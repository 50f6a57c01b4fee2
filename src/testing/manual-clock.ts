/**
 * A Clock for tests (client, net) that moves only when the test says so: timers fire
 * in time order inside `advance()`, which lets the promises they settle run
 * between them, so a test drives deadlines, backoff and keep-alives without
 * waiting for real time.
 */
import type { Clock, Timer } from '../common/clock.js';

/** A clock that moves only when the test says so. */
export class ManualClock implements Clock {
  private nowValue = 1_000;
  private timers: { atMs: number; everyMs: number; delayMs: number; fn: () => void; cancelled: boolean }[] = [];

  nowMs(): number {
    return 1_700_000_000_000 + this.nowValue;
  }
  monotonicMs(): number {
    return this.nowValue;
  }
  setTimer(delayMs: number, fn: () => void): Timer {
    return this.add(Math.max(0, delayMs), 0, fn);
  }
  setRepeating(intervalMs: number, fn: () => void): Timer {
    return this.add(intervalMs, intervalMs, fn);
  }
  schedule(fn: () => void): void {
    this.add(0, 0, fn);
  }
  get pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
  /** The delays of the timers not yet fired or cancelled, in the order they were set. */
  get pendingDelaysMs(): number[] {
    return this.timers.filter((t) => !t.cancelled).map((t) => t.delayMs);
  }

  /** Moves time forward by `ms`, firing due timers in order and letting the promises they settle run. */
  async advance(ms: number): Promise<void> {
    const endMs = this.nowValue + ms;
    for (;;) {
      await flush();
      const due = this.timers.filter((t) => !t.cancelled && t.atMs <= endMs).sort((a, b) => a.atMs - b.atMs)[0];
      if (due === undefined) break;
      this.nowValue = Math.max(this.nowValue, due.atMs);
      if (due.everyMs > 0) due.atMs += due.everyMs;
      else due.cancelled = true;
      due.fn();
    }
    this.nowValue = endMs;
    this.timers = this.timers.filter((t) => !t.cancelled);
    await flush();
  }

  private add(delayMs: number, everyMs: number, fn: () => void): Timer {
    const timer = { atMs: this.nowValue + delayMs, everyMs, delayMs, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }
}

/** One turn of the real event loop (I/O callbacks included). */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

