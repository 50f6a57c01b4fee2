/**
 * The in-memory index of the log: for every entry after the base (the latest
 * snapshot, or the first frame of the oldest segment still on disk), its term
 * and where its record lives (segment sequence and byte offset; -1 while the
 * record is waiting to be written). Terms are all in memory, so `term(i)`
 * never touches the disk.
 *
 * Chunked typed arrays with a moving head: appends are the hot path
 * (hundreds of thousands per second) and never copy; compaction drops a
 * prefix of whole chunks.
 *
 * The same class replays the WAL on start and tracks appends afterwards, so
 * recovery and the live path apply the same rules.
 */
import { assert } from '../common/errors.js';

export const unwrittenOffset = -1;
/** Entries per chunk: growth allocates a new chunk (no copying), compaction drops whole chunks. */
const chunkShift = 14;
const chunkEntries = 1 << chunkShift;
const chunkMask = chunkEntries - 1;

interface Chunk {
  readonly terms: Float64Array;
  readonly segments: Float64Array;
  readonly offsets: Float64Array;
}

function newChunk(): Chunk {
  return {
    terms: new Float64Array(chunkEntries),
    segments: new Float64Array(chunkEntries),
    offsets: new Float64Array(chunkEntries),
  };
}

export class LogIndex {
  baseIndex = 0;
  baseTerm = 0;
  private chunks: Chunk[] = [];
  /** Slot (across chunks) of entry baseIndex + 1. */
  private head = 0;
  private count = 0;

  lastIndex(): number {
    return this.baseIndex + this.count;
  }

  lastTerm(): number {
    return this.count === 0 ? this.baseTerm : this.slotChunk(this.head + this.count - 1).terms[(this.head + this.count - 1) & chunkMask]!;
  }

  /** Term of `index`, which must be in [baseIndex, lastIndex]. */
  term(index: number): number {
    if (index === this.baseIndex) return this.baseTerm;
    const i = index - this.baseIndex - 1;
    if (i < 0 || i >= this.count) assert(false, `term(${index}) outside (${this.baseIndex}, ${this.lastIndex()}]`);
    const slot = this.head + i;
    return this.slotChunk(slot).terms[slot & chunkMask]!;
  }

  /** True when the log has `index` with `term` (the base counts: Raft §5.3 log matching). */
  matches(index: number, term: number): boolean {
    return index >= this.baseIndex && index <= this.lastIndex() && this.term(index) === term;
  }

  location(index: number): { segment: number; offset: number } {
    const slot = this.head + index - this.baseIndex - 1;
    const chunk = this.slotChunk(slot);
    return { segment: chunk.segments[slot & chunkMask]!, offset: chunk.offsets[slot & chunkMask]! };
  }

  setLocation(index: number, segment: number, offset: number): void {
    const slot = this.head + index - this.baseIndex - 1;
    const chunk = this.slotChunk(slot);
    chunk.segments[slot & chunkMask] = segment;
    chunk.offsets[slot & chunkMask] = offset;
  }

  isWritten(index: number): boolean {
    const slot = this.head + index - this.baseIndex - 1;
    return this.slotChunk(slot).offsets[slot & chunkMask] !== unwrittenOffset;
  }

  /**
   * Appends `index`, first dropping a conflicting suffix (Raft §5.3: a
   * follower deletes an existing entry that conflicts with a new one, and all
   * that follow it). Caller checks baseIndex < index <= lastIndex() + 1.
   */
  append(index: number, term: number, segment: number, offset: number): void {
    if (index <= this.baseIndex || index > this.lastIndex() + 1) {
      assert(false, `append ${index} to (${this.baseIndex}, ${this.lastIndex()}]`);
    }
    if (index <= this.lastIndex()) this.truncateAfter(index - 1);
    const slot = this.head + this.count;
    if (slot >>> chunkShift === this.chunks.length) this.chunks.push(newChunk());
    const chunk = this.slotChunk(slot);
    chunk.terms[slot & chunkMask] = term;
    chunk.segments[slot & chunkMask] = segment;
    chunk.offsets[slot & chunkMask] = offset;
    this.count++;
  }

  /** Drops entries after `index` (>= baseIndex). */
  truncateAfter(index: number): void {
    const keep = index - this.baseIndex;
    assert(keep >= 0, `truncate after ${index} below base ${this.baseIndex}`);
    this.count = Math.min(this.count, keep);
  }

  /** Makes (index, term) the base: entries up to it are dropped (all of them if index >= lastIndex). */
  rebase(index: number, term: number): void {
    if (index >= this.lastIndex()) {
      this.chunks = [];
      this.head = 0;
      this.count = 0;
    } else if (index > this.baseIndex) {
      const drop = index - this.baseIndex;
      this.head += drop;
      this.count -= drop;
      const emptyChunks = this.head >>> chunkShift;
      if (emptyChunks > 0) {
        this.chunks.splice(0, emptyChunks);
        this.head &= chunkMask;
      }
    } else {
      // A base below the current one (replay of an older frame): nothing to drop.
      assert(index === this.baseIndex || this.count === 0, `rebase to ${index} below base ${this.baseIndex}`);
    }
    this.baseIndex = index;
    this.baseTerm = term;
  }

  /**
   * Adopts a snapshot (Raft §7): if the log has the snapshot's last entry
   * (same index and term), the entries after it are kept; otherwise the whole
   * log is discarded. Returns whether the suffix was kept.
   */
  adoptSnapshot(index: number, term: number): boolean {
    const keep = this.matches(index, term);
    if (!keep) this.truncateAfter(this.baseIndex);
    this.rebase(index, term);
    return keep;
  }

  private slotChunk(slot: number): Chunk {
    return this.chunks[slot >>> chunkShift]!;
  }
}
