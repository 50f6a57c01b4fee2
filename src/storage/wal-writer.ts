/**
 * The write side of the WAL: group commit into the active segment, segment
 * rollover, deletion of old segments, and poisoning on disk failure.
 *
 * Group commit: `submit` queues a batch of encoded records and returns a
 * promise that resolves once they are durable. One flush at a time runs:
 * every batch queued while the previous flush was in flight (or in the same
 * event-loop turn) goes out in the next flush as ONE writev and ONE
 * fdatasync, however many callers submitted. Each flush opens with a
 * FlushStart record, so recovery can tell the last (possibly torn) flush from
 * earlier, synced ones. A batch's promise therefore
 * resolves only after the fdatasync that covers its bytes has returned.
 *
 * Flushes write into zero-filled space kept ahead of the write position
 * (WalPreallocator), so that their fdatasync overwrites allocated blocks
 * instead of also writing a new file size.
 */
import * as path from 'node:path';
import type { RandomSource } from '../common/rng.js';
import type { HardState } from '../raft/types.js';
import { assert } from '../common/errors.js';
import type { Disk } from './disk.js';
import { StorageFailedError, WriteQueueFullError } from './errors.js';
import type { StorageLogger } from './logger.js';
import {
  flushStartRecordBytes,
  frameRecordBytes,
  hardStateRecordBytes,
  segmentStartRecordBytes,
  writeFlushStartRecord,
  writeFrameRecord,
  writeHardStateRecord,
  writeSegmentStartRecord,
  type FrameRecord,
} from './wal-record.js';
import { segmentFileName, type Segment } from './wal-segment.js';
import { WalPreallocator, zeroPad } from './wal-preallocator.js';

/** The log as it stands after a batch: what a new segment's starting frame records. */
export interface WalItem {
  /** Size of the item's records (0: the item only waits for what was queued before it). */
  readonly recordBytes: number;
  /**
   * Encodes the records into `target` at `at`. Called at flush time, into a
   * buffer reused from flush to flush: no allocation per append.
   */
  readonly encode: (target: Buffer, at: number) => void;
  /** Lowest log position the records reach back to (Infinity if none): see Segment.lowWaterIndex. */
  readonly lowWaterIndex: number;
  readonly frameAfter: FrameRecord;
  readonly hardStateAfter: HardState;
  /** Called once the records are durable, with where they landed. */
  readonly onDurable: (segment: number, offset: number) => void;
}

interface Queued {
  readonly item: WalItem;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export interface WalWriterOptions {
  readonly dir: string;
  readonly disk: Disk;
  readonly logger: StorageLogger;
  readonly segmentBytesMax: number;
  readonly pendingWriteBytesMax: number;
  /** Zeros kept ahead of the write position, written this many bytes at a time (0: off). See WalPreallocator. */
  readonly preallocateBytes: number;
  /** Draws each new segment's salt. */
  readonly random: RandomSource;
}

/** A new segment's salt: random, so that no value a client writes can hold a FlushStart image recovery would believe. */
export function drawSalt(random: RandomSource): number {
  return random.nextInt(0x1_0000_0000);
}

/** Bytes of a segment's start: SegmentStart, Frame and HardState records. */
export function encodeSegmentStart(sequence: number, salt: number, frame: FrameRecord, hardState: HardState): Buffer {
  const buf = Buffer.alloc(segmentStartRecordBytes + frameRecordBytes + hardStateRecordBytes(hardState));
  let at = writeSegmentStartRecord(buf, 0, sequence, salt);
  at = writeFrameRecord(buf, at, frame);
  writeHardStateRecord(buf, at, hardState);
  return buf;
}

/**
 * Creates a segment durably (file data and directory entry), optionally with
 * first records after its start, and `zeroPadBytes` zeros after those: room
 * the next flushes overwrite instead of extending the new file.
 */
export async function createSegment(
  options: { dir: string; disk: Disk },
  sequence: number,
  salt: number,
  frame: FrameRecord,
  hardState: HardState,
  records: readonly Uint8Array[] = [],
  zeroPadBytes = 0,
): Promise<Segment> {
  const filePath = path.join(options.dir, segmentFileName(sequence));
  const file = await options.disk.open(filePath, 'create-exclusive');
  try {
    const start = encodeSegmentStart(sequence, salt, frame, hardState);
    const pad = zeroPadBytes > 0 ? [zeroPad.subarray(0, zeroPadBytes)] : [];
    await file.writev([start, ...records, ...pad], 0);
    await file.datasync();
    // The new name must be durable too, or a crash could lose the whole file.
    await options.disk.fsyncDir(options.dir);
    const size = start.byteLength + records.reduce((s, r) => s + r.byteLength, 0);
    return {
      sequence,
      path: filePath,
      file,
      salt,
      size,
      fileBytes: size + zeroPadBytes,
      syncedBytes: size + zeroPadBytes,
      startBytes: start.byteLength,
      startPrevIndex: frame.prevIndex,
      lowWaterIndex: Infinity,
    };
  } catch (error) {
    await file.close().catch(() => {});
    throw error;
  }
}

export class WalWriter {
  private queue: Queued[] = [];
  private queuedBytes = 0;
  private flushing = false;
  private drained: Array<() => void> = [];
  private failureError: StorageFailedError | null = null;
  /** Reused for every flush (the kernel has copied it once writev returns). */
  private scratch = Buffer.allocUnsafe(1024 * 1024);
  private readonly preallocator: WalPreallocator;
  /**
   * Counters for metrics and tests. flushesBeyondPreallocation: flushes that
   * wrote past the synced, preallocated space (their fdatasync had to make a
   * new file size durable); preallocatedBytes: zeros written ahead.
   */
  readonly stats = { flushes: 0, items: 0, bytes: 0, rollovers: 0, flushesBeyondPreallocation: 0, preallocatedBytes: 0 };

