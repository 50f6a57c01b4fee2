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
import { txnResultBytes } from './txn-codec.js';
import { ResultKind, type ApplyResult } from './types.js';

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
  /** Encoded bytes of the transaction results in `results` (bounded by sessionResultBytesMax). */
  resultBytes: number;
  /**
   * This session's key in the expiry index. Its deadline may be older than
   * `deadlineMs`: a write only moves `deadlineMs`, and `expire` files the
   * session again under its real deadline when the old one comes due.
   */
  expiryKey: ExpiryKey;
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
export class SessionTable {
  /** Insertion order is id order: ids are increasing log indexes, and a restore inserts in id order. */
  private readonly byId = new Map<number, Session>();
  /** Sessions ordered by (possibly stale, never later than real) deadline. */
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
    let resultBytes = 0;
    for (const result of results.values()) resultBytes += savedResultBytes(result);
    const session: Session = { id, ttlMs, deadlineMs, ackedSeq, results, resultBytes, expiryKey };
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
    if (ackedSeq - previous <= results.size) {
      for (let seq = previous + 1; seq <= ackedSeq; seq++) this.forget(session, seq);
    } else {
      for (const seq of results.keys()) if (seq <= ackedSeq) this.forget(session, seq);
    }
  }

  /** Saves the result of the session's write `seq`; `bytes`: its savedResultBytes when the caller has it already. */
  save(session: Session, seq: number, result: ApplyResult, bytes = savedResultBytes(result)): void {
    session.results.set(seq, result);
    session.resultBytes += bytes;
  }

  private forget(session: Session, seq: number): void {
    const result = session.results.get(seq);
    if (result === undefined) return;
    session.resultBytes -= savedResultBytes(result);
    session.results.delete(seq);
  }

  clear(): void {
    this.byId.clear();
    this.byDeadline.clear();
  }
}

/** What a saved result counts against sessionResultBytesMax: transaction results only (the others are small and counted by number). */
export function savedResultBytes(result: ApplyResult): number {
  return result.kind === ResultKind.Txn ? txnResultBytes(result) : 0;
}
