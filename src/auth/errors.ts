/**
 * Errors raised by src/auth itself (not by the state machine). They use the
 * protocol's codes so the wiring can send them as they are: an overloaded
 * hasher is the retryable CONCORD_ERR_OVERLOADED, a bad password a
 * CONCORD_ERR_INVALID_REQUEST. PermissionDeniedError and
 * AuthenticationFailedError live in src/kv/errors.ts so that clients rebuild
 * them typed through kvErrorFromWire.
 */
import { ConcordError } from '../common/errors.js';
import { ErrorCode } from '../protocol/index.js';

/** Too many password hashes are running and queued; retry after a backoff. */
export class AuthOverloadedError extends ConcordError {
  override readonly code = ErrorCode.Overloaded;
  constructor(readonly details: { readonly hashConcurrencyMax: number; readonly hashQueueMax: number }) {
    super(
      ErrorCode.Overloaded,
      `too many authentication attempts in progress (${details.hashConcurrencyMax} running, ${details.hashQueueMax} queued); retry later`,
    );
  }
}

/** A password that cannot be used (empty or over PASSWORD_BYTES_MAX). */
export class InvalidPasswordError extends ConcordError {
  override readonly code = ErrorCode.InvalidRequest;
  constructor(readonly details: { readonly reason: string }) {
    super(ErrorCode.InvalidRequest, `invalid password: ${details.reason}`);
  }
}
