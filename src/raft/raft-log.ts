/**
 * The log as the core sees it: the persisted part, read through `Storage`,
 * followed by an in-memory tail of entries not yet known durable (etcd's
 * "unstable" log), plus commit/apply bookkeeping.
 *
 * Entries at index >= `offset` live in `tail`; below it they are in storage.
 * `inProgress` is the last index already handed to the host in a Ready;
 * `stableTo` (called from `advance()`) drops the durable prefix of `tail`.
 * A conflicting append may truncate the tail to below `offset`; the stored
 * entries from there on are then shadowed until the host truncates them while
 * writing the next Ready (whose first entry index is then <= its last index).
 */
import { assert } from '../common/errors.js';
import { LogCompactedError, LogUnavailableError, type Storage } from './storage.js';
import { EntryType, type Entry, type SnapshotMetadata } from './types.js';

/** Bound on the entry bytes one page of a whole-range scan (`someEntry`) reads at a time, so a scan's memory does not grow with the log. */
export const LOG_SCAN_PAGE_BYTES = 1024 * 1024;

export class RaftLog {
  /** Index of `tail[0]`. */
  private offset: number;
  private tail: Entry[] = [];
  /** Last index handed out in a Ready (entries above it still need persisting). */
  private inProgress: number;
  /** A snapshot received from the leader and not yet durable (it replaces the whole log). */
  private pendingSnapshot: SnapshotMetadata | null = null;
  private pendingSnapshotHandedOut = false;

  /** Highest index known committed (paper Figure 2, commitIndex). */
  committed: number;
  /** Highest index the host has applied (it called `advance()` for the Ready carrying it). */
  applied: number;
  /** Highest index handed out in `committedEntries` (== applied except between ready() and advance()). */
  applying: number;

  constructor(readonly storage: Storage, committed: number, applied: number) {
    const last = storage.lastIndex();
    this.offset = last + 1;
    this.inProgress = last;
    const snapshotIndex = storage.firstIndex() - 1;
    assert(applied >= snapshotIndex, `applied index ${applied} is below the snapshot index ${snapshotIndex}`);
    this.committed = Math.max(committed, applied, snapshotIndex);
    assert(this.committed <= last, `commit index ${this.committed} is past the last log index ${last}`);
    this.applied = applied;
    this.applying = applied;
  }

  firstIndex(): number {
    return this.pendingSnapshot !== null ? this.pendingSnapshot.index + 1 : this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.offset + this.tail.length - 1;
  }

  /** Last index known durable and matching this log (a leader counts its own vote for commit only up to here). */
  persistedIndex(): number {
    // A pending snapshot replaces the whole log: nothing of it is durable yet.
    if (this.pendingSnapshot !== null) return 0;
    return this.offset - 1;
  }

  /** Term of the entry at `index`; throws LogCompactedError / LogUnavailableError. */
  term(index: number): number {
    if (index >= this.offset) {
      const e = this.tail[index - this.offset];
      if (e === undefined) throw new LogUnavailableError(index, this.lastIndex());
      return e.term;
    }
    if (this.pendingSnapshot !== null) {
      if (index === this.pendingSnapshot.index) return this.pendingSnapshot.term;
      throw new LogCompactedError(index, this.pendingSnapshot.index + 1);
    }
    return this.storage.term(index);
  }

  /** Term at `index`, or -1 if the entry is compacted or absent. */
  termOrMissing(index: number): number {
    if (index > this.lastIndex() || index < this.firstIndex() - 1) return -1;
    try {
      return this.term(index);
    } catch (e) {
      if (e instanceof LogCompactedError || e instanceof LogUnavailableError) return -1;
      throw e;
    }
  }

