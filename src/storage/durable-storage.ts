/**
 * DurableStorage: the Raft `Storage` (synchronous reads, served from memory
 * and, on a rare cache miss, a synchronous pread) plus the write side the
 * server's loop calls for each Ready: `persist(ready)` (or `append`,
 * `receiveSnapshotChunk`, `installSnapshot` one by one), and `saveSnapshot`
 * for the local state machine's snapshots.
 *
 * Data directory layout: LOCK, wal/wal-<seq>.log, snap/snap-<index>-<term>.snap.
 *
 * The durability guarantee (see docs/storage.md): a promise from `append`
 * resolves only after the fdatasync covering its records returned; the host
 * acknowledges (to a leader, by an AppendEntries response) only after that,
 * and a leader counts an entry committed only with a majority of such
 * acknowledgements (its own included, after its own append resolved).
 */
import * as path from 'node:path';
import { assert } from '../common/errors.js';
import type { RandomSource } from '../common/rng.js';
import { systemRandom } from '../common/system-clock.js';
import {
  LogCompactedError,
  LogUnavailableError,
  type SnapshotChunk,
  type Storage,
} from '../raft/storage.js';
import type { IncomingSnapshotChunk } from '../raft/ready.js';
import type { ConfState, Entry, HardState, SnapshotMetadata } from '../raft/types.js';
import type { Disk } from './disk.js';
import { syncDirectoryEntries } from './directory-sync.js';
import { EntryCache } from './entry-cache.js';
import { CorruptLogError, StorageClosedError } from './errors.js';
import { LogIndex } from './log-index.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { NodeDisk } from './node-disk.js';
import { SnapshotStore, type SnapshotWriter } from './snapshot-store.js';
import {
  RecordCheck,
  RecordType,
  decodeEntry,
  entryRecordBytes,
  frameRecordBytes,
  hardStateRecordBytes,
  readRecordAt,
  recordHeaderBytes,
  segmentStartRecordBytes,
  writeEntryRecord,
  writeFrameRecord,
  writeHardStateRecord,
  type FrameRecord,
} from './wal-record.js';
import { extendingFlushPadBytes } from './wal-preallocator.js';
import { recoverWal } from './wal-recovery.js';
import { deletableSegmentCount, type Segment } from './wal-segment.js';
import { WalWriter, createSegment, drawSalt, type WalItem } from './wal-writer.js';

export interface DurableStorageOptions {
  /** The data directory (created if missing). */
  readonly dir: string;
  /** Defaults to the real disk (NodeDisk). */
  readonly disk?: Disk;
  readonly logger?: Logger;
  /** A segment is closed and a new one started once the next batch would pass this size. Default 64 MiB. */
  readonly segmentBytesMax?: number;
  /** Bound of the recent-entries cache (sum of entry data). Default 64 MiB. */
  readonly entryCacheBytesMax?: number;
  /**
   * Zeros kept ahead of the WAL's write position, written this many bytes at
   * a time in the background, so that flushes overwrite allocated space
   * instead of extending the file (see wal-preallocator.ts). Default 1 MiB;
   * 0 turns preallocation off.
   */
  readonly preallocateBytes?: number;
  /** Bound of bytes queued for the next flush. Default 256 MiB. */
  readonly pendingWriteBytesMax?: number;
  /** Snapshots kept on disk. Default 2. */
  readonly snapshotsRetained?: number;
  /** Largest snapshot accepted. Default 8 GiB. */
  readonly snapshotBytesMax?: number;
  /** Draws each WAL segment's salt (see wal-recovery.ts). Default: the system's. */
  readonly random?: RandomSource;
}

/**
 * One Ready's durable part (src/raft/ready.ts, fields 2a-2d), and the one
 * shape for it: the server's loop and the simulator persist this type.
 * `persist` makes it durable in this order, with one group commit for the
 * entries and hard state: incoming snapshot chunks, then a snapshot to
 * install, then the entries (a conflicting suffix truncated first, Raft
 * §5.3), then the hard state.
 */
export interface PersistBatch {
  readonly snapshotChunks: readonly IncomingSnapshotChunk[];
  readonly snapshot?: SnapshotMetadata | undefined;
  readonly entries: readonly Entry[];
  readonly hardState?: HardState | undefined;
}

/** True if the batch asks nothing to be made durable. */
export function isEmptyPersistBatch(batch: PersistBatch): boolean {
  return batch.snapshotChunks.length === 0 && batch.snapshot === undefined && batch.entries.length === 0 && batch.hardState === undefined;
}

const readAheadBytes = 64 * 1024;

