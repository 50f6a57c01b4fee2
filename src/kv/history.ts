/**
 * The revision history that watches read: for every store revision above the
 * compaction point, the events of the change that took it (etcd's model: a
 * put or delete per key, with the key's previous entry).
 *
 * Recorded by diffing, not by instrumenting every writer: while one command
 * applies, the recorder notes the first previous entry of each key the key
 * tree is asked to set or delete (the tree's own set/delete, so writes,
 * transactions, lease revokes and expiries are all covered), and when the
 * command took a revision the events are the keys whose final entry differs
 * from their first one, in the order they were first touched. A transaction
 * that undid its own writes (txn.ts rolls back on a budget refusal) therefore
 * records nothing, and a revision's events are exactly its net effect.
 *
 * Bounded two ways, both named: `historyRevisionsMax` revisions and
 * `historyBytesMax` bytes of keys and values (entries are shared with the key
 * tree, but an overwritten value stays alive only through the history, so
 * those are the bytes it holds). Past either bound the oldest revisions go,
 * which moves the compaction point up as an explicit `compact` would.
 * Compaction drops records from the head at once: the memory is free for the
 * garbage collector immediately, there is no defragmentation step.
 *
 * Not in snapshots: a member restored from a snapshot (installed from the
 * leader, or its own at restart) keeps history only from the snapshot's
 * revision on, and answers a watch from below it with CompactedError naming
 * that floor (docs/watch.md, "Compaction"); the client then resumes on
 * another member or reports the error. The snapshot carries the replicated
 * compaction revision, so no member ever serves a compacted revision.
 */
import type { BinaryString } from './bytes.js';
import { EMPTY_VALUE } from './key-writes.js';
import { StoredEntry, type KeyTree } from './key-tree.js';

export const WatchEventType = { Put: 'put', Delete: 'delete' } as const;
export type WatchEventType = (typeof WatchEventType)[keyof typeof WatchEventType];

/** One key's change in one revision. A delete's `kv` has the key, an empty value, version 0 and the delete's modRevision. */
export interface HistoryEvent {
  readonly type: WatchEventType;
  readonly kv: StoredEntry;
  /** The key's entry before this revision; null when the key did not exist. */
  readonly prevKv: StoredEntry | null;
}

/** Every event of one revision, and the entry time it was applied at. */
export interface RevisionRecord {
  readonly revision: number;
  readonly timeMs: number;
  readonly events: readonly HistoryEvent[];
  /** Bytes of keys and values this record holds (for historyBytesMax). */
  readonly bytes: number;
}

export interface HistoryBounds {
  /** Most revisions kept; the oldest go first. */
  readonly historyRevisionsMax: number;
  /** Most bytes of keys and values (kv and prevKv) kept. */
  readonly historyBytesMax: number;
}

/** Records kept before the dropped head of the array is cut off (amortizes the shift). */
const HEAD_SLACK_RECORDS = 1024;

export class RevisionHistory {
  private records: RevisionRecord[] = [];
  /** Index of the oldest live record in `records`. */
  private head = 0;
  private heldBytes = 0;
  /** Every revision <= this is gone (compacted, or below a restored snapshot). */
  private floor = 0;
  /** The replicated compaction point (compact commands, or a restored snapshot's): the same on every member. */
  private compacted = 0;
  /** Called after each recorded revision (the server's watch hub); may not throw. */
  onRecord: ((record: RevisionRecord) => void) | null = null;
  /** Called after a reset (a restore): every cursor into the old history must be checked against the new floor. */
  onReset: (() => void) | null = null;

  constructor(private readonly bounds: HistoryBounds) {}

  /** Revisions <= this are no longer available: a watch from them gets CompactedError. */
  get compactRevision(): number {
    return this.floor;
  }

  /** Number of revisions held. */
  get size(): number {
    return this.records.length - this.head;
  }

  /** Bytes of keys and values held. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** The newest revision held, or the floor when none is. */
  get lastRevision(): number {
    return this.size === 0 ? this.floor : this.records[this.records.length - 1]!.revision;
  }

  /**
   * The cluster's compaction point. The floor is above it when this member
   * restarted or was restored from a snapshot (which carries no history), or
   * its own bounds dropped revisions: another member may still hold the
   * revisions between the two.
   */
  get clusterCompactRevision(): number {
    return this.compacted;
  }

  /** Appends the events of `revision` (which must be above every held one) and applies the bounds. */
  record(revision: number, timeMs: number, events: readonly HistoryEvent[]): void {
    let bytes = 0;
    for (const e of events) bytes += entryBytes(e.kv) + (e.prevKv === null ? 0 : entryBytes(e.prevKv));
    const record: RevisionRecord = { revision, timeMs, events, bytes };
    this.records.push(record);
    this.heldBytes += bytes;
    while (this.size > 1 && (this.size > this.bounds.historyRevisionsMax || this.heldBytes > this.bounds.historyBytesMax)) {
      this.dropHead();
    }
    this.onRecord?.(record);
  }