  matchTerm(index: number, term: number): boolean {
    return this.termOrMissing(index) === term;
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** Paper §5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries [lo, hi), stopping once their data exceeds `bytesMax` (at least
   * one entry). Throws LogCompactedError if lo is compacted.
   */
  slice(lo: number, hi: number, bytesMax: number): Entry[] {
    assert(lo <= hi, `slice bounds ${lo} > ${hi}`);
    if (lo === hi) return [];
    assert(hi <= this.lastIndex() + 1, `slice end ${hi} past last index ${this.lastIndex()}`);
    if (lo < this.firstIndex()) throw new LogCompactedError(lo, this.firstIndex());
    let out: Entry[];
    if (lo < this.offset) {
      out = this.storage.entries(lo, Math.min(hi, this.offset), bytesMax);
      if (hi <= this.offset || out.length < Math.min(hi, this.offset) - lo) return out;
      let bytes = 0;
      for (const e of out) bytes += e.data.length;
      for (let i = this.offset; i < hi; i++) {
        const e = this.tail[i - this.offset]!;
        bytes += e.data.length;
        if (bytes > bytesMax) break;
        out.push(e);
      }
      return out;
    }
    const from = lo - this.offset;
    const to = hi - this.offset;
    // Fast path: the whole range fits (the common case for pipelined appends).
    let bytes = 0;
    let end = from;
    while (end < to) {
      bytes += this.tail[end]!.data.length;
      if (bytes > bytesMax && end > from) break;
      end++;
    }
    return this.tail.slice(from, end);
  }

  /**
   * Visit the entries in [lo, hi] in order, reading them a page of
   * LOG_SCAN_PAGE_BYTES at a time; stops at the first entry for which `visit`
   * returns true and returns whether one did. Throws LogCompactedError if lo
   * is compacted.
   */
  someEntry(lo: number, hi: number, visit: (e: Entry) => boolean): boolean {
    while (lo <= hi) {
      const page = this.slice(lo, hi + 1, LOG_SCAN_PAGE_BYTES);
      for (const e of page) if (visit(e)) return true;
      lo += page.length;
    }
    return false;
  }

  /**
   * Follower side of AppendEntries (paper Figure 2, receiver steps 3-4): skip
   * entries we already hold, truncate at the first conflict, append the rest.
   * Returns the index of the last new entry.
   */
  appendFromLeader(entries: readonly Entry[]): void {
    const n = entries.length;
    if (n === 0) return;
    const last = this.lastIndex();
    let i = 0;
    // Skip the prefix we already hold with matching terms.
    while (i < n) {
      const e = entries[i]!;
      if (e.index > last) break;
      if (this.termOrMissing(e.index) !== e.term) break;
      i++;
    }
    if (i === n) return;
    const first = entries[i]!;
    if (first.index <= last) {
      // A conflicting suffix: never below the commit index (Log Matching + Leader Completeness).
      assert(first.index > this.committed, `conflict at ${first.index} would truncate committed entries (commit ${this.committed})`);
      this.truncateFrom(first.index);
    }
    for (; i < n; i++) this.tail.push(entries[i]!);
  }

  /** Leader side: append new entries of its own (indexes must follow the last). */
  appendOwn(entry: Entry): void {
    this.tail.push(entry);
  }

  private truncateFrom(index: number): void {
    if (index >= this.offset) {
      this.tail.length = index - this.offset;
    } else {
      assert(this.pendingSnapshot === null || index > this.pendingSnapshot.index, 'truncating into a pending snapshot');
      this.offset = index;
      this.tail = [];
    }
    if (this.inProgress > index - 1) this.inProgress = index - 1;
  }

  /** Entries not yet handed to the host; marks them handed out. */
  takeUnpersisted(): Entry[] {
    const from = this.inProgress + 1 - this.offset;
    if (from >= this.tail.length) return [];
    const out = from <= 0 ? this.tail.slice() : this.tail.slice(from);
    this.inProgress = this.lastIndex();
    return out;
  }

  hasUnpersisted(): boolean {
    return this.inProgress < this.lastIndex() || (this.pendingSnapshot !== null && !this.pendingSnapshotHandedOut);
  }

  /** The snapshot to hand out, if it was not handed out yet. */
  takePendingSnapshot(): SnapshotMetadata | undefined {
    if (this.pendingSnapshot === null || this.pendingSnapshotHandedOut) return undefined;
    this.pendingSnapshotHandedOut = true;
    return this.pendingSnapshot;
  }

  /** The entries up to (index, term) are durable. Ignored if the log changed under them since. */
  stableTo(index: number, term: number): void {
    if (index < this.offset || index > this.lastIndex()) return;
    if (this.tail[index - this.offset]!.term !== term) return;
    this.tail = this.tail.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  stableSnapshotTo(index: number): void {
    if (this.pendingSnapshot !== null && this.pendingSnapshot.index === index && this.pendingSnapshotHandedOut) {
      this.pendingSnapshot = null;
      this.pendingSnapshotHandedOut = false;
    }
  }

  /** Replace the whole log by a snapshot (InstallSnapshot receiver, thesis §5.1 step 6-8). */
  restore(snapshot: SnapshotMetadata): void {
    assert(snapshot.index > this.committed, 'restoring a snapshot that is not ahead of the commit index');
    this.pendingSnapshot = snapshot;
    this.pendingSnapshotHandedOut = false;
    this.offset = snapshot.index + 1;
    this.tail = [];
    this.inProgress = snapshot.index;
    this.committed = snapshot.index;
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), `commit ${index} past last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  hasCommittedToApply(): boolean {
    return this.committed > this.applying && (this.pendingSnapshot === null || this.pendingSnapshotHandedOut);
  }

  /**
   * Committed entries not yet handed out for applying, bounded by `bytesMax`;
   * marks them handed out. With `stopBeforeConfChange`, stops before the
   * first membership change entry (those take effect in advance(), so they
   * only travel in a Ready).
   */
  takeCommitted(bytesMax: number, stopBeforeConfChange = false): Entry[] {
    if (!this.hasCommittedToApply()) return [];
    const lo = this.applying + 1;
    const all = this.slice(lo, this.committed + 1, bytesMax);
    let n = all.length;
    if (stopBeforeConfChange) {
      n = 0;
      while (n < all.length && all[n]!.type !== EntryType.ConfChange) n++;
    }
    this.applying = lo + n - 1;
    return n === all.length ? all : all.slice(0, n);
  }

  /** Called when a snapshot is handed out: the state machine will jump to it. */
  skipApplyingTo(index: number): void {
    if (index > this.applying) this.applying = index;
  }

  appliedTo(index: number): void {
    if (index > this.applied) this.applied = index;
  }
}