export class DurableStorage implements Storage {
  private readonly cache: EntryCache;
  private hardStateValue: HardState;
  private closed = false;
  /** Snapshot adoptions run one at a time. */
  private snapshotChain: Promise<unknown> = Promise.resolve();
  private readAhead: { segment: number; offset: number; bytes: Uint8Array } | null = null;

  private constructor(
    readonly dir: string,
    private readonly logger: Logger,
    private readonly release: () => Promise<void>,
    private readonly index: LogIndex,
    private readonly snapshots: SnapshotStore,
    private readonly writer: WalWriter,
    hardState: HardState,
    entryCacheBytesMax: number,
  ) {
    this.hardStateValue = hardState;
    this.cache = new EntryCache(entryCacheBytesMax);
    this.cache.clear(index.lastIndex() + 1);
  }

  /**
   * Locks the data directory, recovers the WAL and snapshots, and returns the
   * storage ready for use. Throws DataDirLockedError, CorruptLogError or
   * CorruptSnapshotFileError instead of starting on a log it cannot trust.
   */
  static async open(options: DurableStorageOptions): Promise<DurableStorage> {
    const disk = options.disk ?? new NodeDisk();
    const logger = options.logger ?? silentLogger;
    const dir = path.resolve(options.dir);
    const walDir = path.join(dir, 'wal');
    const snapDir = path.join(dir, 'snap');
    const created = await disk.mkdirp(dir);
    const lock = await disk.lockDir(dir);
    let snapshots: SnapshotStore | null = null;
    let segments: Segment[] = [];
    try {
      await disk.mkdirp(walDir);
      await disk.mkdirp(snapDir);
      await syncDirectoryEntries(disk, logger, dir, created, [walDir, snapDir]);
      snapshots = await SnapshotStore.open({
        dir: snapDir,
        disk,
        logger,
        snapshotsRetained: options.snapshotsRetained ?? 2,
        snapshotBytesMax: options.snapshotBytesMax ?? 8 * 1024 * 1024 * 1024,
      });
      const recovered = await recoverWal({ dir: walDir, disk, logger, snapshot: snapshots.metadata() });
      segments = recovered.segments;
      const { index, hardState } = recovered;
      const frame: FrameRecord = {
        baseIndex: index.baseIndex,
        baseTerm: index.baseTerm,
        prevIndex: index.lastIndex(),
        prevTerm: index.lastTerm(),
      };
      const walOptions = {
        dir: walDir,
        disk,
        logger,
        segmentBytesMax: options.segmentBytesMax ?? 64 * 1024 * 1024,
        pendingWriteBytesMax: options.pendingWriteBytesMax ?? 256 * 1024 * 1024,
        preallocateBytes: options.preallocateBytes ?? 1024 * 1024,
        random: options.random ?? systemRandom,
      };
      const last = segments[segments.length - 1];
      if (last === undefined || last.salt === null) {
        // A new log, or one whose active segment has the unsalted format 1: new flushes go to a new segment.
        const startBytes = segmentStartRecordBytes + frameRecordBytes + hardStateRecordBytes(hardState);
        const pad = extendingFlushPadBytes(walOptions.preallocateBytes, walOptions.segmentBytesMax, startBytes);
        const salt = drawSalt(walOptions.random);
        segments.push(await createSegment(walOptions, (last?.sequence ?? 0) + 1, salt, frame, hardState, [], pad));
      }
      const writer = new WalWriter(walOptions, segments, frame, hardState);
      const storage = new DurableStorage(
        dir,
        logger,
        () => lock.release(),
        index,
        snapshots,
        writer,
        hardState,
        options.entryCacheBytesMax ?? 64 * 1024 * 1024,
      );
      // Record the recovered log as a frame, so that what recovery decided
      // (a torn tail dropped, a snapshot adopted) is what the next replay
      // starts from before any new entry lands after it.
      await storage.submitFrame();
      logger.info(
        {
          dir,
          firstIndex: storage.firstIndex(),
          lastIndex: storage.lastIndex(),
          snapshotIndex: snapshots.metadata().index,
          segments: segments.length,
        },
        'storage opened',
      );
      return storage;
    } catch (error) {
      for (const segment of segments) await segment.file.close().catch(() => {});
      await snapshots?.close().catch(() => {});
      // The typed error that stopped the open is what the caller sees, never a cleanup failure.
      await lock.release().catch(() => {});
      throw error;
    }
  }

  // ---- Storage (read side, synchronous) --------------------------------------