  constructor(
    private readonly options: WalWriterOptions,
    /** Oldest first; the last one is active. */
    readonly segments: Segment[],
    /** The log as of the last durable record (for the next segment's starting frame). */
    private frameTail: FrameRecord,
    private hardStateTail: HardState,
  ) {
    this.preallocator = new WalPreallocator({
      chunkBytes: options.preallocateBytes,
      segmentBytesMax: options.segmentBytesMax,
      logger: options.logger,
      stats: this.stats,
      onFailure: (cause) => {
        // While a flush runs, the flush loop poisons the log before its next batch.
        if (!this.flushing && this.failureError === null) this.poison(cause, []);
      },
    });
  }

  get failure(): StorageFailedError | null {
    return this.failureError;
  }

  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /** Throws WriteQueueFullError if `bytes` more would exceed the bound. Call before changing state. */
  checkRoom(bytes: number): void {
    if (this.queuedBytes + bytes > this.options.pendingWriteBytesMax && this.queuedBytes > 0) {
      throw new WriteQueueFullError(this.queuedBytes + bytes, this.options.pendingWriteBytesMax);
    }
  }

  submit(item: WalItem): Promise<void> {
    if (this.failureError) return Promise.reject(this.failureError);
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.queuedBytes += item.recordBytes;
      if (!this.flushing) {
        this.flushing = true;
        // Start on a microtask, so every append made in this turn joins the first flush.
        queueMicrotask(() => void this.flushLoop());
      }
    });
  }

  /** Resolves when nothing is queued or in flight (zero writes ahead included). */
  async whenIdle(): Promise<void> {
    if (this.flushing) await new Promise<void>((resolve) => this.drained.push(resolve));
    await this.preallocator.settle();
  }

  /** Deletes the `count` oldest segments, oldest first, each deletion made durable before the next. */
  async deleteOldest(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const segment = this.segments[0];
      if (!segment || this.segments.length === 1) return;
      this.segments.shift();
      await segment.file.close();
      await this.options.disk.unlink(segment.path);
      // Durable in order: a crash must never leave a hole in the sequence.
      await this.options.disk.fsyncDir(this.options.dir);
      this.options.logger.info({ file: segment.path }, 'deleted WAL segment covered by a snapshot');
    }
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0 && this.failureError === null) {
      const batch = this.queue;
      const bytes = this.queuedBytes;
      this.queue = [];
      this.queuedBytes = 0;
      try {
        await this.writeBatch(batch, bytes);
      } catch (error) {
        this.poison(error, [...batch, ...this.queue]);
        this.queue = [];
        this.queuedBytes = 0;
        break;
      }
      for (const q of batch) q.resolve();
    }
    const preallocationFailure = this.preallocator.failure;
    if (preallocationFailure !== null && this.failureError === null) {
      this.poison(preallocationFailure, this.queue);
      this.queue = [];
      this.queuedBytes = 0;
    }
    this.flushing = false;
    for (const resolve of this.drained.splice(0)) resolve();
  }

  private async writeBatch(batch: readonly Queued[], recordBytes: number): Promise<void> {
    // A failed zero write ahead poisons the log like a failed flush.
    if (this.preallocator.failure !== null) throw this.preallocator.failure;
    const last = batch[batch.length - 1]!.item;
    let segment = this.segments[this.segments.length - 1]!;
    if (recordBytes > 0) {
      const bytes = flushStartRecordBytes + recordBytes;
      if (this.scratch.byteLength < bytes) this.scratch = Buffer.allocUnsafe(Math.max(bytes, this.scratch.byteLength * 2));
      let fill = flushStartRecordBytes;
      for (const q of batch) {
        q.item.encode(this.scratch, fill);
        fill += q.item.recordBytes;
      }
      const records = this.scratch.subarray(0, bytes);
      let at: number;
      const rollover = segment.size > segment.startBytes && segment.size + bytes > this.options.segmentBytesMax;
      const salt = rollover ? drawSalt(this.options.random) : segment.salt;
      assert(salt !== null, `appending to format-1 WAL segment ${segment.path}`);
      writeFlushStartRecord(this.scratch, 0, bytes, salt);
      if (rollover) {
        // The zero write in flight (if any) targets the segment being left:
        // let it finish first, so that it never runs on a file that may be
        // deleted and closed by compaction.
        await this.preallocator.settle();
        if (this.preallocator.failure !== null) throw this.preallocator.failure;
        const startBytes = segmentStartRecordBytes + frameRecordBytes + hardStateRecordBytes(this.hardStateTail);
        const pad = this.preallocator.padBytesFor(startBytes + bytes);
        segment = await createSegment(this.options, segment.sequence + 1, salt, this.frameTail, this.hardStateTail, [records], pad);
        this.stats.preallocatedBytes += pad;
        this.segments.push(segment);
        this.stats.rollovers++;
        this.stats.flushesBeyondPreallocation++;
        at = segment.startBytes;
      } else {
        at = segment.size;
        const end = at + bytes;
        // Only a flush larger than the zeros ahead can reach a zero write still in flight.
        const zeroWrite = this.preallocator.overlapping(segment, at, end);
        if (zeroWrite !== null) await zeroWrite;
        const buffers: Uint8Array[] = [records];
        if (end > segment.syncedBytes) {
          this.stats.flushesBeyondPreallocation++;
          // This fdatasync writes a new size anyway: add zeros for the next flushes
          // to overwrite while the background chunk is written.
          if (end > segment.fileBytes) {
            const pad = this.preallocator.padBytesFor(end);
            if (pad > 0) buffers.push(zeroPad.subarray(0, pad));
            this.stats.preallocatedBytes += pad;
          }
        }
        await segment.file.writev(buffers, at);
        const written = at + bytes + (buffers.length > 1 ? buffers[1]!.byteLength : 0);
        segment.fileBytes = Math.max(segment.fileBytes, written);
        // Everything written to the file so far (zero writes that completed included) is covered by this fdatasync.
        const covered = segment.fileBytes;
        await segment.file.datasync();
        segment.size = end;
        segment.syncedBytes = Math.max(segment.syncedBytes, covered);
      }
      at += flushStartRecordBytes;
      for (const q of batch) {
        q.item.onDurable(segment.sequence, at);
        segment.lowWaterIndex = Math.min(segment.lowWaterIndex, q.item.lowWaterIndex);
        at += q.item.recordBytes;
      }
      this.stats.flushes++;
      this.stats.bytes += bytes;
    }
    this.stats.items += batch.length;
    this.frameTail = last.frameAfter;
    this.hardStateTail = last.hardStateAfter;
    this.preallocator.maybeStart(segment);
  }

  private poison(cause: unknown, failed: readonly Queued[]): void {
    const message = cause instanceof Error ? cause.message : String(cause);
    this.failureError = new StorageFailedError(
      `write-ahead log write failed (${message}); the log is no longer trusted and refuses every further write: ` +
        'stop this node, fix the disk, and restart it',
      { cause },
    );
    this.options.logger.error({ err: cause, dir: this.options.dir }, this.failureError.message);
    for (const q of failed) q.reject(this.failureError);
  }
}
