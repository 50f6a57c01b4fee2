/**
 * An in-memory `Storage` with the write methods a host needs (for tests, the
 * benchmark and the simulator). It stands for what is durable: a simulated
 * crash keeps exactly what was written here.
 */
import { assert } from '../common/errors.js';
import { bootstrapState } from './bootstrap.js';
import {
  LogCompactedError,
  LogUnavailableError,
  SnapshotUnavailableError,
  type SnapshotChunk,
  type Storage,
} from './storage.js';
import { emptyConfState, emptyHardState, type ConfState, type Entry, type HardState, type NodeId, type SnapshotMetadata } from './types.js';

export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState;
  private snapshotMeta: SnapshotMetadata = { index: 0, term: 0, conf: emptyConfState };
  private snapshotData: Uint8Array = new Uint8Array(0);
  /** Index and term of the last discarded entry (the log starts after it); at or below the snapshot index. */
  private logStartIndex = 0;
  private logStartTerm = 0;
  /** Entries after the compaction point: log[i] has index logStartIndex + 1 + i. */
  private log: Entry[] = [];

  /** Storage for an initial member of a new cluster (see bootstrap.ts). */
  static bootstrap(voters: readonly NodeId[], learners: readonly NodeId[] = []): MemoryStorage {
    const s = new MemoryStorage();
    const { entries, hardState } = bootstrapState(voters, learners);
    s.append(entries);
    s.setHardState(hardState);
    return s;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snapshotMeta.conf };
  }

  entries(lo: number, hi: number, bytesMax: number): Entry[] {
    const first = this.firstIndex();
    if (lo < first) throw new LogCompactedError(lo, first);
    if (hi > this.lastIndex() + 1) throw new LogUnavailableError(hi - 1, this.lastIndex());
    if (lo >= hi) return [];
    const base = this.logStartIndex + 1;
    let bytes = 0;
    let end = lo;
    while (end < hi) {
      bytes += this.log[end - base]!.data.length;
      if (bytes > bytesMax && end > lo) break;
      end++;
    }
    return this.log.slice(lo - base, end - base);
  }

  term(index: number): number {
    const start = this.logStartIndex;
    if (index === start) return this.logStartTerm;
    if (index < start) throw new LogCompactedError(index, start + 1);
    const e = this.log[index - start - 1];
    if (e === undefined) throw new LogUnavailableError(index, this.lastIndex());
    return e.term;
  }

  firstIndex(): number {
    return this.logStartIndex + 1;
  }

  lastIndex(): number {
    return this.logStartIndex + this.log.length;
  }

  snapshotMetadata(): SnapshotMetadata {
    return this.snapshotMeta;
  }

  snapshotChunk(index: number, offset: number, bytesMax: number): SnapshotChunk {
    if (index !== this.snapshotMeta.index) throw new SnapshotUnavailableError(index);
    assert(offset >= 0 && offset <= this.snapshotData.length, `snapshot offset ${offset} out of range`);
    const end = Math.min(this.snapshotData.length, offset + bytesMax);
    return { data: this.snapshotData.subarray(offset, end), done: end === this.snapshotData.length };
  }

  // ---------------------------------------------------------------- writes

  /** Append entries; an entry at or below the last index replaces that suffix (Ready.entries contract). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    assert(first > this.logStartIndex, `append at ${first} is inside the compacted log (first index ${this.logStartIndex + 1})`);
    assert(first <= this.lastIndex() + 1, `append at ${first} leaves a gap after ${this.lastIndex()}`);
    const keep = first - this.logStartIndex - 1;
    if (keep < this.log.length) this.log.length = keep;
    for (let i = 0; i < entries.length; i++) this.log.push(entries[i]!);
  }

  setHardState(hardState: HardState): void {
    this.hardState = hardState;
  }

  hardStateNow(): HardState {
    return this.hardState;
  }

  /** Install a snapshot (Ready.snapshot with its received bytes): the log is reset to start after it. */
  applySnapshot(meta: SnapshotMetadata, data: Uint8Array): void {
    this.snapshotMeta = meta;
    this.snapshotData = data;
    this.logStartIndex = meta.index;
    this.logStartTerm = meta.term;
    this.log = [];
  }

  /**
   * The host took a snapshot of its state machine at `index` (<= applied):
   * record it with its membership. The log is kept; see `compact`.
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): void {
    assert(index > this.snapshotMeta.index, `snapshot at ${index} is not newer than ${this.snapshotMeta.index}`);
    assert(index <= this.lastIndex(), `snapshot at ${index} is past the last index ${this.lastIndex()}`);
    this.snapshotMeta = { index, term: this.term(index), conf };
    this.snapshotData = data;
  }

  /**
   * Discard the entries up to `index`, which must be covered by the latest
   * snapshot (a follower that needs them then gets the snapshot instead).
   */
  compact(index: number): void {
    if (index <= this.logStartIndex) return;
    assert(index <= this.snapshotMeta.index, `compacting to ${index} past the snapshot at ${this.snapshotMeta.index}`);
    const term = this.term(index);
    this.log = this.log.slice(index - this.logStartIndex);
    this.logStartIndex = index;
    this.logStartTerm = term;
  }

  /** The snapshot's contents (for a host restoring its state machine). */
  snapshotBytes(): Uint8Array {
    return this.snapshotData;
  }

  /** Copy of everything durable (the simulator's disk image after a crash). */
  clone(): MemoryStorage {
    const s = new MemoryStorage();
    s.hardState = this.hardState;
    s.snapshotMeta = this.snapshotMeta;
    s.snapshotData = this.snapshotData;
    s.logStartIndex = this.logStartIndex;
    s.logStartTerm = this.logStartTerm;
    s.log = this.log.slice();
    return s;
  }
}