  initialState(): { hardState: HardState; confState: ConfState } {
    this.checkOpen();
    // Membership as of the latest snapshot; ConfChange entries after it are
    // replayed by the host as it re-applies committed entries.
    return { hardState: this.hardStateValue, confState: this.snapshots.metadata().conf };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    this.checkOpen();
    if (lo < this.firstIndex()) throw new LogCompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new LogUnavailableError(hi - 1, this.lastIndex());
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const entry = this.cache.get(i) ?? this.readEntry(i);
      bytes += entry.data.byteLength;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  term(index: number): number {
    this.checkOpen();
    if (index < this.index.baseIndex) throw new LogCompactedError(index, this.firstIndex());
    if (index > this.index.lastIndex()) throw new LogUnavailableError(index, this.lastIndex());
    return this.index.term(index);
  }

  firstIndex(): number {
    return this.index.baseIndex + 1;
  }

  lastIndex(): number {
    return this.index.lastIndex();
  }

  snapshotMetadata(): SnapshotMetadata {
    return this.snapshots.metadata();
  }

  snapshotChunk(index: number, offset: number, maxBytes: number): SnapshotChunk {
    this.checkOpen();
    return this.snapshots.chunkSync(index, offset, maxBytes);
  }

  // ---- write side --------------------------------------------------------------

  /** The hard state as last appended (durable once that append resolved). */
  hardState(): HardState {
    return this.hardStateValue;
  }

  /** The StorageFailedError that poisoned the log, or null. */
  get failure(): Error | null {
    return this.writer.failure;
  }

  /**
   * Counters of the WAL writer: flushes (= fdatasyncs of batches), items,
   * bytes (of records), rollovers, flushesBeyondPreallocation (flushes that
   * wrote past the synced zero-filled space, so their fdatasync also wrote a
   * new file size), preallocatedBytes (zeros written ahead).
   */
  get walStats(): {
    readonly flushes: number;
    readonly items: number;
    readonly bytes: number;
    readonly rollovers: number;
    readonly flushesBeyondPreallocation: number;
    readonly preallocatedBytes: number;
  } {
    return this.writer.stats;
  }

  /**
   * Persists one Ready: incoming snapshot chunks, then an incoming snapshot
   * to install, then entries and hard state. Resolves when all of it is durable.
   */
  async persist(ready: PersistBatch): Promise<void> {
    // One Ready may carry the last chunk of snapshot A, the order to install A,
    // and already the first chunk of a newer snapshot B (simulator finding F2).
    // There is one incoming file at a time, so A is installed as soon as its
    // final chunk is written, before any chunk of B replaces the incoming file.
    const snapshot = ready.snapshot;
    let installed = false;
    for (const chunk of ready.snapshotChunks) {
      if (snapshot && !installed && chunk.index !== snapshot.index) {
        const receiving = this.snapshotReceiveProgress();
        if (receiving?.done === true && receiving.index === snapshot.index) {
          await this.installSnapshot(snapshot);
          installed = true;
        }
      }
      await this.receiveSnapshotChunk(chunk);
    }
    if (snapshot && !installed) await this.installSnapshot(snapshot);
    if (ready.entries.length > 0 || ready.hardState) {
      await this.append({ entries: ready.entries, hardState: ready.hardState });
    }
  }

  /**
   * Appends entries (after dropping a conflicting suffix when the first
   * entry's index is at or below the last index: Raft §5.3) and the hard
   * state. The new state is visible to reads at once; the promise resolves
   * when it is durable (group commit: one writev and one fdatasync for every
   * append made while the previous flush was in flight). An empty append is a
   * barrier: it resolves once everything appended before it is durable.
   *
   * No AbortSignal: records handed to the disk cannot be withdrawn.
   */
  append(batch: { entries?: readonly Entry[]; hardState?: HardState | undefined }): Promise<void> {
    try {
      this.checkWritable();
      // A shallow copy: the records are encoded at flush time, after the caller may have reused its array.
      // (Entries and their data must not be mutated after append: the cache holds them by reference.)
      const entries = batch.entries ? batch.entries.slice() : [];
      const hardState = batch.hardState;
      let bytes = hardState ? hardStateRecordBytes(hardState) : 0;
      const first = entries[0];
      if (first) {
        assert(
          first.index > this.index.baseIndex && first.index <= this.index.lastIndex() + 1,
          `append at ${first.index}: the log holds (${this.index.baseIndex}, ${this.index.lastIndex()}]`,
        );
        // Terms never decrease along a Raft log (§5.3); recovery refuses a log where they do.
        let previousTerm = this.index.term(first.index - 1);
        for (let k = 0; k < entries.length; k++) {
          const e = entries[k]!;
          if (e.index !== first.index + k || e.term < previousTerm) {
            assert(false, `entries to append must be consecutive with non-decreasing terms (entry ${e.index} term ${e.term})`);
          }
          previousTerm = e.term;
          bytes += entryRecordBytes(e);
        }
      }
      this.writer.checkRoom(bytes);

      const offsets: number[] = new Array<number>(entries.length);
      const encode = (target: Buffer, start: number): void => {
        let at = start;
        for (let k = 0; k < entries.length; k++) {
          offsets[k] = at - start;
          at = writeEntryRecord(target, at, entries[k]!);
        }
        if (hardState) writeHardStateRecord(target, at, hardState);
      };

      if (first) {
        if (first.index <= this.index.lastIndex()) {
          this.index.truncateAfter(first.index - 1);
          this.cache.truncateAfter(first.index - 1);
        }
        for (const e of entries) {
          this.index.append(e.index, e.term, -1, -1);
          this.cache.put(e);
        }
      }
      if (hardState) this.hardStateValue = hardState;

      return this.writer.submit({
        recordBytes: bytes,
        encode,
        lowWaterIndex: first ? first.index - 1 : Infinity,
        frameAfter: this.currentFrame(),
        hardStateAfter: this.hardStateValue,
        onDurable: (segment, offset) => {
          for (let k = 0; k < entries.length; k++) {
            const e = entries[k]!;
            // Skip entries replaced or compacted away since this append.
            if (this.cache.get(e.index) === e) this.index.setLocation(e.index, segment, offset + offsets[k]!);
          }
          this.cache.evict((i) => this.index.isWritten(i));
        },
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Writes one incoming InstallSnapshot chunk (see SnapshotStore.receiveChunk for the offset rules). */
  async receiveSnapshotChunk(chunk: IncomingSnapshotChunk): Promise<void> {
    this.checkWritable();
    await this.snapshots.receiveChunk(chunk);
  }

  /** Bytes received so far of an incoming snapshot, or null when none is in progress. */
  snapshotReceiveProgress(): { index: number; term: number; bytes: number; done: boolean } | null {
    return this.snapshots.receiveProgress();
  }

  /** Installs a completely received snapshot: it becomes the latest, and the log restarts after it (Raft §7). */
  installSnapshot(meta: SnapshotMetadata): Promise<void> {
    return this.serializeSnapshot(async () => {
      this.checkWritable();
      await this.snapshots.finalizeReceived(meta);
      await this.adoptSnapshot(meta);
    });
  }

  /**
   * Saves a snapshot of the local state machine (contents as a stream of
   * chunks) and compacts the log up to it: segments wholly below it are
   * deleted. A snapshot not newer than the log's start (an installed snapshot
   * overtook it) is skipped.
   */
  saveSnapshot(
    meta: SnapshotMetadata,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<void> {
    return this.serializeSnapshot(async () => {
      this.checkWritable();
      if (meta.index <= this.index.baseIndex) {
        // An incoming snapshot installed meanwhile already covers this one.
        this.logger.info({ index: meta.index, snapshotIndex: this.index.baseIndex }, 'skipping a local snapshot older than the log start');
        return;
      }
      assert(
        meta.index <= this.index.lastIndex(),
        `local snapshot at ${meta.index} is past the last log index ${this.index.lastIndex()}`,
      );
      await this.snapshots.write(meta, source, options);
      await this.adoptSnapshot(meta);
    });
  }

  /**
   * A writer for a local snapshot, for producers that push (write/finish)
   * rather than hand over an iterable. `finish` also compacts the log.
   */
  async createSnapshotWriter(
    index: number,
    term: number,
  ): Promise<{ write(data: Uint8Array): Promise<void>; finish(meta: SnapshotMetadata): Promise<void>; abort(): Promise<void> }> {
    this.checkWritable();
    const writer: SnapshotWriter = await this.snapshots.createWriter(index, term);
    return {
      write: (data) => writer.write(data),
      finish: (meta) =>
        this.serializeSnapshot(async () => {
          this.checkWritable();
          if (meta.index <= this.index.baseIndex) {
            this.logger.info({ index: meta.index, snapshotIndex: this.index.baseIndex }, 'dropping a local snapshot older than the log start');
            await writer.abort();
            return;
          }
          await writer.finish(meta);
          await this.adoptSnapshot(meta);
        }),
      abort: () => writer.abort(),
    };
  }

  /**
   * The snapshots transfers to followers still read (SnapshotStore.hold):
   * each stays readable by `snapshotChunk` until a later call leaves it out.
   * Letting one go (closing it, deleting it past retention) runs in the
   * background, after any snapshot being adopted.
   */
  holdSnapshots(indexes: readonly number[]): void {
    if (this.closed || !this.snapshots.hold(indexes)) return;
    void this.serializeSnapshot(() => this.snapshots.releaseUnheld()).catch((error: unknown) => {
      this.logger.warn({ err: error }, 'could not release a snapshot held for a transfer');
    });
  }

  /** The latest snapshot's contents (or the one at `index`) as a stream of chunks, checksum verified at the end. */
  readSnapshot(
    index?: number,
    options: { chunkBytes?: number; signal?: AbortSignal; timeoutMs?: number } = {},
  ): AsyncIterable<Uint8Array> {
    this.checkOpen();
    return this.snapshots.read(index, options);
  }

  /** Waits for queued writes, then closes files and releases the directory lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.snapshotChain.catch(() => {});
    await this.writer.whenIdle();
    this.closed = true;
    for (const segment of this.writer.segments) await segment.file.close().catch(() => {});
    await this.snapshots.close().catch(() => {});
    await this.release();
  }

  // ---- internals ----------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new StorageClosedError();
  }

  private checkWritable(): void {
    this.checkOpen();
    const failure = this.writer.failure;
    if (failure) throw failure;
  }

  private currentFrame(): FrameRecord {
    return {
      baseIndex: this.index.baseIndex,
      baseTerm: this.index.baseTerm,
      prevIndex: this.index.lastIndex(),
      prevTerm: this.index.lastTerm(),
    };
  }

  /** Appends a Frame record describing the current log, and waits until it is durable. */
  private submitFrame(): Promise<void> {
    const frame = this.currentFrame();
    const item: WalItem = {
      recordBytes: frameRecordBytes,
      encode: (target, at) => void writeFrameRecord(target, at, frame),
      lowWaterIndex: frame.prevIndex,
      frameAfter: frame,
      hardStateAfter: this.hardStateValue,
      onDurable: () => {},
    };
    return this.writer.submit(item);
  }

  private serializeSnapshot(task: () => Promise<void>): Promise<void> {
    const run = this.snapshotChain.then(task, task);
    this.snapshotChain = run.catch(() => {});
    return run;
  }

  /**
   * Makes a durable snapshot the log's new start (Raft §7: keep the entries
   * after it only if the log has its last entry with the same term), records
   * that in the WAL, and deletes the segments it covers.
   */
  private async adoptSnapshot(meta: SnapshotMetadata): Promise<void> {
    const kept = this.index.adoptSnapshot(meta.index, meta.term);
    if (kept) this.cache.dropThrough(meta.index);
    else this.cache.clear(meta.index + 1);
    this.readAhead = null;
    await this.submitFrame();
    await this.writer.deleteOldest(deletableSegmentCount(this.writer.segments, meta.index));
    this.logger.info(
      { index: meta.index, term: meta.term, keptSuffix: kept, firstIndex: this.firstIndex(), lastIndex: this.lastIndex() },
      'log compacted to snapshot',
    );
  }

  /** Cache miss: a synchronous read of the entry's record, checksum verified. */
  private readEntry(index: number): Entry {
    const { segment: sequence, offset } = this.index.location(index);
    assert(offset >= 0, `entry ${index} is neither cached nor written`);
    const segment = this.writer.segments.find((s) => s.sequence === sequence);
    assert(segment !== undefined, `entry ${index} lives in deleted segment ${sequence}`);
    let ra = this.readAhead;
    let record = ra && ra.segment === sequence && offset >= ra.offset ? readRecordAt(ra.bytes, offset - ra.offset) : null;
    if (!record || record.check === RecordCheck.Truncated) {
      const header = new Uint8Array(recordHeaderBytes);
      segment.file.readSync(header, offset);
      const payloadBytes = Buffer.from(header.buffer).readUInt32LE(0);
      const want = Math.min(Math.max(readAheadBytes, recordHeaderBytes + payloadBytes), segment.size - offset);
      const bytes = new Uint8Array(want);
      const n = segment.file.readSync(bytes, offset);
      ra = { segment: sequence, offset, bytes: bytes.subarray(0, n) };
      this.readAhead = ra;
      record = readRecordAt(ra.bytes, 0);
    }
    if (record.check !== RecordCheck.Ok || record.type !== RecordType.Entry) {
      throw new CorruptLogError(segment.path, offset, `entry ${index} cannot be read back: ${record.check}`);
    }
    const entry = decodeEntry(record.payload);
    if (entry.index !== index) {
      throw new CorruptLogError(segment.path, offset, `expected entry ${index}, found ${entry.index}`);
    }
    return entry;
  }
}
