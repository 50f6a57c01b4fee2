/**
 * Recovery on start: read every segment in order, check every record, and
 * rebuild the log index and the hard state.
 *
 * Where a segment's records end: segments are preallocated (zeros kept ahead
 * of the write position, wal-preallocator.ts), so a segment usually ends in
 * zeros. A record boundary from which the rest of the file is all zeros ends
 * the segment's records; that is the normal case, not damage. A zero header
 * followed by anything non-zero is damage, judged by the rules below.
 *
 * What is repaired and what refuses to start:
 * - In the LAST flush of the LAST segment (no intact FlushStart record after
 *   it), an incomplete record (a crash cut the file), or a damaged record with
 *   the zeros a lost write leaves (an all-zero header; an all-zero 512-byte
 *   sector starting inside it; the part of it before its first sector
 *   boundary all zero: its sectors never landed, possibly out of order), is a
 *   torn write. Nothing there was ever acknowledged (a flush is acknowledged
 *   only after its fdatasync, and the next flush is only written after that),
 *   so the file is truncated there (zeros and garbage after it too, so new
 *   records never follow garbage), logged with its size.
 * - Anything else (a checksum mismatch or zeroed bytes earlier in the last
 *   segment or in any other segment, a gap in entry indexes, a missing
 *   segment, a frame that does not match the log, a snapshot older than the
 *   log needs) throws CorruptLogError naming the file and offset: dropping
 *   those records could silently lose acknowledged writes.
 */
import * as path from 'node:path';
import { emptyHardState, type HardState, type SnapshotMetadata } from '../raft/types.js';
import type { Disk, DiskFile } from './disk.js';
import { CorruptLogError } from './errors.js';
import { LogIndex } from './log-index.js';
import type { Logger } from '../common/logger.js';
import {
  RecordCheck,
  RecordType,
  decodeEntryIndexTerm,
  decodeFrame,
  decodeHardState,
  decodeSegmentStart,
  flushStartRecordBytes,
  payloadBytesMin,
  unsaltedFlushStartPayloadBytes,
  readRecordAt,
  readU32,
  recordHeaderBytes,
  saltedFormatVersion,
  segmentFormatVersion,
  segmentMagic,
  type FrameRecord,
  type RecordAt,
} from './wal-record.js';
import { parseSegmentFileName, segmentFileName, type Segment } from './wal-segment.js';

const sectorBytes = 512;

export interface RecoveredWal {
  readonly index: LogIndex;
  readonly hardState: HardState;
  /** Open segments, oldest first (may be empty for a new data directory). */
  readonly segments: Segment[];
}

/**
 * Where the file's trailing run of zero bytes begins (its length if the last
 * byte is not zero): from a record boundary at or after this point, the rest
 * of the segment is the preallocated zero tail.
 */
export function zeroTailStart(bytes: Uint8Array): number {
  let end = bytes.byteLength;
  // Eight bytes at a time over the aligned part (a tail of up to a few MiB is read at every start).
  if (bytes.byteOffset % 8 === 0) {
    const words = new BigUint64Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.byteLength / 8));
    while (end % 8 !== 0 && bytes[end - 1] === 0) end--;
    if (end % 8 === 0) {
      let w = end / 8;
      while (w > 0 && words[w - 1] === 0n) w--;
      end = w * 8;
    }
  }
  while (end > 0 && bytes[end - 1] === 0) end--;
  return end;
}

/**
 * The zero patterns a power cut leaves when a flush's sectors never reached
 * the disk: beyond the previous flush the file held zeros (preallocated) or
 * nothing (it grew), so a lost sector reads as zeros. Hence: the record's
 * header is all zeros; or a whole 512-byte sector starting inside the record
 * is all zeros (clipped to the end of the file); or the record's bytes before
 * its first sector boundary are all zeros (its first sector was lost while a
 * later one landed: sectors reach the disk in any order). A flipped bit in a
 * written record cannot produce these: a header always has non-zero bytes,
 * and its first bytes are zero only for a length that is a multiple of 256
 * (see the known limit in docs/storage.md).
 */
