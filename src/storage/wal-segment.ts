/**
 * One WAL segment file: wal-<sequence: 16 hex>.log. Sequences are consecutive,
 * so a missing file in the middle is visible. Each segment starts with a
 * SegmentStart record, a Frame (the log as it stood when the segment was
 * created) and the current HardState, so that the oldest segments can be
 * deleted once a snapshot covers them without losing the term and vote.
 */
import type { DiskFile } from './disk.js';

const namePattern = /^wal-([0-9a-f]{16})\.log$/;

export function segmentFileName(sequence: number): string {
  return `wal-${sequence.toString(16).padStart(16, '0')}.log`;
}

export function parseSegmentFileName(name: string): number | null {
  const m = namePattern.exec(name);
  return m ? parseInt(m[1]!, 16) : null;
}

export interface Segment {
  readonly sequence: number;
  readonly path: string;
  readonly file: DiskFile;
  /**
   * The segment's salt, repeated in each of its FlushStart records (see
   * wal-recovery.ts); null for a format-1 segment, which is never appended to.
   */
  readonly salt: number | null;
  /** Bytes of whole records: the write position of the next flush. */
  size: number;
  /**
   * Length of the file as written: records up to `size`, zeros after it (the
   * preallocated region, see WalPreallocator). Never less than `size`.
   */
  fileBytes: number;
  /**
   * Prefix of the file known to be durable, allocated and sized on disk (an
   * fdatasync returned after it was written). A flush that ends at or below
   * it only overwrites blocks the file already has, so its fdatasync need not
   * write the inode.
   */
  syncedBytes: number;
  /** Bytes of the segment's opening records (SegmentStart, Frame, HardState). */
  readonly startBytes: number;
  /** prevIndex of the segment's starting frame: the log ended here when the segment was created. */
  readonly startPrevIndex: number;
  /**
   * The lowest log position any later record in this segment reaches back to:
   * min over its entries of (index - 1) and over its other frames of
   * prevIndex. Replay from a segment j is self-contained only if no segment
   * from j on reaches below j's startPrevIndex (see WalCompaction).
   */
  lowWaterIndex: number;
}

/**
 * How many of the oldest segments can be deleted now that a snapshot covers
 * the log up to `snapshotIndex`: segments before j go if j's starting frame
 * ends at or below the snapshot (every entry they hold is in the snapshot) and
 * no record from j on reaches back below that point (so replay can start at j
 * with nothing missing). The last (active) segment is never deleted.
 */
export function deletableSegmentCount(segments: readonly Segment[], snapshotIndex: number): number {
  let best = 0;
  let lowWaterFromHere = Infinity;
  for (let j = segments.length - 1; j >= 1; j--) {
    const s = segments[j]!;
    lowWaterFromHere = Math.min(lowWaterFromHere, s.lowWaterIndex);
    if (best === 0 && s.startPrevIndex <= snapshotIndex && lowWaterFromHere >= s.startPrevIndex) best = j;
  }
  return best;
}
