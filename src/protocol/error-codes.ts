/**
 * The stable error codes a member puts in a remote error (the net layer's
 * RemoteError carries `code`, `message` and `details`). Clients match on the
 * code, never on the message. Each code documents its `details` shape and
 * whether retrying the same request (for writes: with the same session and
 * seq, so it still applies at most once) can succeed. The strings themselves
 * are spelled once, in the common table (src/common/error-codes.ts); this is
 * the subset that crosses the wire, with what each means for a caller.
 */
import { ConcordErrorCode } from '../common/errors.js';
import { KvErrorCode } from '../kv/index.js';

export const ErrorCode = {
  /**
   * Refused before anything was proposed or sent on: this member is not the
   * leader (and the request was itself forwarded, or no leader is known), or
   * it could not hand the request to the leader (no link, link down or full).
   * The request did NOT take effect: a write may be sent again freely. Retry
   * (with backoff), preferably at `details.leaderClientUrl` when not null.
   * details: `NotLeaderDetails`.
   */
  NotLeader: ConcordErrorCode.NotLeader,
  /**
   * The write's outcome is unknown: it may or may not take effect. Answered
   * when it was handed to Raft and then, before it was applied here,
   * leadership changed, a new leader overwrote its entry, or the member
   * stopped; and when a follower had forwarded it to the leader and the link
   * dropped before the answer. Retry with the same session and seq (never as
   * a new write) to learn the outcome exactly once. For a read: retry.
   * details: `NotLeaderDetails`.
   */
  LeaderChanged: ConcordErrorCode.LeaderChanged,
  /** The server-side deadline passed before an answer (outcome unknown for writes; retry). details: {}. */
  Timeout: ConcordErrorCode.Timeout,
  /**
   * A bounded queue on the member is full; refused before proposing. Retry
   * after backoff. details: { queue: string, limit: number } (the bound in
   * force: waiting requests, or bytes of uncommitted entries for
   * `uncommitted-bytes-limit`).
   */
  Overloaded: ConcordErrorCode.Overloaded,
  /**
   * Not an answer to a call: the reason in a watch batch's `canceled` when
   * the member ended a watcher itself. details: { watchId, reason, limit }
   * (reason 'slow-consumer': it trailed the head by more than `limit`
   * revisions while its consumer did not take them). Watch again from the
   * next revision to go on.
   */
  WatchCanceled: ConcordErrorCode.WatchCanceled,
  /**
   * The member is shutting down and refused the request before proposing it
   * (it did not take effect); retry at another member. Writes it had already
   * proposed get LeaderChanged instead. details: `NotLeaderDetails`.
   */
  ShuttingDown: ConcordErrorCode.ShuttingDown,
  /** The member's disk failed (ENOSPC, EIO); it no longer accepts writes. Use another member. details: { cause: string }. */
  StorageFailed: ConcordErrorCode.StorageFailed,

  /** The request is malformed (wrong shape, bad limit, unknown method...). details: { reason: string }. */
  InvalidRequest: ConcordErrorCode.InvalidRequest,
  /** A bug on the member (a handler threw something that is not a ConcordError). details: {}. */
  Internal: ConcordErrorCode.Internal,
  /** The member has no handler for the called method (an older member, or a typo in a raw RPC). details: undefined. */
  UnknownMethod: ConcordErrorCode.UnknownMethod,
  /** member.* / leader.transfer: no member has this name. details: { name }. */
  MemberNotFound: ConcordErrorCode.MemberNotFound,
  /** member.add: the name or peer URL belongs to a member already. details: { name, peerUrl }. */
  MemberExists: ConcordErrorCode.MemberExists,
  /** Another membership change is proposed and not yet applied (thesis §4.1: one at a time). details: { pendingIndex }. */
  MemberChangePending: ConcordErrorCode.MemberChangePending,
  /** member.promote of a voter. details: { name }. */
  MemberNotLearner: ConcordErrorCode.MemberNotLearner,
  /** member.promote of a learner that trails the leader by more than the bound. details: LearnerNotCaughtUpDetails. */
  LearnerNotCaughtUp: ConcordErrorCode.LearnerNotCaughtUp,
  /** The change would leave fewer live voters than a quorum (refused unless `force`). details: QuorumAtRiskDetails. */
  QuorumAtRisk: ConcordErrorCode.QuorumAtRisk,
  /** leader.transfer found no caught-up, reachable voter, or leadership did not move in time. details: { target, reason }. */
  LeaderTransferFailed: ConcordErrorCode.LeaderTransferFailed,
  /**
   * Errors of the key-value state machine, with the details its error classes
   * carry (src/kv/errors.ts; rebuild them with `kvErrorFromWire`):
   * KeyNotFound { key }, VersionMismatch { key, expectedVersion, expectedModRevision,
   * actualVersion, actualModRevision }, KeyTooLarge { keyBytes, keyBytesMax },
   * ValueTooLarge { valueBytes, valueBytesMax }, EmptyKey {}, SessionExpired { sessionId },
   * StaleSequence { sessionId, seq, ackedSeq }, SessionResultsFull { sessionId,
   * sessionResultsMax }, SessionsFull { sessionsMax }, InvalidCommand { reason },
   * InvalidScan { reason }, TxnTooLarge { limit, max, actual }. None of them is retryable as is.
   */
  ...KvErrorCode,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** details of LearnerNotCaughtUp. */
export interface LearnerNotCaughtUpDetails {
  readonly name: string;
  readonly matchIndex: number;
  readonly leaderLastIndex: number;
  readonly trailingEntries: number;
  readonly trailingEntriesMax: number;
}

/** details of QuorumAtRisk. */
export interface QuorumAtRiskDetails {
  readonly name: string;
  readonly reason: string;
  /** Voters after the change, and how many of them the leader heard from recently. */
  readonly voters: number;
  readonly liveVoters: number;
  readonly quorum: number;
}

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
