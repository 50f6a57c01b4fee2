/**
 * Wire types of `session.list`: a read-only look at the replicated session
 * table (what the dashboard's Sessions view shows). Sessions are not listed
 * whole: a member may hold hundreds of thousands; the answer has the counts
 * and the few that matter to an operator: those holding the most saved
 * results, and those about to expire.
 */
import type { ResponseHeader } from './types.js';

export interface SessionListRequest {
  /** How many sessions each list holds at most (default and cap 100). */
  readonly limit?: number;
}

export interface SessionSummary {
  /** The session id (the log index of the entry that opened it). */
  readonly id: number;
  /** The user it counts against; '' while auth was disabled when it opened. */
  readonly owner: string;
  readonly ttlMs: number;
  /** Time left, in ms, by the serving member's view of the entry clock (0 once due). */
  readonly expiresInMs: number;
  /** Results of unacknowledged writes it holds for retries. */
  readonly savedResults: number;
  /** Accounted bytes of those results (session-quotas.ts). */
  readonly savedResultBytes: number;
}

export interface SessionListResponse {
  readonly header: ResponseHeader;
  /** Live sessions. */
  readonly count: number;
  /** Accounted bytes of the whole table (against --session-table-bytes-max). */
  readonly tableBytes: number;
  /** The sessions holding the most saved-result bytes, largest first. */
  readonly largest: readonly SessionSummary[];
  /** The sessions due to expire first, soonest first. */
  readonly expiringFirst: readonly SessionSummary[];
}
