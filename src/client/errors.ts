/**
 * The errors the client library throws: one class per failure mode a caller
 * can act on. Members report failures as remote errors with a stable code
 * (src/protocol/error-codes.ts); `errorFromRemote` turns those into these
 * classes. Every class keeps the server's code in `code`.
 */
import { ConcordError, ConcordErrorCode } from '../common/errors.js';
import { ErrorCode, ServerError } from '../protocol/index.js';
import { isKvErrorCode, kvErrorFromWire, type KvErrorDetails } from '../kv/errors.js';
import type { UnresolvedWrite } from './unresolved-write.js';

/**
 * Codes the client itself raises (the server's codes are in ErrorCode; all of
 * them are spelled in src/common/error-codes.ts). Timeout is the same code a
 * member answers when its own deadline passes: either way the deadline went
 * by and a write's outcome is unknown.
 */
export const ClientErrorCode = {
  Timeout: ConcordErrorCode.Timeout,
  Aborted: ConcordErrorCode.Aborted,
  Unavailable: ConcordErrorCode.Unavailable,
  ClientClosed: ConcordErrorCode.ClientClosed,
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/**
 * A write whose outcome the client could not learn (its deadline passed or the
 * session expired after the request may have reached the leader) carries an
 * `UnresolvedWrite`: pass it to `client.retryWrite()` to re-send the very same
 * request (same session and seq) and learn the original outcome, applied at
 * most once.
 */
export interface OutcomeUnknown {
  unresolvedWrite: UnresolvedWrite | undefined;
}

/**
 * The whole operation's `timeoutMs` passed before it could finish (over every
 * attempt it made). One RPC's own timeout is the net layer's NetTimeoutError,
 * which the client retries within the deadline.
 */
export class TimeoutError extends ConcordError implements OutcomeUnknown {
  unresolvedWrite: UnresolvedWrite | undefined;
  constructor(message: string, options?: { cause?: unknown; unresolvedWrite?: UnresolvedWrite }) {
    super(ClientErrorCode.Timeout, message, options);
    this.unresolvedWrite = options?.unresolvedWrite;
  }
}

/** The caller's AbortSignal fired (one net call cancelled by its own signal is the net layer's NetAbortedError). */
export class AbortedError extends ConcordError implements OutcomeUnknown {
  unresolvedWrite: UnresolvedWrite | undefined;
  constructor(message: string, options?: { cause?: unknown; unresolvedWrite?: UnresolvedWrite }) {
    super(ClientErrorCode.Aborted, message, options);
    this.unresolvedWrite = options?.unresolvedWrite;
  }
}

/**
 * No member could serve the call before its deadline: none was reachable, or
 * none knew a leader (an election in progress, a minority partition). `cause`
 * is the last failure seen.
 */
export class UnavailableError extends ConcordError implements OutcomeUnknown {
  unresolvedWrite: UnresolvedWrite | undefined;
  constructor(message: string, options?: { cause?: unknown; unresolvedWrite?: UnresolvedWrite }) {
    super(ClientErrorCode.Unavailable, message, options);
    this.unresolvedWrite = options?.unresolvedWrite;
  }
}

/** The client was closed; no more calls. */
export class ClientClosedError extends ConcordError {
  constructor() {
    super(ClientErrorCode.ClientClosed, 'the client is closed');
  }
}

/** The member rejected the request as malformed (wrong shape, bad limit, unknown method...). */
export class InvalidRequestError extends ConcordError {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(ErrorCode.InvalidRequest, message);
  }
}

/** Any other failure reported by a member (an internal error, a code this client does not know): the protocol's ServerError. */
export { ServerError };

function field(details: unknown, name: string): unknown {
  return typeof details === 'object' && details !== null ? (details as Record<string, unknown>)[name] : undefined;
}

/**
 * The typed error for a member's non-retryable error code. The key-value
 * layer's errors are rebuilt as the same classes (a caller matches
 * `instanceof KeyNotFoundError` whether the error came from a member or from
 * an in-process state machine); when a member sends details of another shape
 * than this version's, the class is still right and the fields it cannot
 * read are zero (the one decoder, `kvErrorFromWire`, in its lenient mode).
 */
export function errorFromRemote(code: string, message: string, details: unknown): Error {
  if (isKvErrorCode(code)) {
    const plain = typeof details === 'object' && details !== null ? (details as KvErrorDetails) : {};
    return kvErrorFromWire({ code, details: plain }, { lenient: true });
  }
  if (code === ErrorCode.InvalidRequest) {
    const reason = field(details, 'reason');
    return new InvalidRequestError(message, typeof reason === 'string' ? reason : message);
  }
  return new ServerError(code as ConcordErrorCode, message, details);
}