export function hasTornZeros(bytes: Uint8Array, start: number, end: number): boolean {
  const stop = Math.min(end, bytes.byteLength);
  const allZero = (from: number, to: number): boolean => {
    for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
    return from < to;
  };
  if (allZero(start, Math.min(start + recordHeaderBytes, bytes.byteLength))) return true;
  const firstBoundary = Math.ceil(start / sectorBytes) * sectorBytes;
  if (firstBoundary > start && allZero(start, Math.min(firstBoundary, stop))) return true;
  for (let s = firstBoundary; s < stop; s += sectorBytes) {
    if (allZero(s, Math.min(s + sectorBytes, bytes.byteLength))) return true;
  }
  return false;
}

/**
 * True if a FlushStart record of this segment begins in [from, to). A flush is
 * written only after the previous one's fdatasync returned, so damage followed
 * by a later flush is damage to synced, acknowledged data: never a torn write.
 * Byte by byte, since the damaged record's length cannot be trusted; this runs
 * at most once per start, and only up to the zero tail.
 *
 * Why a value cannot fool it: the bytes scanned include the payloads of the
 * damaged flush's entries, which clients chose, and a value may hold a
 * perfect image of a FlushStart record. In a salted segment (format 2) a
 * FlushStart counts only if it carries the segment's salt: 32 random bits
 * drawn when the segment was created, written only in the WAL, never sent to
 * a client or a peer. A value cannot copy what its writer never saw, and a
 * guess is right with chance 2^-32. (`salt` null: a format-1 segment, where
 * any intact FlushStart counts, as before salts.)
 */
export function hasFlushStartAfter(bytes: Uint8Array, from: number, to: number, salt: number | null): boolean {
  const payloadBytes = salt === null ? unsaltedFlushStartPayloadBytes : flushStartRecordBytes - recordHeaderBytes;
  const recordBytes = recordHeaderBytes + payloadBytes;
  const inverted = ~payloadBytes >>> 0;
  const stop = Math.min(to, bytes.byteLength);
  for (let p = from; p < stop && p + recordBytes <= bytes.byteLength; p++) {
    if (bytes[p + 12] !== RecordType.FlushStart || readU32(bytes, p) !== payloadBytes || readU32(bytes, p + 4) !== inverted) continue;
    if (salt !== null && readU32(bytes, p + recordHeaderBytes + 8) !== salt) continue;
    if (readRecordAt(bytes, p).check === RecordCheck.Ok) return true;
  }
  return false;
}

/**
 * A damaged record in the last segment is a torn write when (1) it lies in
 * the last flush (no FlushStart of the segment starts after it) and (2) its
 * damage looks like an interrupted write: the file ends inside it, or it
 * holds zeros that never got their data. Anything else is refused: a flipped
 * bit in the last flush has neither pattern.
 */
function isTornWrite(bytes: Uint8Array, at: number, record: RecordAt, zeroFrom: number, salt: number | null): boolean {
  if (hasFlushStartAfter(bytes, at + 1, zeroFrom, salt)) return false;
  if (record.check === RecordCheck.Truncated) return true;
  const end = record.check === RecordCheck.BadLength ? at + recordHeaderBytes : record.end;
  return hasTornZeros(bytes, at, end);
}

function describe(check: RecordCheck): string {
  switch (check) {
    case RecordCheck.BadLength:
      return 'record length is damaged';
    case RecordCheck.BadChecksum:
      return 'record checksum mismatch';
    case RecordCheck.Truncated:
      return 'record is incomplete';
    case RecordCheck.Ok:
      return 'ok';
  }
}

/** Replays records into the log index and hard state, checking that they form one Raft log. */
class Replay {
  readonly index = new LogIndex();
  hardState: HardState = emptyHardState;
  /** Segment.lowWaterIndex of the segment being replayed. */
  lowWater = Infinity;
  private started = false;

  beginSegment(): void {
    this.lowWater = Infinity;
  }

