/**
 * One simulated node's disk: everything that survives a crash. It implements
 * the core's read-only `Storage` interface directly, so the core reads
 * exactly what is durable, nothing more. The host writes to it only when a
 * simulated fsync completes (`writeBatch`), and when it takes a snapshot of
 * its state machine (`createSnapshot`, which also compacts the log).
 *
 * Writes that were in flight when the node crashed are simply never applied
 * here (or, if the run says the OS flushed them anyway, applied whole).
 */
import type { IncomingSnapshotChunk } from '../../src/raft/ready.js';
import {
  LogCompactedError,
  LogUnavailableError,
  SnapshotUnavailableError,
  type SnapshotChunk,
  type Storage,
} from '../../src/raft/storage.js';
import { bootstrapState } from '../../src/raft/bootstrap.js';
import type { ConfState, Entry, HardState, NodeId, SnapshotMetadata } from '../../src/raft/types.js';
import { emptyConfState, emptyHardState } from '../../src/raft/types.js';

/** What one Ready asks to make durable (Ready fields 2a-2d). */
export interface PersistBatch {
  readonly snapshotChunks: readonly IncomingSnapshotChunk[];
  readonly snapshot: SnapshotMetadata | undefined;
  readonly entries: readonly Entry[];
  readonly hardState: HardState | undefined;
}

export function isEmptyBatch(b: PersistBatch): boolean {
  return b.snapshotChunks.length === 0 && b.snapshot === undefined && b.entries.length === 0 && b.hardState === undefined;
}

interface PendingSnapshotFile {
  readonly index: number;
  readonly term: number;
  data: Uint8Array;
  complete: boolean;
}

/** Bound on completed-but-not-installed snapshot files kept at once. */
const completedSnapshotFilesMax = 4;

/** Bound on one snapshot file, so a runaway chunk stream fails loudly instead of eating memory. */
const snapshotBytesMax = 1 << 20;

export class SimDisk implements Storage {
  private hard: HardState = emptyHardState;
  private snapData: Uint8Array = new Uint8Array(0);
  /** Entries snapMeta.index+1 .. lastIndex. */
  private log: Entry[] = [];
  /** The incoming snapshot file being written (at most one partial file). */
  private pending: PendingSnapshotFile | null = null;
  /**
   * Incoming snapshot files that were completed but not installed yet. The Ready contract
   * discards only *partial* files when a new one starts, so a completed file must survive a
   * later chunk at offset 0 of another snapshot in the same Ready.
   */
  private completed: PendingSnapshotFile[] = [];
  fsyncs = 0;

  private snapMeta: SnapshotMetadata = { index: 0, term: 0, conf: emptyConfState };

  /** The disk of an initial member of a new cluster: the core's bootstrap entry and hard state. */
  static bootstrap(voters: readonly NodeId[]): SimDisk {
    const disk = new SimDisk();
    const { entries, hardState } = bootstrapState(voters);
    disk.writeBatch({ snapshotChunks: [], snapshot: undefined, entries, hardState });
    disk.fsyncs = 0;
    return disk;
  }

