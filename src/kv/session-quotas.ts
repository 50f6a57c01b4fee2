/**
 * What the session table may hold (issue 12 §3, "bounds no client can
 * exhaust"): the byte accounting of sessions and their saved results, the
 * per-user quotas on live sessions and saved-result bytes, and the byte
 * budget of the whole table. The state machine enforces them on apply, so a
 * user over quota is refused at the same log index on every member.
 *
 * Accounting. A session counts SESSION_FIXED_BYTES plus its owner's name; a
 * saved result SAVED_RESULT_FIXED_BYTES plus its compact form's length
 * (saved-result.ts). The fixed parts stand for the objects around them (the
 * session record, its two index entries, a map entry); they are constants,
 * not measurements, so that every member counts the same bytes.
 *
 * Refusals are decided before a command runs, so a refused write changes
 * nothing: a result is admitted only when the worst case a result can take
 * (`savedResultBytesBound`) still fits. The bounds are therefore strict: a
 * user's saved results never exceed its quota, the table never exceeds its
 * budget.
 *
 * Owners. The owner is the user the opening command was authorized as (the
 * authenticated user or the client certificate's CN) while auth is enabled,
 * and the anonymous owner '' otherwise: with auth disabled every client
 * shares one quota, and the table-wide bounds apply on top. With the defaults
 * one user at both quotas holds a quarter of the table (and a tenth of
 * `sessionsMax`), so one full user never locks out another.
 */
import { AUTH_NAME_BYTES_MAX } from './auth-types.js';
import { SessionTableFullError, UserQuotaExceededError, type KvError } from './errors.js';
import type { KvOptions } from './options.js';

/**
 * Accounted bytes of one session without its owner's name and saved results
 * (measured on Node 20: about 390 bytes of heap per empty session, its
 * record, result map, expiry key and index entries).
 */
export const SESSION_FIXED_BYTES = 384;
/** Accounted bytes of one saved result besides its compact form (measured: about 57 bytes of heap for a 3-byte result). */
export const SAVED_RESULT_FIXED_BYTES = 56;
/** The owner of sessions opened while auth is disabled (or without a user). */
export const ANONYMOUS_OWNER = '';

/** What one owner holds now. */
export interface OwnerUsage {
  sessions: number;
  /** Accounted bytes of its sessions' saved results. */
  resultBytes: number;
}

/** What the checks read of the table (SessionTable implements it). */
export interface SessionUsage {
  /** Accounted bytes of every session and saved result. */
  readonly bytes: number;
  usageOf(owner: string): OwnerUsage | undefined;
}

/** Accounted bytes of a session of `owner` holding no results. */
export function sessionBaseBytes(owner: string): number {
  return SESSION_FIXED_BYTES + owner.length;
}

/** Accounted bytes of one saved result of `compactLength` bytes. */
export function savedResultBytes(compactLength: number): number {
  return SAVED_RESULT_FIXED_BYTES + compactLength;
}

/**
 * The most bytes one saved result can take: an error naming two keys (a
 * permission range) and a few names and numbers, with room to spare.
 */
export function savedResultBytesBound(options: Pick<KvOptions, 'keyBytesMax'>): number {
  return savedResultBytes(2 * options.keyBytesMax + 2 * AUTH_NAME_BYTES_MAX + 512);
}

/** The error for `owner` opening one more session, or null. (`sessionsMax` is checked by the caller, first.) */
export function openSessionProblem(table: SessionUsage, options: KvOptions, owner: string): KvError | null {
  const usage = table.usageOf(owner);
  if (usage !== undefined && usage.sessions >= options.sessionsPerUserMax) {
    return new UserQuotaExceededError({ user: owner, quota: 'sessionsPerUserMax', limit: options.sessionsPerUserMax });
  }
  if (table.bytes + sessionBaseBytes(owner) > options.sessionTableBytesMax) {
    return new SessionTableFullError({ sessionTableBytesMax: options.sessionTableBytesMax });
  }
  return null;
}

/**
 * The error for saving one more result of a session of `owner`, whose usage is `usage`, or null
 * (checked before the command runs, on every write in a session: no lookups).
 */
export function saveResultProblem(table: SessionUsage, options: KvOptions, owner: string, usage: OwnerUsage): KvError | null {
  const bound = savedResultBytesBound(options);
  if (usage.resultBytes + bound > options.sessionResultBytesPerUserMax) {
    return new UserQuotaExceededError({ user: owner, quota: 'sessionResultBytesPerUserMax', limit: options.sessionResultBytesPerUserMax });
  }
  if (table.bytes + bound > options.sessionTableBytesMax) {
    return new SessionTableFullError({ sessionTableBytesMax: options.sessionTableBytesMax });
  }
  return null;
}

/**
 * How many bytes (txnResultBytes) a transaction's result may take in session `session`:
 * the least of what is left of the session's own bound (sessionResultBytesMax, over
 * all its saved results), its owner's quota and the table's budget, less the saved
 * result's fixed part and tag. `refusal`: the error to give instead of TxnTooLarge when
 * the quota or the table, not the session's bound, is what the result would exceed.
 */
export function txnResultBudget(
  table: SessionUsage,
  options: KvOptions,
  session: { readonly owner: string; readonly bytes: number; readonly usage: OwnerUsage },
): { bytes: number; refusal: KvError | null } {
  const overhead = savedResultBytes(1);
  const sessionLeft = options.sessionResultBytesMax - (session.bytes - sessionBaseBytes(session.owner)) - overhead;
  const userLeft = options.sessionResultBytesPerUserMax - session.usage.resultBytes - overhead;
  const tableLeft = options.sessionTableBytesMax - table.bytes - overhead;
  if (sessionLeft <= userLeft && sessionLeft <= tableLeft) return { bytes: Math.max(0, sessionLeft), refusal: null };
  if (userLeft <= tableLeft) {
    const refusal = new UserQuotaExceededError({ user: session.owner, quota: 'sessionResultBytesPerUserMax', limit: options.sessionResultBytesPerUserMax });
    return { bytes: Math.max(0, userLeft), refusal };
  }
  return { bytes: Math.max(0, tableLeft), refusal: new SessionTableFullError({ sessionTableBytesMax: options.sessionTableBytesMax }) };
}
