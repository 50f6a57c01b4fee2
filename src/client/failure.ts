/**
 * What one failed attempt means for the retry loop: try elsewhere, wait and
 * try again, or give up with a typed error; and, for a write, whether the
 * attempt may have been applied (which decides whether a later failure leaves
 * its outcome unknown).
 */
import {
  ConnectError,
  ConnectionClosedError,
  RemoteError,
  SendQueueFullError,
  TooManyPendingCallsError,
} from '../net/index.js';
import { ErrorCode, isRetryableCode, type NotLeaderDetails } from '../protocol/index.js';
import { KvErrorCode } from '../kv/errors.js';
import { errorFromRemote } from './errors.js';

export const FailureKind = {
  /** The member is not (or no longer) the leader and could not forward: go to `leaderUrl`, or the next member. */
  Redirect: 'redirect',
  /** The connection failed or was lost: reconnect, to the next member. */
  ConnectionLost: 'connection-lost',
  /** Transient overload (a bounded queue is full here or on the member): wait, then the same member again. */
  Busy: 'busy',
  /** Retrying cannot help: the caller gets `error`. */
  Final: 'final',
} as const;
export type FailureKind = (typeof FailureKind)[keyof typeof FailureKind];

export type Failure =
  | { readonly kind: typeof FailureKind.Redirect; readonly leaderUrl: string | null; readonly mayHaveApplied: boolean }
  | { readonly kind: typeof FailureKind.ConnectionLost; readonly mayHaveApplied: boolean }
  | { readonly kind: typeof FailureKind.Busy; readonly mayHaveApplied: boolean }
  | { readonly kind: typeof FailureKind.Final; readonly error: Error; readonly mayHaveApplied: boolean };

/**
 * Codes that prove the request was not applied: the member refused it before
 * proposing or forwarding it (src/protocol/error-codes.ts). Every other code,
 * LeaderChanged above all, may come after the write was proposed, so the
 * write's outcome is unknown until a retry with the same seq tells.
 */
const refusedBeforeProposal: ReadonlySet<string> = new Set<string>([
  ErrorCode.NotLeader,
  ErrorCode.Overloaded,
  ErrorCode.ShuttingDown,
  KvErrorCode.SessionResultsFull,
]);

function hasLeaderHint(details: unknown): boolean {
  return typeof details === 'object' && details !== null && 'leaderClientUrl' in details;
}

function leaderUrlOf(details: unknown): string | null {
  const url = (details as Partial<NotLeaderDetails> | null | undefined)?.leaderClientUrl;
  return typeof url === 'string' && url !== '' ? url : null;
}

export function classifyFailure(error: unknown): Failure {
  if (error instanceof RemoteError) {
    const mayHaveApplied = !refusedBeforeProposal.has(error.code);
    switch (error.code) {
      case ErrorCode.NotLeader:
      case ErrorCode.LeaderChanged:
      case ErrorCode.ShuttingDown:
      case ErrorCode.StorageFailed:
        return { kind: FailureKind.Redirect, leaderUrl: leaderUrlOf(error.details), mayHaveApplied };
      case ErrorCode.Overloaded:
      case ErrorCode.Timeout:
      case KvErrorCode.SessionResultsFull:
        return { kind: FailureKind.Busy, mayHaveApplied };
    }
    if (isRetryableCode(error.code)) {
      // A retryable code this client has no case for: one that names the
      // leader (NotLeaderDetails) is a redirect, any other a pause. It may
      // have been applied unless its code says it was refused beforehand.
      return hasLeaderHint(error.details)
        ? { kind: FailureKind.Redirect, leaderUrl: leaderUrlOf(error.details), mayHaveApplied }
        : { kind: FailureKind.Busy, mayHaveApplied };
    }
    // A definitive answer: the write was applied (with an error result) or
    // rejected. An unknown session means this attempt changed nothing.
    return {
      kind: FailureKind.Final,
      error: errorFromRemote(error.code, error.message, error.details),
      mayHaveApplied: error.code !== KvErrorCode.SessionExpired,
    };
  }
  if (error instanceof ConnectError) return { kind: FailureKind.ConnectionLost, mayHaveApplied: false };
  if (error instanceof ConnectionClosedError) return { kind: FailureKind.ConnectionLost, mayHaveApplied: true };
  if (error instanceof TooManyPendingCallsError || error instanceof SendQueueFullError) {
    return { kind: FailureKind.Busy, mayHaveApplied: false };
  }
  return { kind: FailureKind.Final, error: error instanceof Error ? error : new Error(String(error)), mayHaveApplied: true };
}
