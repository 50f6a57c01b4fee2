/**
 * The `session.list` answer: the session table at a glance, from the
 * replicated state. Two passes over the live sessions keep the `limit` largest
 * (by saved-result bytes) and the `limit` due first, so the answer stays
 * small whatever the table holds.
 */
import type { SessionInfo } from '../kv/index.js';
import type { SessionListResponse, SessionSummary } from '../protocol/index.js';

/** The session table as `session.list` reads it (KvReplica over the state machine). */
export interface SessionTableView {
  readonly count: number;
  /** Accounted bytes of every session and saved result. */
  readonly bytes: number;
  /** Every live session in id order; each call starts a new pass. */
  infos(): Iterable<SessionInfo>;
}

/** Most sessions each list of one `session.list` answer holds (the schema's bound). */
export const SESSION_LIST_MAX = 100;

/** The `limit` best of `items` by `better` (a bounded sorted insert: O(n·limit), limit ≤ 100). */
function topOf<T>(items: Iterable<T>, limit: number, better: (a: T, b: T) => number): T[] {
  const kept: T[] = [];
  for (const item of items) {
    if (kept.length === limit && better(item, kept[kept.length - 1]!) >= 0) continue;
    let at = kept.length;
    while (at > 0 && better(item, kept[at - 1]!) < 0) at--;
    kept.splice(at, 0, item);
    if (kept.length > limit) kept.pop();
  }
  return kept;
}

/** Two passes (one per list), no copy of the table. */
export function sessionListAnswer(table: SessionTableView, nowMs: number, requestedLimit: number | undefined): Omit<SessionListResponse, 'header'> {
  const limit = Math.min(requestedLimit === undefined || requestedLimit === 0 ? SESSION_LIST_MAX : requestedLimit, SESSION_LIST_MAX);
  const summary = (s: SessionInfo): SessionSummary => ({
    id: s.id,
    owner: s.owner,
    ttlMs: s.ttlMs,
    expiresInMs: Math.max(0, s.deadlineMs - nowMs),
    savedResults: s.savedResults,
    savedResultBytes: s.savedResultBytes,
  });
  return {
    count: table.count,
    tableBytes: table.bytes,
    largest: topOf(table.infos(), limit, (a, b) => b.savedResultBytes - a.savedResultBytes || a.id - b.id).map(summary),
    expiringFirst: topOf(table.infos(), limit, (a, b) => a.deadlineMs - b.deadlineMs || a.id - b.id).map(summary),
  };
}
