/**
 * The errors the client library throws: one class per failure mode a caller
 * can act on. Members report failures as remote errors with a stable code
 * (src/protocol/error-codes.ts); `errorFromRemote` turns those into these
 * classes. Every class keeps the server's code in `code`.
 */
import { ConcordError } from '../common/errors.js';
import { ErrorCode } from '../protocol/index.js';
import {
  KeyNotFoundError,
  KeyTooLargeError,
  KvErrorCode,
  SessionExpiredError,
  StaleSequenceError,
  ValueTooLargeError,
  VersionMismatchError,
  isKvErrorCode,
  kvErrorFromWire,
  type KvErrorDetails,
} from '../kv/errors.js';
import type { UnresolvedWrite } from './unresolved-write.js';

/** Codes the client itself raises (the server's codes are in ErrorCode). */
export const ClientErrorCode = {
  Timeout: ErrorCode.Timeout,
  Aborted: 'CONCORD_ERR_ABORTED',
  Unavailable: 'CONCORD_ERR_UNAVAILABLE',
  ClientClosed: 'CONCORD_ERR_CLIENT_CLOSED',
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

/** The call's `timeoutMs` passed before it could finish. */
export class TimeoutError extends ConcordError implements OutcomeUnknown {
  unresolvedWrite: UnresolvedWrite | undefined;
  constructor(message: string, options?: { cause?: unknown; unresolvedWrite?: UnresolvedWrite }) {
    super(ClientErrorCode.Timeout, message, options);
    this.unresolvedWrite = options?.unresolvedWrite;
  }
}

/** The caller's AbortSignal fired. */
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

/** Any other failure reported by a member (an internal error, a code this client does not know). */
export class ServerError extends ConcordError {
  constructor(
    code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(code, message);
  }
}

function field(details: unknown, name: string): unknown {
  return typeof details === 'object' && details !== null ? (details as Record<string, unknown>)[name] : undefined;
}
const numberOr = (details: unknown, name: string, fallback: number): number => {
  const v = field(details, name);
  return typeof v === 'number' ? v : fallback;
};
const bytesOr = (details: unknown, name: string): Uint8Array => {
  const v = field(details, name);
  return v instanceof Uint8Array ? v : new Uint8Array(0);
};

/**
 * The typed error for a member's non-retryable error code. The key-value
 * layer's errors are rebuilt as the same classes (a caller matches
 * `instanceof KeyNotFoundError` whether the error came from a member or from
 * an in-process state machine); when a member sends details of another shape
 * than this client expects, the class is still right and the details are best effort.
 */
export function errorFromRemote(code: string, message: string, details: unknown): Error {
  if (isKvErrorCode(code)) {
    try {
      return kvErrorFromWire({ code, details: (details ?? {}) as KvErrorDetails });
    } catch {
      return kvErrorFromLooseDetails(code, message, details);
    }
  }
  if (code === ErrorCode.InvalidRequest) {
    const reason = field(details, 'reason');
    return new InvalidRequestError(message, typeof reason === 'string' ? reason : message);
  }
  return new ServerError(code, message, details);
}

function kvErrorFromLooseDetails(code: KvErrorCode, message: string, details: unknown): Error {
  switch (code) {
    case KvErrorCode.KeyNotFound:
      return new KeyNotFoundError({ key: bytesOr(details, 'key') });
    case KvErrorCode.VersionMismatch:
      return new VersionMismatchError({
        key: bytesOr(details, 'key'),
        expectedVersion: numberOr(details, 'expectedVersion', -1),
        expectedModRevision: null,
        actualVersion: numberOr(details, 'actualVersion', 0),
        actualModRevision: numberOr(details, 'actualModRevision', 0),
      });
    case KvErrorCode.KeyTooLarge:
      return new KeyTooLargeError({
        keyBytes: numberOr(details, 'keyBytes', numberOr(details, 'sizeBytes', 0)),
        keyBytesMax: numberOr(details, 'keyBytesMax', numberOr(details, 'limitBytes', 0)),
      });
    case KvErrorCode.ValueTooLarge:
      return new ValueTooLargeError({
        valueBytes: numberOr(details, 'valueBytes', numberOr(details, 'sizeBytes', 0)),
        valueBytesMax: numberOr(details, 'valueBytesMax', numberOr(details, 'limitBytes', 0)),
      });
    case KvErrorCode.SessionExpired:
      return new SessionExpiredError({ sessionId: numberOr(details, 'sessionId', 0) });
    case KvErrorCode.StaleSequence:
      return new StaleSequenceError({
        sessionId: numberOr(details, 'sessionId', 0),
        seq: numberOr(details, 'seq', 0),
        ackedSeq: numberOr(details, 'ackedSeq', 0),
      });
    default:
      return new ServerError(code, message, details);
  }
}
