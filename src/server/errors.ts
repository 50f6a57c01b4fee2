/**
 * Errors a member answers clients with, and the one factory for each failure
 * mode. Each carries a stable protocol code (src/protocol/error-codes.ts) and
 * `details` that the net layer's RPC passes to the caller unchanged (e.g. the
 * leader hint of NotLeader). Which code a refusal gets matters for
 * exactly-once: NotLeader, Overloaded and ShuttingDown promise that nothing
 * was proposed or sent; LeaderChanged, Timeout and StorageFailed leave the
 * outcome of a write unknown (error-codes.ts says so per code).
 */
import { ErrorCode, ServerError, type NotLeaderDetails } from '../protocol/index.js';

/** An error a member returns to a client: the protocol's one ServerError, re-exported where the server's code imports it. */
export { ServerError };

/** Where the leader is, as the answering member knows it (null fields when unknown or when it is the leader itself). */
export type LeaderHint = NotLeaderDetails;

export const noLeaderHint: LeaderHint = { leaderId: null, leaderClientUrl: null };

/** A bounded queue is full: refused before anything was proposed. */
export function overloaded(queue: string, limit: number): ServerError {
  return new ServerError(ErrorCode.Overloaded, `${queue} is full (limit ${limit}); retry later`, { queue, limit });
}

/** Refused before anything was proposed or sent: this member does not lead (`why` says more, e.g. no leader known). */
export function notLeader(member: string, hint: LeaderHint, why = `member ${member} is not the leader`): ServerError {
  return new ServerError(ErrorCode.NotLeader, why, { ...hint });
}

/**
 * The write was handed to Raft (or sent to the leader) and its outcome is
 * unknown: leadership changed, the member stopped, or the link to the leader
 * dropped before the answer. Retrying with the same session and seq learns
 * the outcome exactly once.
 */
export function leaderChanged(what: 'read' | 'write', hint: LeaderHint, why?: string): ServerError {
  const message =
    why ??
    (what === 'write'
      ? 'leadership changed before the write was applied; retry with the same session and seq'
      : 'leadership changed before the read was confirmed; retry');
  return new ServerError(ErrorCode.LeaderChanged, message, { ...hint });
}

/** Refused before anything was proposed: the member is stopping. */
export function shuttingDown(member: string, hint: LeaderHint): ServerError {
  return new ServerError(ErrorCode.ShuttingDown, `member ${member} is shutting down`, { ...hint });
}

export function storageFailed(member: string, cause: Error): ServerError {
  return new ServerError(ErrorCode.StorageFailed, `storage failure on member ${member}: ${cause.message}`, { cause: cause.message });
}

export function writesRefusedAfterStorageFailure(member: string, cause: Error): ServerError {
  return new ServerError(ErrorCode.StorageFailed, `member ${member} stopped accepting writes after a storage failure: ${cause.message}`, {
    cause: cause.message,
  });
}

/** The server-side deadline passed (a write's outcome is unknown). */
export function requestTimedOut(what: string): ServerError {
  return new ServerError(ErrorCode.Timeout, what);
}

export function internalError(message: string): ServerError {
  return new ServerError(ErrorCode.Internal, message);
}

export function invalidRequest(message: string, reason: string): ServerError {
  return new ServerError(ErrorCode.InvalidRequest, message, { reason });
}
