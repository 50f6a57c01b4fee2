/**
 * The errors the client library throws: one class per failure mode a caller
 * can act on. Members report failures as remote errors with a stable code
 * (src/protocol/error-codes.ts); `errorFromRemote` turns those into these
 * classes. Every class keeps the server's code in `code`.
 */
import { ConcordError, ConcordErrorCode } from '../common/errors.js';
import { ErrorCode, ServerError, type LearnerNotCaughtUpDetails, type QuorumAtRiskDetails } from '../protocol/index.js';
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

/** Membership methods: no member has this name. */
export class MemberNotFoundError extends ConcordError {
  constructor(message: string, readonly memberName: string) {
    super(ErrorCode.MemberNotFound, message);
  }
}

/** member.add: the name or the peer URL belongs to a member already. */
export class MemberExistsError extends ConcordError {
  constructor(message: string, readonly memberName: string, readonly peerUrl: string) {
    super(ErrorCode.MemberExists, message);
  }
}

/** Another membership change is not applied yet (one at a time): retry in a moment. */
export class MemberChangePendingError extends ConcordError {
  constructor(message: string, readonly pendingIndex: number) {
    super(ErrorCode.MemberChangePending, message);
  }
}

/** member.promote of a member that is a voter already. */
export class MemberNotLearnerError extends ConcordError {
  constructor(message: string, readonly memberName: string) {
    super(ErrorCode.MemberNotLearner, message);
  }
}

/** member.promote of a learner that trails the leader by more than the bound: wait until it has caught up. */
export class LearnerNotCaughtUpError extends ConcordError {
  constructor(message: string, readonly lag: LearnerNotCaughtUpDetails) {
    super(ErrorCode.LearnerNotCaughtUp, message);
  }
}

/** The change would leave fewer live voters than a quorum; `force` does it anyway. */
export class QuorumAtRiskError extends ConcordError {
  constructor(message: string, readonly quorum: QuorumAtRiskDetails) {
    super(ErrorCode.QuorumAtRisk, message);
  }
}

/** leader.transfer: no caught-up reachable voter, or leadership did not move in time. */
export class LeaderTransferFailedError extends ConcordError {
  constructor(message: string, readonly target: string | null, readonly reason: string) {
    super(ErrorCode.LeaderTransferFailed, message);
  }
}

function text(details: unknown, name: string): string {
  const value = field(details, name);
  return typeof value === 'string' ? value : '';
}

function count(details: unknown, name: string): number {
  const value = field(details, name);
  return typeof value === 'number' ? value : 0;
}

/** The membership error for `code`, or null for another code. */
function memberErrorFromRemote(code: string, message: string, details: unknown): Error | null {
  switch (code) {
    case ErrorCode.MemberNotFound:
      return new MemberNotFoundError(message, text(details, 'name'));
    case ErrorCode.MemberExists:
      return new MemberExistsError(message, text(details, 'name'), text(details, 'peerUrl'));
    case ErrorCode.MemberChangePending:
      return new MemberChangePendingError(message, count(details, 'pendingIndex'));
    case ErrorCode.MemberNotLearner:
      return new MemberNotLearnerError(message, text(details, 'name'));
    case ErrorCode.LearnerNotCaughtUp:
      return new LearnerNotCaughtUpError(message, {
        name: text(details, 'name'),
        matchIndex: count(details, 'matchIndex'),
        leaderLastIndex: count(details, 'leaderLastIndex'),
        trailingEntries: count(details, 'trailingEntries'),
        trailingEntriesMax: count(details, 'trailingEntriesMax'),
      });
    case ErrorCode.QuorumAtRisk:
      return new QuorumAtRiskError(message, {
        name: text(details, 'name'),
        reason: text(details, 'reason'),
        voters: count(details, 'voters'),
        liveVoters: count(details, 'liveVoters'),
        quorum: count(details, 'quorum'),
      });
    case ErrorCode.LeaderTransferFailed: {
      const target = field(details, 'target');
      return new LeaderTransferFailedError(message, typeof target === 'string' ? target : null, text(details, 'reason'));
    }
    default:
      return null;
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
  return memberErrorFromRemote(code, message, details) ?? new ServerError(code as ConcordErrorCode, message, details);
}