  // ---- Storage (read side, used by the core) ----

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hard, confState: this.snapMeta.conf };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new LogCompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new LogUnavailableError(hi - 1, this.lastIndex());
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.log[i - this.snapMeta.index - 1] as Entry;
      bytes += e.data.length;
      if (bytes > maxBytes && out.length > 0) break;
      out.push(e);
    }
    return out;
  }

  term(index: number): number {
    if (index === this.snapMeta.index) return this.snapMeta.term;
    if (index < this.snapMeta.index) throw new LogCompactedError(index, this.firstIndex());
    const e = this.log[index - this.snapMeta.index - 1];
    if (e === undefined) throw new LogUnavailableError(index, this.lastIndex());
    return e.term;
  }

  firstIndex(): number {
    return this.snapMeta.index + 1;
  }

  lastIndex(): number {
    return this.snapMeta.index + this.log.length;
  }

  snapshotMetadata(): SnapshotMetadata {
    return this.snapMeta;
  }

  snapshotChunk(index: number, offset: number, maxBytes: number): SnapshotChunk {
    if (index !== this.snapMeta.index) throw new SnapshotUnavailableError(index);
    if (offset < 0 || offset > this.snapData.length) throw new RangeError(`snapshot offset ${offset} outside [0, ${this.snapData.length}]`);
    const end = Math.min(this.snapData.length, offset + maxBytes);
    return { data: this.snapData.slice(offset, end), done: end === this.snapData.length };
  }

  // ---- host side ----

  hardState(): HardState {
    return this.hard;
  }

  snapshotData(): Uint8Array {
    return this.snapData;
  }

  /** Entries after the snapshot, for rebuilding views after a restart. */
  logEntries(): readonly Entry[] {
    return this.log;
  }

  /** Make one Ready's persistence durable, in the Ready's documented order (2a, 2b, 2c, 2d). */
  writeBatch(batch: PersistBatch): void {
    for (const chunk of batch.snapshotChunks) this.writeChunk(chunk);
    if (batch.snapshot) this.installSnapshot(batch.snapshot);
    if (batch.entries.length > 0) this.appendEntries(batch.entries);
    if (batch.hardState) this.hard = batch.hardState;
    this.fsyncs++;
  }

  private writeChunk(chunk: IncomingSnapshotChunk): void {
    if (chunk.offset === 0) {
      // Offset 0 starts a new file; any other partial file is discarded (Ready.snapshotChunks).
      this.pending = { index: chunk.index, term: chunk.term, data: new Uint8Array(0), complete: false };
    }
    const p = this.pending;
    if (p === null || p.index !== chunk.index || p.term !== chunk.term || p.data.length !== chunk.offset) {
      throw new Error(
        `snapshot chunk ${chunk.index}@${chunk.term} offset ${chunk.offset} does not continue the pending file ` +
          (p === null ? '(none)' : `${p.index}@${p.term} of ${p.data.length} bytes`),
      );
    }
    if (p.data.length + chunk.data.length > snapshotBytesMax) throw new RangeError(`snapshot exceeds ${snapshotBytesMax} bytes`);
    const merged = new Uint8Array(p.data.length + chunk.data.length);
    merged.set(p.data, 0);
    merged.set(chunk.data, p.data.length);
    p.data = merged;
    if (chunk.done) {
      p.complete = true;
      this.completed = this.completed.filter((f) => f.index !== p.index || f.term !== p.term);
      this.completed.push(p);
      if (this.completed.length > completedSnapshotFilesMax) this.completed.shift(); // oldest first: never installed
      this.pending = null;
    }
  }

  private installSnapshot(meta: SnapshotMetadata): void {
    const file = this.completed.find((f) => f.index === meta.index && f.term === meta.term);
    if (file === undefined) {
      throw new Error(`installing snapshot ${meta.index}@${meta.term} without its complete pending file`);
    }
    this.snapMeta = meta;
    this.snapData = file.data;
    // Completed files at or below the installed snapshot are of no more use.
    this.completed = this.completed.filter((f) => f.index > meta.index);
    this.log = [];
  }

  private appendEntries(entries: readonly Entry[]): void {
    const first = (entries[0] as Entry).index;
    if (first <= this.snapMeta.index) throw new Error(`appending entry ${first} at or below the snapshot index ${this.snapMeta.index}`);
    if (first > this.lastIndex() + 1) throw new Error(`appending entry ${first} leaves a gap after last index ${this.lastIndex()}`);
    this.log.length = first - this.snapMeta.index - 1; // truncate a conflicting suffix (§5.3)
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k] as Entry;
      if (e.index !== first + k) throw new Error(`entries to append are not contiguous at ${e.index}`);
      this.log.push(e);
    }
  }

  /** The host took a snapshot of its state machine at `index`: store it and drop the log up to it. */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): void {
    if (index <= this.snapMeta.index) return;
    const term = this.term(index);
    this.log = this.log.slice(index - this.snapMeta.index);
    this.snapMeta = { index, term, conf };
    this.snapData = data;
  }
}
