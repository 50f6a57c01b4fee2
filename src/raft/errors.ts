/** Errors the Raft core raises to its caller. */
import { ConcordError, ConcordErrorCode } from '../common/errors.js';
import type { NodeId } from './types.js';

export const DropReason = {
  /** No leader is known (an election is in progress): retry later. */
  NoLeader: 'no-leader',
  /** This node is a follower; proposals are not forwarded. Send it to `leaderHint`. */
  NotLeader: 'not-leader',
  /** The leader is handing over leadership (thesis §3.10) and accepts nothing new until it is done. */
  TransferInProgress: 'transfer-in-progress',
  /** Too many bytes proposed but not yet committed (`uncommittedEntriesBytesMax`). */
  UncommittedBytesLimit: 'uncommitted-bytes-limit',
  /** A membership change is still being applied; only one may be pending at a time. */
  ConfChangePending: 'conf-change-pending',
  /** Too many ReadIndex requests wait for confirmation (`pendingReadIndexRequestsMax`). */
  PendingReadsLimit: 'pending-reads-limit',
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

/**
 * A proposal (or ReadIndex request, or leadership transfer) was not accepted.
 * Thrown synchronously by `propose`, `proposeConfChange`, `readIndex` and
 * `transferLeadership`; nothing is ever dropped silently after being accepted
 * — but an accepted entry can still be overwritten if leadership changes
 * before it commits (check the term of the entry applied at the returned index).
 */
export class ProposalDroppedError extends ConcordError {
  constructor(
    readonly reason: DropReason,
    /** The leader this node knows of, if any: where to retry. */
    readonly leaderHint: NodeId | null,
  ) {
    super(ConcordErrorCode.ProposalDropped, `proposal dropped: ${reason}${leaderHint !== null ? ` (leader is ${leaderHint})` : ''}`);
  }
}

/** A membership change that cannot be applied to the current configuration. */
export class InvalidConfChangeError extends ConcordError {
  constructor(message: string) {
    super(ConcordErrorCode.InvalidConfChange, `invalid membership change: ${message}`);
  }
}
