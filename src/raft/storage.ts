/**
 * The narrow, read-only view of persisted state that the Raft core reads
 * through. The core never writes: the host persists what a `Ready` hands out
 * (entries, hard state, snapshots) into its concrete storage, and only then
 * calls `advance()`. Reads are synchronous on purpose: the core is a pure,
 * synchronous state machine (etcd's raft makes the same choice), and a good
 * implementation serves recent entries from memory (see src/storage).
 */
import { ConcordError, ConcordErrorCode } from '../common/errors.js';
import type { ConfState, Entry, HardState, SnapshotMetadata } from './types.js';

/** The requested index is at or below the latest snapshot: those entries are gone. */
export class LogCompactedError extends ConcordError {
  constructor(readonly index: number, readonly firstIndex: number) {
    super(ConcordErrorCode.LogCompacted, `log entry ${index} was compacted (first available index is ${firstIndex})`);
  }
}

/** The requested index is past the end of the log. */
export class LogUnavailableError extends ConcordError {
  constructor(readonly index: number, readonly lastIndex: number) {
    super(ConcordErrorCode.LogUnavailable, `log entry ${index} does not exist (last index is ${lastIndex})`);
  }
}

/** The snapshot asked for is no longer the latest one (a newer snapshot replaced it); start over with the latest. */
export class SnapshotUnavailableError extends ConcordError {
  constructor(readonly index: number) {
    super(ConcordErrorCode.SnapshotUnavailable, `snapshot at index ${index} is not available`);
  }
}

export interface SnapshotChunk {
  readonly data: Uint8Array;
  /** True when `data` ends the snapshot. */
  readonly done: boolean;
}

export interface Storage {
  /** The persisted hard state and membership, read once when the core starts. */
  initialState(): { hardState: HardState; confState: ConfState };

  /**
   * Entries with indexes in [lo, hi), in order. Stops early once the sum of
   * `data` lengths would exceed `bytesMax`, but always returns at least one
   * entry when lo < hi. Throws LogCompactedError if lo < firstIndex(),
   * LogUnavailableError if hi > lastIndex() + 1.
   */
  entries(lo: number, hi: number, bytesMax: number): Entry[];

  /**
   * Term of the entry at `index`. `index` may be firstIndex() - 1 (the
   * snapshot's last included index: its term comes from the snapshot
   * metadata). Throws LogCompactedError below that, LogUnavailableError above
   * lastIndex().
   */
  term(index: number): number;

  /** Index of the first entry still in the log: latest snapshot index + 1 (1 for a fresh log). */
  firstIndex(): number;

  /** Index of the last entry, or the snapshot index when the log after it is empty (0 for a fresh log). */
  lastIndex(): number;

  /** Metadata of the latest snapshot; index 0 and term 0 when there is none. */
  snapshotMetadata(): SnapshotMetadata;

  /**
   * Up to `bytesMax` bytes from `offset` of the snapshot at `index`, for
   * InstallSnapshot: the latest, or an older one the host still holds for a
   * transfer (see RaftNode.snapshotTransfers). Throws SnapshotUnavailableError
   * when it has neither.
   */
  snapshotChunk(index: number, offset: number, bytesMax: number): SnapshotChunk;
}