  frame(f: FrameRecord, file: string, at: number, segmentStart: boolean): void {
    const corrupt = (reason: string) => new CorruptLogError(file, at, reason);
    if (f.prevIndex < f.baseIndex) throw corrupt(`frame ends the log at ${f.prevIndex}, before its base ${f.baseIndex}`);
    if (!this.started) {
      // The oldest segment on disk: entries up to its prevIndex are in older,
      // deleted segments (the final snapshot check makes sure a snapshot covers them).
      this.started = true;
      this.index.rebase(f.prevIndex, f.prevTerm);
      return;
    }
    if (!segmentStart) this.lowWater = Math.min(this.lowWater, f.prevIndex);
    // A newer base, or the same index with another term: a snapshot that did not
    // match the log there was installed (Raft §7), so the log restarts after it.
    if (f.baseIndex > this.index.baseIndex || (f.baseIndex === this.index.baseIndex && f.baseTerm !== this.index.baseTerm)) {
      this.index.rebase(f.baseIndex, f.baseTerm);
    }
    if (f.prevIndex < this.index.baseIndex) {
      throw corrupt(`frame ends the log at ${f.prevIndex}, below the log's start ${this.index.baseIndex}`);
    }
    if (f.prevIndex > this.index.lastIndex()) {
      throw corrupt(`gap: frame says the log reaches ${f.prevIndex} but entries end at ${this.index.lastIndex()}`);
    }
    this.index.truncateAfter(f.prevIndex);
    if (this.index.term(f.prevIndex) !== f.prevTerm) {
      throw corrupt(`frame says entry ${f.prevIndex} has term ${f.prevTerm}, the log has ${this.index.term(f.prevIndex)}`);
    }
  }

  entry(indexValue: number, term: number, segment: number, file: string, at: number): void {
    const corrupt = (reason: string) => new CorruptLogError(file, at, reason);
    if (!this.started) throw corrupt('entry before the segment frame');
    if (indexValue <= this.index.baseIndex) {
      throw corrupt(`entry ${indexValue} is at or below the log's start ${this.index.baseIndex}`);
    }
    if (indexValue > this.index.lastIndex() + 1) {
      throw corrupt(`gap: entry ${indexValue} follows entry ${this.index.lastIndex()}`);
    }
    if (indexValue > 1 && indexValue - 1 > this.index.baseIndex && term < this.index.term(indexValue - 1)) {
      throw corrupt(`entry ${indexValue} has term ${term}, lower than its predecessor's`);
    }
    this.lowWater = Math.min(this.lowWater, indexValue - 1);
    this.index.append(indexValue, term, segment, at);
  }
}

/** Step 1: the segment sequences in the directory, oldest first, checked to be consecutive. */
async function listSegments(dir: string, disk: Disk, logger: Logger): Promise<number[]> {
  const sequences: number[] = [];
  for (const name of await disk.readdir(dir)) {
    const sequence = parseSegmentFileName(name);
    if (sequence === null) logger.warn({ file: path.join(dir, name) }, 'ignoring unknown file in the WAL directory');
    else sequences.push(sequence);
  }
  sequences.sort((a, b) => a - b);
  for (let i = 1; i < sequences.length; i++) {
    if (sequences[i] !== sequences[i - 1]! + 1) {
      throw new CorruptLogError(
        path.join(dir, segmentFileName(sequences[i]!)),
        0,
        `segment ${segmentFileName(sequences[i - 1]! + 1)} is missing`,
      );
    }
  }
  return sequences;
}

/** What reading one segment's records found. */
interface SegmentScan {
  /** Records read (the first three are the segment's start records). */
  readonly records: number;
  /** Offset after the last whole record read. */
  readonly end: number;
  /** Where a torn write in the last flush begins (-1: none). */
  readonly tornAt: number;
  /** From the segment start record (null: format 1). */
  readonly salt: number | null;
  readonly startPrevIndex: number;
  readonly startBytes: number;
}

