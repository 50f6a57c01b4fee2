import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  RecordCheck,
  RecordType,
  decodeEntry,
  decodeFrame,
  decodeHardState,
  entryRecordBytes,
  frameRecordBytes,
  hardStateRecordBytes,
  readRecordAt,
  writeEntryRecord,
  writeFrameRecord,
  writeHardStateRecord,
} from '../../src/storage/wal-record.js';
import { hasTornZeros, zeroTailStart } from '../../src/storage/wal-recovery.js';
import { deletableSegmentCount, type Segment } from '../../src/storage/wal-segment.js';

describe('WAL records', () => {
  it('entries, hard states and frames round-trip, with indexes up to 2^53', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ maxLength: 300 }),
        fc.option(fc.string({ maxLength: 20 })),
        (index, term, data, vote) => {
          const e = { index, term, type: 1 as const, data };
          const hs = { term, vote, commit: index };
          const frame = { baseIndex: index - 1, baseTerm: term, prevIndex: index, prevTerm: term };
          const buf = Buffer.alloc(entryRecordBytes(e) + hardStateRecordBytes(hs) + frameRecordBytes);
          let at = writeEntryRecord(buf, 0, e);
          at = writeHardStateRecord(buf, at, hs);
          writeFrameRecord(buf, at, frame);
          const r1 = readRecordAt(buf, 0);
          assert.equal(r1.check, RecordCheck.Ok);
          assert.equal(r1.type, RecordType.Entry);
          assert.deepEqual(decodeEntry(r1.payload), { ...e, data: Uint8Array.from(data) });
          const r2 = readRecordAt(buf, r1.end);
          assert.equal(r2.type, RecordType.HardState);
          assert.deepEqual(decodeHardState(r2.payload), hs);
          const r3 = readRecordAt(buf, r2.end);
          assert.deepEqual(decodeFrame(r3.payload), frame);
          assert.equal(r3.end, buf.byteLength);
        },
      ),
    );
  });

  it('classifies damage: cut, damaged length, damaged checksum', () => {
    const e = { index: 7, term: 2, type: 0 as const, data: Buffer.from('hello world') };
    const buf = Buffer.alloc(entryRecordBytes(e));
    writeEntryRecord(buf, 0, e);
    assert.equal(readRecordAt(buf.subarray(0, 10), 0).check, RecordCheck.Truncated);
    assert.equal(readRecordAt(buf.subarray(0, buf.byteLength - 1), 0).check, RecordCheck.Truncated);
    for (let byte = 0; byte < buf.byteLength; byte++) {
      const bad = Buffer.from(buf);
      bad[byte]! ^= 0x10;
      const check = readRecordAt(bad, 0).check;
      if (byte < 8) assert.equal(check, RecordCheck.BadLength, `byte ${byte}`);
      else assert.equal(check, RecordCheck.BadChecksum, `byte ${byte}`);
    }
  });

  it('sees the zero patterns of a torn write, not a flipped bit', () => {
    const bytes = new Uint8Array(2048).fill(7);
    assert.equal(hasTornZeros(bytes, 100, 1500), false);
    bytes.fill(0, 100, 113); // a header that never landed
    assert.equal(hasTornZeros(bytes, 100, 1500), true);
    bytes.fill(7);
    bytes.fill(0, 1024, 1536); // a whole sector inside the record
    assert.equal(hasTornZeros(bytes, 100, 1500), true);
    bytes.fill(7);
    bytes.fill(0, 600, 1000); // zeros, but no whole sector: data, not a tear
    assert.equal(hasTornZeros(bytes, 100, 1500), false);
    bytes.fill(7);
    bytes.fill(0, 505, 512); // the record's first sector was lost (header straddles 512), the next one landed
    assert.equal(hasTornZeros(bytes, 505, 1500), true);
    bytes.fill(7);
    bytes.fill(0, 506, 512); // a zero run that starts after the record does: data
    assert.equal(hasTornZeros(bytes, 505, 1500), false);
  });

  it('finds where the zero tail of a segment begins', () => {
    const bytes = new Uint8Array(10_000);
    assert.equal(zeroTailStart(bytes), 0);
    bytes[0] = 1;
    assert.equal(zeroTailStart(bytes), 1);
    bytes[8191] = 1;
    assert.equal(zeroTailStart(bytes), 8192);
    bytes[9999] = 1;
    assert.equal(zeroTailStart(bytes), 10_000);
    // Unaligned views and lengths take the byte-by-byte path.
    assert.equal(zeroTailStart(bytes.subarray(3, 9000)), 8192 - 3);
    assert.equal(zeroTailStart(bytes.subarray(0, 8195)), 8192);
    assert.equal(zeroTailStart(new Uint8Array(0)), 0);
  });
});

describe('segment deletion', () => {
  const seg = (sequence: number, startPrevIndex: number, lowWaterIndex: number): Segment =>
    ({ sequence, startPrevIndex, lowWaterIndex }) as unknown as Segment;

  it('deletes segments whose contents the snapshot covers, never the active one', () => {
    const segments = [seg(1, 0, 0), seg(2, 100, 100), seg(3, 200, 200), seg(4, 300, 300)];
    assert.equal(deletableSegmentCount(segments, 50), 0);
    assert.equal(deletableSegmentCount(segments, 100), 1);
    assert.equal(deletableSegmentCount(segments, 250), 2);
    assert.equal(deletableSegmentCount(segments, 1000), 3);
  });

  it('keeps older segments when a later record reaches back below a candidate start (a truncation)', () => {
    // Segment 3 holds a truncation back to index 150, whose predecessors live in segment 2.
    const segments = [seg(1, 0, 0), seg(2, 100, 100), seg(3, 200, 150), seg(4, 300, 300)];
    assert.equal(deletableSegmentCount(segments, 250), 1);
    assert.equal(deletableSegmentCount(segments, 350), 3);
  });
});