  /** Drops every revision <= `revision` (idempotent: a lower revision than the floor changes nothing). */
  compact(revision: number): void {
    if (revision <= this.floor) return;
    while (this.size > 0 && this.records[this.head]!.revision <= revision) this.dropHead();
    this.floor = Math.max(this.floor, revision);
    this.compacted = Math.max(this.compacted, revision);
    this.trimHead();
  }

  /**
   * Forgets everything and starts again above `revision` (a restore: the
   * snapshot carries no history); `compactRevision` is the snapshot's
   * replicated compaction point.
   */
  reset(revision: number, compactRevision: number): void {
    this.records = [];
    this.head = 0;
    this.heldBytes = 0;
    this.floor = revision;
    this.compacted = compactRevision;
    this.onReset?.();
  }

  /** The oldest revision held with revision >= `from`, as an index for `at`, or -1 when there is none. */
  indexFrom(from: number): number {
    let lo = this.head;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.records[mid]!.revision < from) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.records.length ? lo - this.head : -1;
  }

  /** The record at position `i` (0 = oldest held). */
  at(i: number): RevisionRecord | undefined {
    return this.records[this.head + i];
  }

  /** Records with revision in [from, to], oldest first (for tests and small reads). */
  range(from: number, to = Infinity): RevisionRecord[] {
    const out: RevisionRecord[] = [];
    const start = this.indexFrom(from);
    if (start < 0) return out;
    for (let i = start; i < this.size; i++) {
      const r = this.at(i)!;
      if (r.revision > to) break;
      out.push(r);
    }
    return out;
  }

  private dropHead(): void {
    const dropped = this.records[this.head]!;
    // The slot is cleared at once, so its entries are collectable before the array is cut.
    (this.records as (RevisionRecord | undefined)[])[this.head] = undefined;
    this.head++;
    this.heldBytes -= dropped.bytes;
    this.floor = Math.max(this.floor, dropped.revision);
    this.trimHead();
  }

  private trimHead(): void {
    if (this.head >= HEAD_SLACK_RECORDS && this.head * 2 >= this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
  }
}

function entryBytes(e: StoredEntry): number {
  return e.keyString.length + e.value.length;
}

/**
 * Notes the keys one command touches in the key tree (see the header
 * comment): installed once on each live tree, it wraps that instance's set
 * and delete. Clones (snapshots) are plain trees and are not recorded.
 */
export class ChangeRecorder {
  /** First previous entry of each key touched by the command being applied (undefined: absent). */
  private readonly touched = new Map<BinaryString, StoredEntry | undefined>();

  /**
   * Wraps `tree`'s set and editRange so that they report here first. The
   * tree's delete (and every other edit) goes through editRange, whose
   * callback sees each entry before it is changed: no extra lookup.
   */
  attach(tree: KeyTree): void {
    const touched = this.touched;
    const set = tree.set;
    const editRange = tree.editRange;
    type OnFound = Parameters<KeyTree['editRange']>[3];
    let inner: OnFound | null = null;
    const noting: OnFound = (key, value, counter) => {
      if (!touched.has(key)) touched.set(key, value);
      return inner!(key, value, counter);
    };
    tree.set = function (key: BinaryString, value: StoredEntry, overwrite?: boolean): boolean {
      if (!touched.has(key)) touched.set(key, this.get(key));
      return set.call(this, key, value, overwrite);
    };
    tree.editRange = function (this: KeyTree, low: BinaryString, high: BinaryString, includeHigh: boolean, onFound: OnFound, initialCounter?: number) {
      const outer = inner;
      inner = onFound;
      try {
        return editRange.call(this, low, high, includeHigh, noting, initialCounter);
      } finally {
        inner = outer;
      }
    } as KeyTree['editRange'];
  }

  /** The net events on `tree` since the last call, as of `revision`; clears the notes. */
  take(tree: KeyTree, revision: number): HistoryEvent[] {
    const events: HistoryEvent[] = [];
    for (const [key, previous] of this.touched) {
      const current = tree.get(key);
      if (current === previous) continue;
      if (current !== undefined) events.push({ type: WatchEventType.Put, kv: current, prevKv: previous ?? null });
      else events.push({ type: WatchEventType.Delete, kv: new StoredEntry(key, EMPTY_VALUE, 0, 0, revision), prevKv: previous! });
    }
    this.touched.clear();
    return events;
  }

  /** Forgets the notes (a command that took no revision). */
  clear(): void {
    if (this.touched.size > 0) this.touched.clear();
  }
}