/** Checks one record's framing and place in the segment, then replays it. */
function replayRecord(replay: Replay, record: RecordAt, recordNumber: number, sequence: number, file: string, at: number): void {
  const min = payloadBytesMin(record.type);
  if (min === undefined || record.payload.byteLength < min) {
    throw new CorruptLogError(file, at, `record of unknown type ${record.type} or too short`);
  }
  if (recordNumber === 0 && record.type !== RecordType.SegmentStart) {
    throw new CorruptLogError(file, at, 'segment does not begin with a segment start record');
  }
  if (recordNumber === 1 && record.type !== RecordType.Frame) {
    throw new CorruptLogError(file, at, 'segment start is not followed by a frame');
  }
  if (recordNumber === 2 && record.type !== RecordType.HardState) {
    throw new CorruptLogError(file, at, 'segment frame is not followed by a hard state');
  }
  switch (record.type) {
    case RecordType.SegmentStart: {
      const start = decodeSegmentStart(record.payload);
      if (recordNumber !== 0) throw new CorruptLogError(file, at, 'segment start record in the middle of a segment');
      if (start.magic !== segmentMagic) throw new CorruptLogError(file, at, 'bad magic');
      if (start.version < 1 || start.version > segmentFormatVersion) {
        throw new CorruptLogError(file, at, `unsupported WAL format version ${start.version}`);
      }
      if (start.version >= saltedFormatVersion && start.salt === null) throw new CorruptLogError(file, at, 'segment start is too short');
      if (start.sequence !== sequence) {
        throw new CorruptLogError(file, at, `segment says it is sequence ${start.sequence}`);
      }
      break;
    }
    case RecordType.Frame:
      replay.frame(decodeFrame(record.payload), file, at, recordNumber === 1);
      break;
    case RecordType.HardState:
      replay.hardState = decodeHardState(record.payload);
      break;
    case RecordType.Entry: {
      const { index, term } = decodeEntryIndexTerm(record.payload);
      replay.entry(index, term, sequence, file, at);
      break;
    }
    case RecordType.FlushStart:
      break;
  }
}

/**
 * Step 2: reads a segment's records up to its zero tail, replaying each, and
 * stops at a torn write of the last segment (see the file comment); any other
 * damage throws CorruptLogError.
 */
function scanSegment(replay: Replay, bytes: Uint8Array, sequence: number, file: string, isLast: boolean): SegmentScan {
  const zeroFrom = zeroTailStart(bytes);
  let at = 0;
  let records = 0;
  let startPrevIndex = -1;
  let startBytes = 0;
  let salt: number | null = null;
  // At or past zeroFrom the rest of the file is zeros: the preallocated tail
  // after the last record (a zero header followed by anything else is judged
  // as damage below).
  while (at < zeroFrom) {
    const record = readRecordAt(bytes, at);
    if (record.check !== RecordCheck.Ok) {
      if (isLast && isTornWrite(bytes, at, record, zeroFrom, salt)) return { records, end: at, tornAt: at, startPrevIndex, startBytes, salt };
      const zeroHeader = bytes.subarray(at, at + recordHeaderBytes).every((b) => b === 0);
      throw new CorruptLogError(
        file,
        at,
        zeroHeader ? 'zeroed bytes where a record should start, with data after them' : describe(record.check),
      );
    }
    replayRecord(replay, record, records, sequence, file, at);
    if (records === 0) salt = decodeSegmentStart(record.payload).salt;
    if (records === 1) startPrevIndex = decodeFrame(record.payload).prevIndex;
    if (records === 2) startBytes = record.end;
    records++;
    at = record.end;
  }
  return { records, end: at, tornAt: -1, startPrevIndex, startBytes, salt };
}

/**
 * Steps 2-3 for one segment: reads and replays it, then repairs a torn tail
 * (truncateTail) or removes a last segment torn while it was created. Returns
 * the open segment, or null when it was removed. Closes the file if it throws.
 */
