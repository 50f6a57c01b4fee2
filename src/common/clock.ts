/**
 * Time, injected. The host, the peer links and the client read the time and
 * set timers only through a `Clock`, so one code path runs in production (the
 * system clock: Date.now, performance.now, Node's timers) and in the
 * deterministic simulator (a simulated clock driven by its event queue).
 */

/** A timer set through a Clock. `cancel` is idempotent. */
export interface Timer {
  cancel(): void;
}

/** How a timer relates to the process it runs in. */
export interface TimerOptions {
  /**
   * False: the timer alone does not keep the process alive (Node's `unref`),
   * e.g. a client's background keep-alive. Default true. A simulated clock may ignore it.
   */
  readonly keepsProcessAlive?: boolean;
}

export interface Clock {
  /**
   * Wall-clock time in milliseconds since the epoch. May jump (NTP steps, an
   * operator): use it only to stamp things humans or other members read.
   */
  nowMs(): number;
  /** Monotonic milliseconds from an arbitrary origin: for deadlines and elapsed time. */
  monotonicMs(): number;
  /** Runs `fn` once after `delayMs` (at least 0). */
  setTimer(delayMs: number, fn: () => void, options?: TimerOptions): Timer;
  /** Runs `fn` every `intervalMs` until cancelled. */
  setRepeating(intervalMs: number, fn: () => void, options?: TimerOptions): Timer;
  /** Runs `fn` once, after the current event-loop turn's I/O callbacks (setImmediate). */
  schedule(fn: () => void): void;
}
