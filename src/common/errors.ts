/**
 * The one base class for every error Concord raises on purpose.
 *
 * `code` is stable (`CONCORD_ERR_...`) so that callers, logs and remote peers can
 * match on it without parsing messages. One subclass exists per failure mode a
 * caller can act on; programmer errors are assertions (see `assert`) instead.
 *
 * This module imports nothing, so every layer (including the pure `raft` and
 * `kv` layers) may use it.
 */
export class ConcordError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Thrown when an internal invariant does not hold: a bug, never bad input. */
export class AssertionFailedError extends ConcordError {
  constructor(message: string) {
    super('CONCORD_ERR_ASSERTION', `assertion failed: ${message}`);
  }
}

/** Crash loudly on a broken invariant. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailedError(message);
}
