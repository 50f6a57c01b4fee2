/**
 * Recovery cannot be fooled by record images inside values: a value may hold
 * a perfect image of a FlushStart record (of either format, with any salt but
 * the segment's own secret one), and a torn last flush holding it is still
 * repaired as a torn tail, while damage followed by a real later flush is
 * still refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '@node-rs/crc32';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { CorruptLogError } from '../../src/storage/errors.js';
import {
  RecordType,
  entryRecordBytes,
  flushStartRecordBytes,
  frameRecordBytes,
  hardStateRecordBytes,
  segmentMagic,
  writeEntryRecord,
  writeFlushStartRecord,
  writeFrameRecord,
  writeHardStateRecord,
} from '../../src/storage/wal-record.js';
import { segmentFileName } from '../../src/storage/wal-segment.js';
import { SimulatedDisk } from '../../src/testing/simulated-disk.js';
import { entries, entry, recordingLogger, text } from './helpers.js';

/** A format-1 FlushStart record image (no salt). */
function unsaltedFlushStartImage(flushBytes: number): Buffer {
  const b = Buffer.alloc(21);
  b.writeUInt32LE(8, 0);
  b.writeUInt32LE(~8 >>> 0, 4);
  b[12] = RecordType.FlushStart;
  b.writeUInt32LE(flushBytes, 13);
  b.writeUInt32LE(crc32c(b.subarray(12, 21)), 8);
  return b;
}

/** A value of `bytes` bytes whose tail is full of FlushStart images: every salt a writer could guess cheaply. */
function hostileValue(bytes: number): Buffer {
  const value = Buffer.alloc(bytes, 0x61);
  let at = 520; // past the first sector of the record, which the "power cut" loses
  value.set(unsaltedFlushStartImage(64), at);
  at += 21;
  for (const salt of [0, 1, 0xffffffff, 0x5a17]) {
    writeFlushStartRecord(value, at, 64, salt);
    at += flushStartRecordBytes;
  }
  return value;
}

/** Zeros the 13-byte header of the entry record holding `value` (a power cut that lost the flush's first sector). */
function loseHeaderOf(disk: SimulatedDisk, file: string, value: Buffer): void {
  disk.corrupt(file, (bytes) => {
    const at = Buffer.from(bytes).indexOf(value);
    assert.ok(at > 0, 'the value is in the segment');
    bytes.fill(0, at - 17 - 13, at - 17);
    return bytes;
  });
}

describe('torn tail with record images inside a value', () => {
  it('a torn last flush whose value holds FlushStart images is repaired, not refused', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk });
    await s.append({ entries: entries(1, 3, 1) });
    const value = hostileValue(1200);
    await s.append({ entries: [{ index: 4, term: 1, type: 0, data: value }] });
    await s.close();
    const [segment] = await disk.readdir('/data/wal');
    loseHeaderOf(disk, `/data/wal/${segment}`, value);
    const logger = recordingLogger();
    const r = await DurableStorage.open({ dir: '/data', disk, logger });
    assert.equal(r.lastIndex(), 3);
    assert.ok(logger.lines.some((l) => /truncating a torn write/.test(l.message)));
    await r.close();
  });

  it('the same damage followed by a real later flush is still refused', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk });
    await s.append({ entries: entries(1, 3, 1) });
    const value = hostileValue(1200);
    await s.append({ entries: [{ index: 4, term: 1, type: 0, data: value }] });
    await s.append({ entries: entries(5, 5, 1) });
    await s.close();
    const [segment] = await disk.readdir('/data/wal');
    loseHeaderOf(disk, `/data/wal/${segment}`, value);
    await assert.rejects(DurableStorage.open({ dir: '/data', disk }), CorruptLogError);
  });
});

describe('WAL format 1 (no salts)', () => {
  it('is still read; new flushes go to a new, salted segment', async () => {
    const disk = new SimulatedDisk();
    await disk.mkdirp('/data/wal');
    const start = Buffer.alloc(13 + 16);
    start.writeUInt32LE(16, 0);
    start.writeUInt32LE(~16 >>> 0, 4);
    start[12] = RecordType.SegmentStart;
    start.writeUInt32LE(segmentMagic, 13);
    start.writeUInt32LE(1, 17);
    start.writeUInt32LE(1, 21); // sequence 1 (u64 low half)
    start.writeUInt32LE(crc32c(start.subarray(12)), 8);
    const hs = { term: 1, vote: 'n1', commit: 2 };
    const head = Buffer.alloc(frameRecordBytes + hardStateRecordBytes(hs));
    writeHardStateRecord(head, writeFrameRecord(head, 0, { baseIndex: 0, baseTerm: 0, prevIndex: 0, prevTerm: 0 }), hs);
    const list = entries(1, 3, 1);
    const body = Buffer.alloc(list.reduce((n, e) => n + entryRecordBytes(e), 0));
    list.reduce((at, e) => writeEntryRecord(body, at, e), 0);
    const flush = Buffer.concat([unsaltedFlushStartImage(21 + body.byteLength), body]);
    const file = await disk.open(`/data/wal/${segmentFileName(1)}`, 'create-exclusive');
    await file.writev([start, head, flush], 0);
    await file.datasync();
    for (const d of ['/data/wal', '/data', '/']) await disk.fsyncDir(d);

    const s = await DurableStorage.open({ dir: '/data', disk });
    assert.equal(s.lastIndex(), 3);
    assert.deepEqual(s.hardState(), hs);
    assert.deepEqual(await disk.readdir('/data/wal'), [segmentFileName(1), segmentFileName(2)]);
    await s.append({ entries: [entry(4, 1)] });
    await s.close();
    const r = await DurableStorage.open({ dir: '/data', disk });
    assert.deepEqual(r.entries(1, 5, Infinity).map(text), [...list, entry(4, 1)].map(text));
    await r.close();
  });
});
