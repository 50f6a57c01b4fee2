/**
 * The stable error codes a member puts in a remote error (the net layer's
 * RemoteError carries `code`, `message` and `details`). Clients match on the
 * code, never on the message. Each code documents its `details` shape and
 * whether retrying the same request (for writes: with the same session and
 * seq, so it still applies at most once) can succeed.
 */
import { KvErrorCode } from '../kv/index.js';

export const ErrorCode = {
  /**
   * This member cannot serve the request and no leader is known, or the
   * member could not forward to the leader. Retry (with backoff), preferably
   * at `details.leaderClientUrl` when it is not null.
   * details: `NotLeaderDetails`.
   */
  NotLeader: 'CONCORD_ERR_NOT_LEADER',
  /**
   * Leadership changed (or the leader stepped down) after the write was
   * proposed and before it was applied: the write may or may not take effect.
   * Retry with the same session and seq to learn the outcome exactly once.
   * details: `NotLeaderDetails`.
   */
  LeaderChanged: 'CONCORD_ERR_LEADER_CHANGED',
  /** The server-side deadline passed before an answer (outcome unknown for writes; retry). details: {}. */
  Timeout: 'CONCORD_ERR_TIMEOUT',
  /** A bounded queue on the member is full. Retry after backoff. details: { queue: string, limit: number }. */
  Overloaded: 'CONCORD_ERR_OVERLOADED',
  /** The member is shutting down; retry at another member. details: `NotLeaderDetails`. */
  ShuttingDown: 'CONCORD_ERR_SHUTTING_DOWN',
  /** The member's disk failed (ENOSPC, EIO); it no longer accepts writes. Use another member. details: { cause: string }. */
  StorageFailed: 'CONCORD_ERR_STORAGE_FAILED',

  /** The request is malformed (wrong shape, bad limit, unknown method...). details: { reason: string }. */
  InvalidRequest: 'CONCORD_ERR_INVALID_REQUEST',
  /** A bug on the member. details: {}. */
  Internal: 'CONCORD_ERR_INTERNAL',
  /**
   * Errors of the key-value state machine, with the details its error classes
   * carry (src/kv/errors.ts; rebuild them with `kvErrorFromWire`):
   * KeyNotFound { key }, VersionMismatch { key, expectedVersion, expectedModRevision,
   * actualVersion, actualModRevision }, KeyTooLarge { keyBytes, keyBytesMax },
   * ValueTooLarge { valueBytes, valueBytesMax }, EmptyKey {}, SessionExpired { sessionId },
   * StaleSequence { sessionId, seq, ackedSeq }, SessionResultsFull { sessionId,
   * sessionResultsMax }, SessionsFull { sessionsMax }, InvalidCommand { reason },
   * InvalidScan { reason }. None of them is retryable as is.
   */
  ...KvErrorCode,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** details of NotLeader, LeaderChanged and ShuttingDown. */
export interface NotLeaderDetails {
  readonly leaderId: string | null;
  readonly leaderClientUrl: string | null;
}

const retryableCodes: ReadonlySet<string> = new Set<string>([
  ErrorCode.NotLeader,
  ErrorCode.LeaderChanged,
  ErrorCode.Timeout,
  ErrorCode.Overloaded,
  ErrorCode.ShuttingDown,
  ErrorCode.StorageFailed,
]);

/**
 * True when sending the same request again (to the hinted leader, another
 * member, or after backoff) may succeed. Writes must be retried with the same
 * session and seq: that is what makes a retry apply at most once.
 */
export function isRetryableCode(code: string): boolean {
  return retryableCodes.has(code);
}
