/**
 * The record format of WAL segments. Every record (little endian):
 *
 *   offset 0  u32  payloadBytes   length of the payload after the type byte
 *   offset 4  u32  ~payloadBytes  the length again, inverted: a damaged length
 *                                 is caught before it is trusted to find the
 *                                 next record
 *   offset 8  u32  crc            CRC-32C of the type byte and the payload
 *   offset 12 u8   type           RecordType
 *   offset 13      payload
 *
 * Payloads (integers are u64 stored as two u32 halves, always < 2^53):
 *   SegmentStart  magic "CWAL" u32, format version u32, segment sequence u64,
 *                 salt u32 (format 2: random per segment, never shown to clients)
 *   Frame         baseIndex, baseTerm, prevIndex, prevTerm (u64 each): from
 *                 here on the log is exactly the entries (baseIndex, prevIndex],
 *                 with entries up to baseIndex inside a snapshot
 *   HardState     term u64, commit u64, vote length u16 (0xffff = null), vote utf-8
 *   Entry         index u64, term u64, entry type u8, data
 *   FlushStart    bytes of the flush it opens (u64, this record included),
 *                 the segment's salt u32 (format 2)
 *
 * Format 1 (read, never written) has no salts: its SegmentStart payload is 16
 * bytes and its FlushStart payload 8. The salt is what lets recovery tell a
 * real FlushStart from an image of one inside a value (wal-recovery.ts).
 */
import { crc32c } from '@node-rs/crc32';
import type { Entry, EntryType, HardState } from '../raft/types.js';

export const recordHeaderBytes = 13;
export const segmentMagic = 0x4c415743; // "CWAL" little endian
/** The format written. */
export const segmentFormatVersion = 2;
/** The first format whose segments carry a salt. */
export const saltedFormatVersion = 2;
/** Upper bound of one record's payload; larger lengths are damage. */
export const recordPayloadBytesMax = 256 * 1024 * 1024;

export const RecordType = {
  SegmentStart: 1,
  Frame: 2,
  HardState: 3,
  Entry: 4,
  /** Opens every flush (one writev + fdatasync): recovery tells the last, unsynced flush from earlier, synced ones. */
  FlushStart: 5,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export interface FrameRecord {
  readonly baseIndex: number;
  readonly baseTerm: number;
  readonly prevIndex: number;
  readonly prevTerm: number;
}

const entryFixedBytes = 17;
const hardStateFixedBytes = 18;
const noVote = 0xffff;

/** Little-endian u32 by plain byte stores (typed arrays truncate to 8 bits): faster than Buffer's checked writers. */
function putU32(buf: Uint8Array, value: number, at: number): void {
  buf[at] = value;
  buf[at + 1] = value >>> 8;
  buf[at + 2] = value >>> 16;
  buf[at + 3] = value >>> 24;
}

function writeU64(buf: Uint8Array, value: number, at: number): void {
  putU32(buf, value >>> 0, at);
  putU32(buf, Math.floor(value / 0x100000000), at + 4);
}

/** Little-endian u32 without allocating a Buffer view (recovery reads millions of these). */
export function readU32(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16)) + buf[at + 3]! * 0x1000000;
}

export function readU64(buf: Uint8Array, at: number): number {
  return readU32(buf, at) + readU32(buf, at + 4) * 0x100000000;
}

/** Sizes the payload of each record kind, so a batch is encoded into one buffer. */
export function entryRecordBytes(entry: Entry): number {
  return recordHeaderBytes + entryFixedBytes + entry.data.byteLength;
}

export function hardStateRecordBytes(hs: HardState): number {
  return recordHeaderBytes + hardStateFixedBytes + (hs.vote === null ? 0 : Buffer.byteLength(hs.vote, 'utf8'));
}

export const frameRecordBytes = recordHeaderBytes + 32;
export const segmentStartRecordBytes = recordHeaderBytes + 20;
export const flushStartRecordBytes = recordHeaderBytes + 12;
/** Payload bytes of a FlushStart in a format-1 segment (no salt). */
export const unsaltedFlushStartPayloadBytes = 8;

/** Writes the header of a record whose payload is already at `at + 13`; returns the record's end. */
function seal(buf: Buffer, at: number, type: RecordType, payloadBytes: number): number {
  putU32(buf, payloadBytes, at);
  putU32(buf, ~payloadBytes, at + 4);
  buf[at + 12] = type;
  putU32(buf, crc32c(buf.subarray(at + 12, at + recordHeaderBytes + payloadBytes)), at + 8);
  return at + recordHeaderBytes + payloadBytes;
}

export function writeEntryRecord(buf: Buffer, at: number, entry: Entry): number {
  const p = at + recordHeaderBytes;
  writeU64(buf, entry.index, p);
  writeU64(buf, entry.term, p + 8);
  buf[p + 16] = entry.type;
  buf.set(entry.data, p + entryFixedBytes);
  return seal(buf, at, RecordType.Entry, entryFixedBytes + entry.data.byteLength);
}

export function writeHardStateRecord(buf: Buffer, at: number, hs: HardState): number {
  const p = at + recordHeaderBytes;
  writeU64(buf, hs.term, p);
  writeU64(buf, hs.commit, p + 8);
  let voteBytes = 0;
  if (hs.vote === null) buf.writeUInt16LE(noVote, p + 16);
  else {
    voteBytes = buf.write(hs.vote, p + hardStateFixedBytes, 'utf8');
    buf.writeUInt16LE(voteBytes, p + 16);
  }
  return seal(buf, at, RecordType.HardState, hardStateFixedBytes + voteBytes);
}

