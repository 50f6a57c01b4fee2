/**
 * Client sessions for exactly-once writes (Raft thesis §6.3).
 *
 * A session remembers the results of the writes its client has not yet
 * acknowledged, keyed by sequence number, so that a retried write is answered
 * with its original result instead of being applied twice. Sessions expire
 * after `ttlMs` without a write or keep-alive, measured on the state machine's
 * clock, which only moves with the leader times carried in the log: every
 * member expires the same session at the same log index.
 *
 * Results are kept compact (saved-result.ts), and the table counts the bytes
 * of every session and result, in total and per owner (session-quotas.ts),
 * as they are added, acknowledged, closed and expired: O(1) per change.
 */
import BTreeModule from 'sorted-btree';
import { ANONYMOUS_OWNER, savedResultBytes, sessionBaseBytes, type OwnerUsage, type SessionUsage } from './session-quotas.js';
import type { SavedResult } from './saved-result.js';

// sorted-btree is CommonJS; under Node's ESM loader its default import is module.exports.
const BTree = BTreeModule.default;
type BTree<K, V> = InstanceType<typeof BTreeModule.default<K, V>>;

export interface Session {
  /** The Raft index of the entry that opened it. */
  readonly id: number;
  readonly ttlMs: number;
  /** The user whose quota it counts against (ANONYMOUS_OWNER while auth is disabled). */
  readonly owner: string;
  /** The session expires once the clock passes this time. */
  deadlineMs: number;
  /** Results of writes with seq <= ackedSeq have been discarded. */
  ackedSeq: number;
  /** Saved results of unacknowledged writes, by seq, in their compact form. Change them only through the table (it counts their bytes). */
  readonly results: Map<number, SavedResult>;
  /** Accounted bytes: the session and its saved results (session-quotas.ts). */
  bytes: number;
  /** Its owner's entry in the table's usage map (held to spare a lookup per saved result). */
  readonly usage: OwnerUsage;
  /**
   * This session's key in the expiry index. Its deadline may be older than
   * `deadlineMs`: a write only moves `deadlineMs`, and `expire` files the
   * session again under its real deadline when the old one comes due.
   */
  expiryKey: ExpiryKey;
}

/** A read-only summary of one session (the `session.list` status). */
export interface SessionInfo {
  readonly id: number;
  readonly owner: string;
  readonly ttlMs: number;
  /** On the state machine's clock. */
  readonly deadlineMs: number;
  readonly savedResults: number;
  readonly savedResultBytes: number;
}

interface ExpiryKey {
  readonly deadlineMs: number;
  readonly id: number;
}

function compareExpiry(a: ExpiryKey, b: ExpiryKey): number {
  return a.deadlineMs - b.deadlineMs || a.id - b.id;
}

/**
 * Expiry costs O(1) per write. Each session sits in the expiry index under a
 * deadline that is at most its real one (a deadline is clock + TTL, the clock
 * never goes back and a session's TTL is fixed, so deadlines only grow), so the index's first key is a lower
 * bound of every real deadline. A write just moves `deadlineMs`; when an indexed
 * deadline passes, `expire` either removes the session (its real deadline has
 * passed too) or files it again under its real deadline, at most once per TTL
 * per session. Which sessions are live after each entry is exactly "those whose
 * deadline has not passed", the same on every member whatever the index holds,
 * and snapshots (sessions in id order, with their real deadlines) are unchanged.
 */
export class SessionTable implements SessionUsage {
  /** Insertion order is id order: ids are increasing log indexes, and a restore inserts in id order. */
  private readonly byId = new Map<number, Session>();
  /** Sessions ordered by (possibly stale, never later than real) deadline. */
  private readonly byDeadline: BTree<ExpiryKey, Session> = new BTree<ExpiryKey, Session>(undefined, compareExpiry);
  /** What each owner holds; owners with no session are dropped (at most one entry per live session). */
  private readonly owners = new Map<string, OwnerUsage>();
  private totalBytes = 0;

  get size(): number {
    return this.byId.size;
  }

  /** Accounted bytes of every session and saved result. */
  get bytes(): number {
    return this.totalBytes;
  }

  usageOf(owner: string): OwnerUsage | undefined {
    return this.owners.get(owner);
  }

  /** Every owner with a live session, and what it holds (metrics, tests). */
  ownerUsage(): IterableIterator<[string, OwnerUsage]> {
    return this.owners.entries();
  }

  get(id: number): Session | undefined {
    return this.byId.get(id);
  }

  /** Every session in id order. */
  values(): IterableIterator<Session> {
    return this.byId.values();
  }

