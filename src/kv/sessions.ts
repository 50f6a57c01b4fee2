/**
 * Client sessions for exactly-once writes (Raft thesis §6.3).
 *
 * A session remembers the results of the writes its client has not yet
 * acknowledged, keyed by sequence number, so that a retried write is answered
 * with its original result instead of being applied twice. Sessions expire
 * after `ttlMs` without a write or keep-alive, measured on the state machine's
 * clock, which only moves with the leader times carried in the log: every
 * member expires the same session at the same log index.
 */
import BTreeModule from 'sorted-btree';
import type { ApplyResult } from './types.js';

// sorted-btree is CommonJS; under Node's ESM loader its default import is module.exports.
const BTree = BTreeModule.default;
type BTree<K, V> = InstanceType<typeof BTreeModule.default<K, V>>;

export interface Session {
  /** The Raft index of the entry that opened it. */
  readonly id: number;
  readonly ttlMs: number;
  /** The session expires once the clock passes this time. */
  deadlineMs: number;
  /** Results of writes with seq <= ackedSeq have been discarded. */
  ackedSeq: number;
  /** Saved results of unacknowledged writes, by seq. */
  readonly results: Map<number, ApplyResult>;
  /** This session's key in the expiry index (replaced when the deadline moves). */
  expiryKey: ExpiryKey;
}

interface ExpiryKey {
  readonly deadlineMs: number;
  readonly id: number;
}

function compareExpiry(a: ExpiryKey, b: ExpiryKey): number {
  return a.deadlineMs - b.deadlineMs || a.id - b.id;
}

export class SessionTable {
  /** Insertion order is id order: ids are increasing log indexes, and a restore inserts in id order. */
  private readonly byId = new Map<number, Session>();
  /** Sessions ordered by deadline, so that expiry costs O(log n) per expired session. */
  private readonly byDeadline: BTree<ExpiryKey, Session> = new BTree<ExpiryKey, Session>(undefined, compareExpiry);

  get size(): number {
    return this.byId.size;
  }

  get(id: number): Session | undefined {
    return this.byId.get(id);
  }

  /** Every session in id order. */
  values(): IterableIterator<Session> {
    return this.byId.values();
  }

  /** Adds a session (opened now, or read from a snapshot: ids must arrive in increasing order). */
  add(id: number, ttlMs: number, deadlineMs: number, ackedSeq = 0, results = new Map<number, ApplyResult>()): Session {
    const expiryKey = { deadlineMs, id };
    const session: Session = { id, ttlMs, deadlineMs, ackedSeq, results, expiryKey };
    this.byId.set(id, session);
    this.byDeadline.set(expiryKey, session);
    return session;
  }

  remove(id: number): boolean {
    const session = this.byId.get(id);
    if (session === undefined) return false;
    this.byId.delete(id);
    this.byDeadline.delete(session.expiryKey);
    return true;
  }

  /** The client was heard from at `nowMs`: its session lives for another ttlMs. */
  touch(session: Session, nowMs: number): void {
    const deadlineMs = nowMs + session.ttlMs;
    if (deadlineMs === session.deadlineMs) return;
    this.byDeadline.delete(session.expiryKey);
    session.deadlineMs = deadlineMs;
    session.expiryKey = { deadlineMs, id: session.id };
    this.byDeadline.set(session.expiryKey, session);
  }

  /** Removes every session whose deadline is before `nowMs`; returns how many. */
  expire(nowMs: number): number {
    let removed = 0;
    for (;;) {
      const first = this.byDeadline.minKey();
      if (first === undefined || first.deadlineMs >= nowMs) return removed;
      this.byDeadline.delete(first);
      this.byId.delete(first.id);
      removed++;
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
    if (ackedSeq - previous <= results.size) {
      for (let seq = previous + 1; seq <= ackedSeq; seq++) results.delete(seq);
    } else {
      for (const seq of results.keys()) if (seq <= ackedSeq) results.delete(seq);
    }
  }

  clear(): void {
    this.byId.clear();
    this.byDeadline.clear();
  }
}