export function writeFrameRecord(buf: Buffer, at: number, frame: FrameRecord): number {
  const p = at + recordHeaderBytes;
  writeU64(buf, frame.baseIndex, p);
  writeU64(buf, frame.baseTerm, p + 8);
  writeU64(buf, frame.prevIndex, p + 16);
  writeU64(buf, frame.prevTerm, p + 24);
  return seal(buf, at, RecordType.Frame, 32);
}

export function writeFlushStartRecord(buf: Buffer, at: number, flushBytes: number, salt: number): number {
  writeU64(buf, flushBytes, at + recordHeaderBytes);
  putU32(buf, salt, at + recordHeaderBytes + 8);
  return seal(buf, at, RecordType.FlushStart, 12);
}

export function writeSegmentStartRecord(buf: Buffer, at: number, sequence: number, salt: number): number {
  const p = at + recordHeaderBytes;
  buf.writeUInt32LE(segmentMagic, p);
  buf.writeUInt32LE(segmentFormatVersion, p + 4);
  writeU64(buf, sequence, p + 8);
  putU32(buf, salt, p + 16);
  return seal(buf, at, RecordType.SegmentStart, 20);
}

// ---- decoding ----------------------------------------------------------------

export const RecordCheck = {
  Ok: 'ok',
  /** Fewer than a header's bytes, or fewer than the header's length says. */
  Truncated: 'truncated',
  /** The length and its inverted copy disagree. */
  BadLength: 'bad-length',
  BadChecksum: 'bad-checksum',
} as const;
export type RecordCheck = (typeof RecordCheck)[keyof typeof RecordCheck];

const noBytes = new Uint8Array(0);

export interface RecordAt {
  readonly check: RecordCheck;
  readonly type: number;
  /** The payload (valid only when check is Ok). */
  readonly payload: Uint8Array;
  /** Offset after the record (when the length is trusted). */
  readonly end: number;
}

/** Checks and frames the record at `at` in `bytes` (a whole segment, or a slice of it starting at `at`). */
export function readRecordAt(bytes: Uint8Array, at: number): RecordAt {
  const empty = noBytes;
  if (bytes.byteLength - at < recordHeaderBytes) return { check: RecordCheck.Truncated, type: 0, payload: empty, end: at };
  const payloadBytes = readU32(bytes, at);
  if ((~payloadBytes >>> 0) !== readU32(bytes, at + 4) || payloadBytes > recordPayloadBytesMax) {
    return { check: RecordCheck.BadLength, type: 0, payload: empty, end: at };
  }
  const end = at + recordHeaderBytes + payloadBytes;
  if (end > bytes.byteLength) return { check: RecordCheck.Truncated, type: 0, payload: empty, end };
  const crc = crc32c(bytes.subarray(at + 12, end));
  const type = bytes[at + 12]!;
  if (crc !== readU32(bytes, at + 8)) return { check: RecordCheck.BadChecksum, type, payload: empty, end };
  return { check: RecordCheck.Ok, type, payload: bytes.subarray(at + recordHeaderBytes, end), end };
}

export function decodeEntry(payload: Uint8Array): Entry {
  return {
    index: readU64(payload, 0),
    term: readU64(payload, 8),
    type: payload[16] as EntryType,
    // A copy: the payload may be a view of a reused read buffer.
    data: new Uint8Array(payload.subarray(entryFixedBytes)),
  };
}

/** Index and term of an entry record without copying its data. */
export function decodeEntryIndexTerm(payload: Uint8Array): { index: number; term: number } {
  return { index: readU64(payload, 0), term: readU64(payload, 8) };
}

export function decodeHardState(payload: Uint8Array): HardState {
  const view = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const voteBytes = view.readUInt16LE(16);
  return {
    term: readU64(payload, 0),
    commit: readU64(payload, 8),
    vote: voteBytes === noVote ? null : view.toString('utf8', hardStateFixedBytes, hardStateFixedBytes + voteBytes),
  };
}

export function decodeFrame(payload: Uint8Array): FrameRecord {
  return {
    baseIndex: readU64(payload, 0),
    baseTerm: readU64(payload, 8),
    prevIndex: readU64(payload, 16),
    prevTerm: readU64(payload, 24),
  };
}

/** `salt` is null for a format-1 segment (or a payload too short to hold one: judged by the caller). */
export function decodeSegmentStart(payload: Uint8Array): { magic: number; version: number; sequence: number; salt: number | null } {
  const view = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const version = view.readUInt32LE(4);
  const salted = version >= saltedFormatVersion && payload.byteLength >= 20;
  return { magic: view.readUInt32LE(0), version, sequence: readU64(payload, 8), salt: salted ? readU32(payload, 16) : null };
}

/** Payload sizes each type must have at least (shorter is damage). */
export function payloadBytesMin(type: number): number | undefined {
  switch (type) {
    case RecordType.SegmentStart:
      return 16;
    case RecordType.Frame:
      return 32;
    case RecordType.HardState:
      return hardStateFixedBytes;
    case RecordType.Entry:
      return entryFixedBytes;
    case RecordType.FlushStart:
      return 8;
    default:
      return undefined;
  }
}
