/**
 * Exponential backoff with "full jitter": the n-th wait is uniform in
 * [0, min(maxMs, initialMs * 2^n)]. Jitter spreads the retries of many
 * clients that lost the same leader at the same moment, so the new leader is
 * not hit by a synchronized wave (the AWS architecture blog's analysis of
 * backoff strategies shows full jitter finishing the work soonest).
 */
export interface BackoffOptions {
  /** Upper bound of the first wait. */
  readonly initialMs: number;
  /** Cap on the upper bound as it doubles. */
  readonly maxMs: number;
}

export const defaultBackoff: BackoffOptions = { initialMs: 5, maxMs: 500 };

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /** The next wait in milliseconds; every call doubles the ceiling up to `maxMs`. */
  nextDelayMs(): number {
    const ceilingMs = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return this.random() * ceilingMs;
  }

  /** Start again from the smallest wait (after an attempt made progress, e.g. found the leader). */
  reset(): void {
    this.attempt = 0;
  }
}
