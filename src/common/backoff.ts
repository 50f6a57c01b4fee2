/**
 * The one retry backoff of Concord (the client's retry loop, the peer links'
 * reconnects): exponential with "full jitter", the n-th wait (0-based) uniform
 * in [0, min(maxMs, initialMs * 2^n)). Jitter spreads the retries of many
 * parties that failed at the same moment (clients that lost the same leader,
 * members that lost the same peer), so the target is not hit by a
 * synchronized wave; the AWS architecture blog's comparison of backoff
 * strategies ("Exponential Backoff And Jitter") shows full jitter doing the
 * work soonest. Randomness is injected (a seeded `Prng` in the simulator).
 */
import type { RandomSource } from './rng.js';

export interface BackoffOptions {
  /** Upper bound of the first wait. */
  readonly initialMs: number;
  /** Cap on the upper bound as it doubles. */
  readonly maxMs: number;
}

/**
 * The wait before retry number `failures` (0-based): uniform in
 * [0, ceiling), the ceiling doubling per failure from `initialMs` up to `maxMs`.
 */
export function backoffDelayMs(failures: number, options: BackoffOptions, random: RandomSource): number {
  return random.nextFloat() * backoffCeilingMs(failures, options);
}

/** The upper bound of the wait before retry number `failures` (0-based). */
export function backoffCeilingMs(failures: number, options: BackoffOptions): number {
  // The exponent is capped so that a long run of failures cannot overflow to Infinity.
  return Math.min(options.maxMs, options.initialMs * 2 ** Math.min(Math.max(0, failures), 30));
}

/** A backoff with its failure count: `nextDelayMs()` per failed attempt, `reset()` after progress. */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly options: BackoffOptions,
    private readonly random: RandomSource,
  ) {}

  /** The next wait in milliseconds; every call doubles the ceiling up to `maxMs`. */
  nextDelayMs(): number {
    return backoffDelayMs(this.failures++, this.options, this.random);
  }

  /** Start again from the smallest wait (after an attempt made progress, e.g. reached the peer). */
  reset(): void {
    this.failures = 0;
  }
}
