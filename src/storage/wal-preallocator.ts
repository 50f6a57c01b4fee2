/**
 * Keeps zero-filled, synced space ahead of the active segment's write
 * position, so that a WAL flush overwrites blocks the file already has
 * instead of extending it.
 *
 * Why: a flush that extends the file changes its size and block allocation,
 * so its fdatasync must also write the inode (and, on a journaling file system, a journal commit). Measured on
 * ext4 (4 KiB write + fdatasync): appending costs ~355 µs wall and ~108 µs of
 * system CPU, overwriting space that was already written and synced ~277 µs
 * and ~57 µs. Every member of the cluster does one fdatasync per batch, on 2
 * cores, and a lone client's put latency is mostly fdatasync. Node has no
 * fallocate, and a sparse ftruncate does not help (the blocks are still
 * allocated by the flush that writes them: measured the same cost as
 * appending), so the space is written with zeros.
 *
 * Design. Chosen over etcd's pipeline (a whole next segment prepared in the
 * background) because it also covers the first segment, a segment reopened
 * after recovery, and small segment sizes, and never writes a whole segment
 * of zeros up front:
 * - After each flush, if fewer than `chunkBytes` zeros lie ahead of the write
 *   position, ONE write of `chunkBytes` zeros at the end of the file starts in
 *   the background (capped at segmentBytesMax: zeros past the rollover point
 *   would never be used). With the default 1 MiB that write is above
 *   NodeDisk's inline limit, so it runs on the libuv threadpool and the event
 *   loop never copies it. So the lead stays between 0 and 2 chunks.
 * - The zeros have no fdatasync of their own: the next flush's fdatasync
 *   (which covers the whole file) makes them durable. Exactly one caller ever
 *   fdatasyncs the WAL file, so an fdatasync error (reported once per file
 *   description, "fsyncgate") always reaches the flush that would otherwise
 *   have acknowledged the lost data. That flush pays for writing the chunk
 *   back: one slower fdatasync per chunk, instead of an inode write on every one.
 * - A flush that must extend the file anyway (a new segment, a flush larger
 *   than the lead) carries `padBytes` of zeros in its own write (see
 *   WalWriter), so the flushes after it have synced room while the background
 *   chunk is written.
 * - A flush never waits for this, except when it would write into the range a
 *   zero write in flight is still writing (only a flush larger than the lead).
 * - Write amplification, bounded: every byte of a segment is handed to the
 *   kernel at most twice (once as zeros, once as a record), so at most 2x the
 *   bytes of appending, and no extra fdatasync. Zeros on disk beyond the last
 *   record: fewer than 2 x chunkBytes + padBytes in the active segment; an
 *   older segment keeps less than one flush of them (zeros never go past
 *   segmentBytesMax, and a segment rolls over when the next flush would).
 *
 * Recovery reads a zero header followed by nothing but zeros as the end of a
 * segment's records (wal-recovery.ts).
 */
import type { Logger } from '../common/logger.js';
import type { Segment } from './wal-segment.js';

/** Zeros a flush that extends the file adds to its own write (see WalWriter). */
export const extendingFlushPadBytesMax = 64 * 1024;

/** Shared read-only zeros for those pads (never written to). */
export const zeroPad: Buffer = Buffer.alloc(extendingFlushPadBytesMax);

/** Zeros a flush ending at `end` that extends the file anyway adds to its write (0 when preallocation is off). */
export function extendingFlushPadBytes(chunkBytes: number, segmentBytesMax: number, end: number): number {
  if (chunkBytes <= 0) return 0;
  return Math.max(0, Math.min(extendingFlushPadBytesMax, chunkBytes, segmentBytesMax - end));
}

/** Fills end on a page boundary, so that extents stay page aligned. */
const fillAlignBytes = 4096;

interface Fill {
  readonly segment: Segment;
  readonly from: number;
  readonly to: number;
  readonly done: Promise<void>;
}

export class WalPreallocator {
  private inFlight: Fill | null = null;
  private failureCause: unknown = null;
  /** Read-only zeros, allocated at the first fill. */
  private zeros: Buffer | null = null;

  constructor(
    private readonly options: {
      /** Bytes of one background zero write; 0 turns preallocation off. */
      readonly chunkBytes: number;
      readonly segmentBytesMax: number;
      readonly logger: Logger;
      /** Counts the zero bytes written. */
      readonly stats: { preallocatedBytes: number };
      /** Called once when a zero write fails: the writer poisons the log. */
      readonly onFailure: (cause: unknown) => void;
    },
  ) {}

  /** The error of a failed zero write, or null. */
  get failure(): unknown {
    return this.failureCause;
  }

  /** Zeros a flush ending at `end` that extends the file should add to its write. */
  padBytesFor(end: number): number {
    return extendingFlushPadBytes(this.options.chunkBytes, this.options.segmentBytesMax, end);
  }

  /**
   * Starts a background zero write at the end of `segment` if fewer than a
   * chunk of zeros lie ahead of its write position and none is in flight.
   * Never waits. Called only from the writer's flush loop, so it never races
   * a flush's choice of where to write.
   */
  maybeStart(segment: Segment): void {
    const chunk = this.options.chunkBytes;
    if (chunk === 0 || this.inFlight !== null || this.failureCause !== null) return;
    if (segment.fileBytes - segment.size >= chunk) return;
    const from = segment.fileBytes;
    const to = Math.min(Math.ceil((from + chunk) / fillAlignBytes) * fillAlignBytes, this.options.segmentBytesMax);
    if (to <= from) return;
    if (this.zeros === null) this.zeros = Buffer.alloc(chunk + fillAlignBytes);
    const zeros = this.zeros.subarray(0, to - from);
    const done = (async () => {
      try {
        await segment.file.writev([zeros], from);
        // Written (not yet durable): the next flush's fdatasync covers it.
        segment.fileBytes = Math.max(segment.fileBytes, to);
        this.options.stats.preallocatedBytes += to - from;
      } catch (error) {
        this.failureCause = error;
        this.options.logger.error(
          { err: error, file: segment.path, offset: from, bytes: to - from },
          'preallocating WAL space failed',
        );
        this.options.onFailure(error);
      } finally {
        this.inFlight = null;
      }
    })();
    this.inFlight = { segment, from, to, done };
  }

  /**
   * The zero write in flight if it overlaps [from, to) of `segment` (where a
   * flush is about to write: it must wait for it), else null (no await, so no
   * extra turn on the common path).
   */
  overlapping(segment: Segment, from: number, to: number): Promise<void> | null {
    const fill = this.inFlight;
    return fill !== null && fill.segment === segment && from < fill.to && to > fill.from ? fill.done : null;
  }

  /** Waits for any zero write in flight (before its segment is left behind or closed). */
  async settle(): Promise<void> {
    await this.inFlight?.done;
  }
}
