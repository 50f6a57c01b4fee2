/**
 * The one base class for every error Concord raises on purpose.
 *
 * `code` is stable (`CONCORD_ERR_...`) so that callers, logs and remote peers can
 * match on it without parsing messages. One subclass exists per failure mode a
 * caller can act on; programmer errors are assertions (see `assert`) instead.
 *
 * `code` is one of the table in error-codes.ts (a typo does not compile);
 * docs/errors.md lists them all. This module imports only that table, so every
 * layer (including the pure `raft` and `kv` layers) may use it.
 */
import { ConcordErrorCode } from './error-codes.js';

export { ConcordErrorCode, isConcordErrorCode } from './error-codes.js';

export class ConcordError extends Error {
  readonly code: ConcordErrorCode;

  constructor(code: ConcordErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * Thrown when an internal invariant does not hold: a bug, never bad input.
 * Programmer errors (calling an API in a state it forbids, breaking an
 * invariant) go through `assert`, never through a code of their own: nobody
 * can act on them but the programmer.
 */
export class AssertionFailedError extends ConcordError {
  constructor(message: string) {
    super(ConcordErrorCode.Assertion, `assertion failed: ${message}`);
  }
}

/** Crash loudly on a broken invariant. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailedError(message);
}
