/**
 * Per-user quotas on what a user may hold in the replicated session table
 * (issue 12 §3): live sessions and the bytes of saved results. Pure and
 * deterministic so that the state machine can enforce them on apply, the
 * same on every member (a user over quota gets UserQuotaExceededError at the
 * same log index everywhere); the server can run the same check before
 * proposing to refuse early.
 *
 * NOT WIRED YET: sessions do not record their owner. The wiring wave adds the
 * owner (the authenticated user, or the client certificate's CN) to the
 * openSession command and the session table, keeps a UserUsage per owner, and
 * calls these checks in openSession and when a result is saved.
 */
import { UserQuotaExceededError } from './errors.js';

export interface UserQuotas {
  /** Live sessions one user may hold; the table's own bound (sessionsMax) still applies to all users together. */
  readonly sessionsPerUserMax: number;
  /** Bytes of saved results (as encoded in a snapshot) one user's sessions may hold together. */
  readonly savedResultBytesPerUserMax: number;
}

/**
 * Defaults: 10,000 sessions in the table (kv options) shared by at least ten
 * users before one can lock the others out; 64 MiB of saved results per user.
 */
export const defaultUserQuotas: UserQuotas = Object.freeze({
  sessionsPerUserMax: 1_000,
  savedResultBytesPerUserMax: 64 * 1024 * 1024,
});

/** What one user holds now. */
export interface UserUsage {
  sessions: number;
  savedResultBytes: number;
}

/** The error for opening one more session, or null when `usage` leaves room. */
export function sessionQuotaProblem(quotas: UserQuotas, user: string, usage: UserUsage): UserQuotaExceededError | null {
  if (usage.sessions >= quotas.sessionsPerUserMax) {
    return new UserQuotaExceededError({ user, quota: 'sessionsPerUserMax', limit: quotas.sessionsPerUserMax });
  }
  return null;
}

/** The error for saving `resultBytes` more, or null. */
export function savedResultQuotaProblem(quotas: UserQuotas, user: string, usage: UserUsage, resultBytes: number): UserQuotaExceededError | null {
  if (usage.savedResultBytes + resultBytes > quotas.savedResultBytesPerUserMax) {
    return new UserQuotaExceededError({ user, quota: 'savedResultBytesPerUserMax', limit: quotas.savedResultBytesPerUserMax });
  }
  return null;
}

/**
 * Usage per user, kept up to date by the caller as sessions open, close and
 * expire and as results are saved and acknowledged. Users with nothing left
 * are dropped, so the ledger holds at most one entry per live session.
 */
export class UserUsageLedger {
  private readonly byUser = new Map<string, UserUsage>();

  constructor(readonly quotas: UserQuotas = defaultUserQuotas) {}

  usage(user: string): UserUsage {
    return this.byUser.get(user) ?? { sessions: 0, savedResultBytes: 0 };
  }

  /** Counts a new session, or returns the quota error (nothing counted). */
  openSession(user: string): UserQuotaExceededError | null {
    const usage = this.usage(user);
    const problem = sessionQuotaProblem(this.quotas, user, usage);
    if (problem !== null) return problem;
    this.byUser.set(user, { sessions: usage.sessions + 1, savedResultBytes: usage.savedResultBytes });
    return null;
  }

  /** A session of `user` ended holding `savedResultBytes` of results. */
  closeSession(user: string, savedResultBytes: number): void {
    this.adjust(user, -1, -savedResultBytes);
  }

  /** Counts `bytes` more saved results, or returns the quota error (nothing counted). */
  saveResult(user: string, bytes: number): UserQuotaExceededError | null {
    const usage = this.usage(user);
    const problem = savedResultQuotaProblem(this.quotas, user, usage, bytes);
    if (problem !== null) return problem;
    this.adjust(user, 0, bytes);
    return null;
  }

  /** Results of `bytes` were acknowledged and discarded. */
  releaseResults(user: string, bytes: number): void {
    this.adjust(user, 0, -bytes);
  }

  private adjust(user: string, sessions: number, bytes: number): void {
    const usage = this.usage(user);
    const next = { sessions: Math.max(0, usage.sessions + sessions), savedResultBytes: Math.max(0, usage.savedResultBytes + bytes) };
    if (next.sessions === 0 && next.savedResultBytes === 0) this.byUser.delete(user);
    else this.byUser.set(user, next);
  }
}