  /** Every session in id order, as read-only summaries. */
  *infos(): Generator<SessionInfo> {
    for (const session of this.byId.values()) {
      yield { id: session.id, owner: session.owner, ttlMs: session.ttlMs, deadlineMs: session.deadlineMs, savedResults: session.results.size, savedResultBytes: session.bytes - sessionBaseBytes(session.owner) };
    }
  }

  /** Adds a session (opened now, or read from a snapshot: ids must arrive in increasing order). */
  add(id: number, ttlMs: number, deadlineMs: number, owner = ANONYMOUS_OWNER, ackedSeq = 0, results = new Map<number, SavedResult>()): Session {
    const expiryKey = { deadlineMs, id };
    let resultBytes = 0;
    for (const saved of results.values()) resultBytes += savedResultBytes(saved.length);
    const bytes = sessionBaseBytes(owner) + resultBytes;
    let usage = this.owners.get(owner);
    if (usage === undefined) {
      usage = { sessions: 0, resultBytes: 0 };
      this.owners.set(owner, usage);
    }
    usage.sessions++;
    usage.resultBytes += resultBytes;
    const session: Session = { id, ttlMs, owner, deadlineMs, ackedSeq, results, bytes, usage, expiryKey };
    this.byId.set(id, session);
    this.byDeadline.set(expiryKey, session);
    this.totalBytes += bytes;
    return session;
  }

  remove(id: number): boolean {
    const session = this.byId.get(id);
    if (session === undefined) return false;
    this.byId.delete(id);
    this.byDeadline.delete(session.expiryKey);
    this.uncount(session);
    return true;
  }

  /** Saves the result of `seq` (a seq the session has not saved: the caller checked). */
  saveResult(session: Session, seq: number, saved: SavedResult): void {
    session.results.set(seq, saved);
    this.adjustResultBytes(session, savedResultBytes(saved.length));
  }

  private adjustResultBytes(session: Session, delta: number): void {
    session.bytes += delta;
    this.totalBytes += delta;
    session.usage.resultBytes += delta;
  }

  /** A session left the table: its owner no longer holds it or its results. */
  private uncount(session: Session): void {
    this.totalBytes -= session.bytes;
    const usage = session.usage;
    if (--usage.sessions === 0) this.owners.delete(session.owner);
    else usage.resultBytes -= session.bytes - sessionBaseBytes(session.owner);
  }

  /** The client was heard from at `nowMs`: its session lives for another ttlMs. O(1): see the class comment. */
  touch(session: Session, nowMs: number): void {
    session.deadlineMs = nowMs + session.ttlMs;
    // Only a snapshot holding a deadline beyond clock + TTL can make it go back; keep the index a lower bound.
    if (session.deadlineMs < session.expiryKey.deadlineMs) this.refile(session);
  }

  private refile(session: Session): void {
    this.byDeadline.delete(session.expiryKey);
    session.expiryKey = { deadlineMs: session.deadlineMs, id: session.id };
    this.byDeadline.set(session.expiryKey, session);
  }

  /** Removes every session whose deadline is before `nowMs`; returns how many. */
  expire(nowMs: number): number {
    let removed = 0;
    for (;;) {
      const first = this.byDeadline.minKey();
      if (first === undefined || first.deadlineMs >= nowMs) return removed;
      const session = this.byId.get(first.id)!;
      if (session.deadlineMs < nowMs) {
        this.byDeadline.delete(first);
        this.byId.delete(session.id);
        this.uncount(session);
        removed++;
      } else {
        // Renewed since it was filed: file it under its real deadline (which has not passed).
        this.refile(session);
      }
    }
  }

  /**
   * The client has every answer up to `ackedSeq`: forget those results. Costs
   * O(min(newly acknowledged seqs, saved results)), usually one map delete.
   */
  acknowledge(session: Session, ackedSeq: number): void {
    const previous = session.ackedSeq;
    if (ackedSeq <= previous) return;
    session.ackedSeq = ackedSeq;
    const results = session.results;
    if (results.size === 0) return;
    let freed = 0;
    if (ackedSeq - previous <= results.size) {
      for (let seq = previous + 1; seq <= ackedSeq; seq++) {
        const saved = results.get(seq);
        if (saved === undefined) continue;
        results.delete(seq);
        freed += savedResultBytes(saved.length);
      }
    } else {
      for (const [seq, saved] of results) {
        if (seq > ackedSeq) continue;
        results.delete(seq);
        freed += savedResultBytes(saved.length);
      }
    }
    if (freed !== 0) this.adjustResultBytes(session, -freed);
  }

  clear(): void {
    this.byId.clear();
    this.byDeadline.clear();
    this.owners.clear();
    this.totalBytes = 0;
  }
}