async function replaySegment(
  ctx: { dir: string; disk: Disk; logger: Logger; replay: Replay },
  sequence: number,
  isLast: boolean,
): Promise<Segment | null> {
  const { dir, disk, logger, replay } = ctx;
  const file = path.join(dir, segmentFileName(sequence));
  // Read-write: if a torn last segment is removed, the one before becomes the active one.
  const handle = await disk.open(file, 'readwrite');
  try {
    const size = await handle.size();
    const bytes = new Uint8Array(size);
    if ((await handle.read(bytes, 0)) !== size) throw new CorruptLogError(file, 0, 'short read');
    replay.beginSegment();
    const scan = scanSegment(replay, bytes, sequence, file, isLast);
    if (scan.records < 3 && isLast) {
      // The crash hit while the segment was being created (torn, or only
      // zeros or nothing landed): nothing in it was acknowledged, since
      // createSegment syncs its start records before any flush goes on.
      logger.warn({ file, bytes: size }, `removing WAL segment torn while it was created (${size} bytes)`);
      await handle.close();
      await disk.unlink(file);
      await disk.fsyncDir(dir);
      return null;
    }
    if (scan.tornAt >= 0) await truncateTail(handle, logger, file, scan.tornAt, size);
    else if (scan.records < 3) throw new CorruptLogError(file, scan.end, 'segment is missing its start records');
    const kept = scan.tornAt >= 0 ? scan.tornAt : size;
    if (isLast) await resyncReadBack(handle, bytes.subarray(0, scan.end));
    return {
      sequence,
      path: file,
      file: handle,
      salt: scan.salt,
      size: scan.end,
      // What recovery read back is durable now (resyncReadBack).
      fileBytes: kept,
      syncedBytes: kept,
      startBytes: scan.startBytes,
      startPrevIndex: scan.startPrevIndex,
      lowWaterIndex: replay.lowWater,
    };
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
}

/** Step 3: cuts a torn write (and the garbage and zeros after it) off the end of the log, durably. */
/**
 * Makes the active segment's records durable before anything is appended
 * after them. What recovery read back may exist only in the page cache: the
 * previous process crashed (kill -9) before its fdatasync, or its fdatasync
 * failed (EIO) and it stopped. Another fdatasync would not help in the second
 * case: after a failed writeback the kernel may have marked those pages clean
 * without writing them ("fsyncgate"), so a later power cut would leave a hole
 * of zeros under records this member went on to acknowledge. Writing the
 * bytes again dirties the pages afresh, so the fdatasync that follows really
 * writes them (or fails, and the member does not start on a log it cannot
 * make durable). Costs one rewrite of the active segment at start.
 */
async function resyncReadBack(handle: DiskFile, records: Uint8Array): Promise<void> {
  if (records.byteLength === 0) return;
  await handle.writev([records], 0);
  await handle.datasync();
}

async function truncateTail(handle: DiskFile, logger: Logger, file: string, tornAt: number, size: number): Promise<void> {
  logger.warn(
    { file, offset: tornAt, bytes: size - tornAt },
    `truncating a torn write at the end of the WAL: ${size - tornAt} bytes at offset ${tornAt}`,
  );
  await handle.truncate(tornAt);
  await handle.datasync();
}

/**
 * Step 4, the latest snapshot (Raft §7): it must cover at least the log's
 * start; if the log has its last entry, the suffix after it stays, otherwise
 * the whole log is superseded by it.
 */
function adoptSnapshot(index: LogIndex, snapshot: SnapshotMetadata, segments: readonly Segment[], dir: string): void {
  if (segments.length === 0 && snapshot.index > 0) {
    throw new CorruptLogError(dir, 0, `no WAL segments, but a snapshot at index ${snapshot.index} exists`);
  }
  if (snapshot.index < index.baseIndex) {
    throw new CorruptLogError(
      segments[0]?.path ?? dir,
      0,
      `the WAL starts after index ${index.baseIndex}, but the newest snapshot is at ${snapshot.index}: ` +
        'segments or a snapshot are missing',
    );
  }
  if (snapshot.index === index.baseIndex && snapshot.term !== index.baseTerm && snapshot.index > 0) {
    throw new CorruptLogError(
      segments[0]?.path ?? dir,
      0,
      `the WAL starts at index ${index.baseIndex} term ${index.baseTerm}, the snapshot there has term ${snapshot.term}`,
    );
  }
  if (snapshot.index > index.baseIndex) index.adoptSnapshot(snapshot.index, snapshot.term);
}

/** Recovers the WAL in `dir`: listSegments, then replaySegment for each (repairing a torn tail), then adoptSnapshot. */
export async function recoverWal(options: {
  dir: string;
  disk: Disk;
  logger: Logger;
  snapshot: SnapshotMetadata;
}): Promise<RecoveredWal> {
  const { dir, disk, logger, snapshot } = options;
  const sequences = await listSegments(dir, disk, logger);
  const replay = new Replay();
  const segments: Segment[] = [];
  try {
    for (let s = 0; s < sequences.length; s++) {
      const segment = await replaySegment({ dir, disk, logger, replay }, sequences[s]!, s === sequences.length - 1);
      if (segment !== null) segments.push(segment);
    }
    adoptSnapshot(replay.index, snapshot, segments, dir);
  } catch (error) {
    for (const segment of segments) await segment.file.close().catch(() => {});
    throw error;
  }
  return { index: replay.index, hardState: replay.hardState, segments };
}
