/**
 * Recovery on real files: torn tails are cut away, everything else that is
 * damaged refuses to start with the file and offset named.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { CorruptLogError } from '../../src/storage/errors.js';
import {
  RecordCheck,
  RecordType,
  decodeEntryIndexTerm,
  decodeHardState,
  readRecordAt,
  writeEntryRecord,
  entryRecordBytes,
} from '../../src/storage/wal-record.js';
import { encodeSegmentStart } from '../../src/storage/wal-writer.js';
import { zeroTailStart } from '../../src/storage/wal-recovery.js';
import { segmentFileName } from '../../src/storage/wal-segment.js';
import type { HardState } from '../../src/raft/types.js';
import { entries, entry, recordingLogger, tempDir, text } from './helpers.js';

interface RecordInfo {
  start: number;
  end: number;
  type: number;
  payload: Uint8Array;
}

/** The records of a segment, up to its preallocated zero tail. */
function parseRecords(bytes: Uint8Array): RecordInfo[] {
  const out: RecordInfo[] = [];
  const zeroFrom = zeroTailStart(bytes);
  for (let at = 0; at < zeroFrom; ) {
    const r = readRecordAt(bytes, at);
    assert.equal(r.check, RecordCheck.Ok);
    out.push({ start: at, end: r.end, type: r.type, payload: r.payload });
    at = r.end;
  }
  return out;
}

function segments(dir: string): string[] {
  return fs
    .readdirSync(path.join(dir, 'wal'))
    .sort()
    .map((n) => path.join(dir, 'wal', n));
}

/** A data directory with several segments; returns the last segment's path. */
async function populate(dir: string, segmentBytesMax: number, lastIndex: number): Promise<void> {
  const s = await DurableStorage.open({ dir, segmentBytesMax });
  for (let i = 1; i <= lastIndex; i += 3) {
    const hi = Math.min(i + 2, lastIndex);
    await s.append({ entries: entries(i, hi, 1), hardState: { term: 1, vote: 'n1', commit: i } });
  }
  await s.close();
}

describe('recovery from torn writes (real files)', () => {
  it('cutting the last segment at every byte of its last records keeps exactly the complete records', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await populate(dir, 4096, 60);
      const last = segments(dir).at(-1)!;
      const full = fs.readFileSync(last);
      const records = parseRecords(full);
      assert.ok(full.byteLength > records.at(-1)!.end, 'the segment has preallocated zeros after its last record');
      // Cut anywhere across the last 8 records (entries and hard states).
      const from = records[Math.max(3, records.length - 8)]!.start;
      for (let cut = from; cut <= records.at(-1)!.end; cut++) {
        fs.writeFileSync(last, full.subarray(0, cut));
        let expectedLast = 0;
        let expectedHardState: HardState | null = null;
        let boundary = 0;
        // Entries in earlier segments count too: take the maximum seen over the whole log.
        for (const seg of segments(dir).slice(0, -1)) {
          for (const r of parseRecords(fs.readFileSync(seg))) {
            if (r.type === RecordType.Entry) expectedLast = Math.max(expectedLast, decodeEntryIndexTerm(r.payload).index);
            if (r.type === RecordType.HardState) expectedHardState = decodeHardState(r.payload);
          }
        }
        for (const r of records) {
          if (r.end > cut) break;
          boundary = r.end;
          if (r.type === RecordType.Entry) expectedLast = decodeEntryIndexTerm(r.payload).index;
          if (r.type === RecordType.HardState) expectedHardState = decodeHardState(r.payload);
        }
        const logger = recordingLogger();
        const s = await DurableStorage.open({ dir, segmentBytesMax: 4096, logger });
        assert.equal(s.lastIndex(), expectedLast, `cut at ${cut}`);
        assert.deepEqual(s.hardState(), expectedHardState, `cut at ${cut}`);
        assert.deepEqual(s.entries(1, expectedLast + 1, Infinity).map(text), entries(1, expectedLast, 1).map(text));
        const warned = logger.lines.find((l) => l.level === 'warn' && /torn write/.test(l.message));
        if (cut === boundary) assert.equal(warned, undefined, `cut at ${cut} is a record boundary`);
        else assert.deepEqual(warned?.fields, { file: last, offset: boundary, bytes: cut - boundary });
        await s.close();
      }
    } finally {
      cleanup();
    }
  });

  it('a zero tail after the last record (preallocated space, or growth whose data never landed) ends the records', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await populate(dir, 1 << 20, 10);
      const last = segments(dir).at(-1)!;
      const recordsEnd = parseRecords(fs.readFileSync(last)).at(-1)!.end;
      fs.truncateSync(last, recordsEnd);
      fs.appendFileSync(last, Buffer.alloc(5000));
      const logger = recordingLogger();
      const s = await DurableStorage.open({ dir, logger });
      assert.equal(s.lastIndex(), 10);
      assert.equal(logger.lines.filter((l) => l.level === 'warn').length, 0, 'a zero tail is not damage');
      await s.append({ entries: [entry(11, 1)] });
      await s.close();
      // The new records overwrote the zeros right after the old ones.
      const records = parseRecords(fs.readFileSync(last));
      assert.ok(records.at(-1)!.end > recordsEnd);
      const r = await DurableStorage.open({ dir });
      assert.equal(r.lastIndex(), 11);
      assert.equal(text(r.entries(11, 12, Infinity)[0]!), 'e11t1');
      await r.close();
    } finally {
      cleanup();
    }
  });

  it('a segment torn while it was being created is removed', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await populate(dir, 1 << 20, 10);
      const half = encodeSegmentStart(2, 0x5a17, { baseIndex: 0, baseTerm: 0, prevIndex: 10, prevTerm: 1 }, { term: 1, vote: null, commit: 0 });
      const torn = path.join(dir, 'wal', segmentFileName(2));
      fs.writeFileSync(torn, half.subarray(0, 20));
      const s = await DurableStorage.open({ dir });
      assert.equal(s.lastIndex(), 10);
      assert.equal(fs.existsSync(torn), false);
      await s.close();
    } finally {
      cleanup();
    }
  });
});

describe('torn writes versus damage, told apart by flush boundaries (real files)', () => {
  /** One flush of entries with 1 KiB of pseudo-random data each. */
  function noisyEntries(from: number, to: number): ReturnType<typeof entry>[] {
    const out = [];
    for (let i = from; i <= to; i++) {
      const data = new Uint8Array(1024);
      for (let k = 0; k < data.length; k++) data[k] = ((i * 131 + k * 7) % 251) + 1;
      out.push({ index: i, term: 1, type: 0 as const, data });
    }
    return out;
  }

  it('a zeroed sector inside the last flush (its pages landed out of order) is a torn write', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await DurableStorage.open({ dir });
      await s.append({ entries: noisyEntries(1, 4) });
      await s.append({ entries: noisyEntries(5, 12) }); // the last flush
      await s.close();
      const last = segments(dir).at(-1)!;
      const bytes = fs.readFileSync(last);
      const records = parseRecords(bytes);
      const victim = records.find((r) => r.type === RecordType.Entry && decodeEntryIndexTerm(r.payload).index === 8)!;
      const sector = Math.ceil((victim.start + 13) / 512) * 512;
      bytes.fill(0, sector, sector + 512); // entries 9..12 after it are intact
      fs.writeFileSync(last, bytes);
      const logger = recordingLogger();
      const r = await DurableStorage.open({ dir, logger });
      assert.equal(r.lastIndex(), 7);
      assert.ok(logger.lines.some((l) => /torn write/.test(l.message)));
      await r.close();
    } finally {
      cleanup();
    }
  });

  it('the same zeroed sector in an earlier flush is damage to synced data: refused', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await DurableStorage.open({ dir });
      await s.append({ entries: noisyEntries(1, 4) });
      await s.append({ entries: noisyEntries(5, 12) });
      await s.append({ entries: noisyEntries(13, 14) }); // a later flush: 5..12 were synced
      await s.close();
      const last = segments(dir).at(-1)!;
      const bytes = fs.readFileSync(last);
      const records = parseRecords(bytes);
      const victim = records.find((r) => r.type === RecordType.Entry && decodeEntryIndexTerm(r.payload).index === 8)!;
      const sector = Math.ceil((victim.start + 13) / 512) * 512;
      bytes.fill(0, sector, sector + 512);
      fs.writeFileSync(last, bytes);
      await assert.rejects(DurableStorage.open({ dir }), (e: unknown) => {
        assert.ok(e instanceof CorruptLogError);
        assert.equal(e.file, last);
        assert.equal(e.offset, victim.start);
        return true;
      });
    } finally {
      cleanup();
    }
  });
});

describe('recovery refuses a damaged log (real files)', () => {
  it('a flipped bit in an earlier record: CorruptLogError naming the file and the record offset', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await populate(dir, 2048, 90);
      const files = segments(dir);
      assert.ok(files.length >= 3);
      const pristine = files.map((f) => fs.readFileSync(f));
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.nat(), fc.nat(7), async (fileSeed, recordSeed, bit) => {
          const f = fileSeed % files.length;
          const records = parseRecords(pristine[f]!);
          // Any record except the very last one of the last segment (that one could be a torn write).
          const candidates = f === files.length - 1 ? records.slice(0, -1) : records;
          const record = candidates[recordSeed % candidates.length]!;
          const byte = record.start + (recordSeed % (record.end - record.start));
          const damaged = Buffer.from(pristine[f]!);
          damaged[byte]! ^= 1 << bit;
          fs.writeFileSync(files[f]!, damaged);
          try {
            await assert.rejects(DurableStorage.open({ dir, segmentBytesMax: 2048 }), (e: unknown) => {
              assert.ok(e instanceof CorruptLogError, String(e));
              assert.equal(e.file, files[f]);
              assert.equal(e.offset, record.start);
              assert.match(e.message, new RegExp(`${path.basename(files[f]!)} at offset ${record.start}`));
              return true;
            });
          } finally {
            fs.writeFileSync(files[f]!, pristine[f]!);
          }
        }),
        { numRuns: 60, seed: 42 },
      );
      // Untouched again, it opens.
      const s = await DurableStorage.open({ dir, segmentBytesMax: 2048 });
      assert.equal(s.lastIndex(), 90);
      await s.close();
    } finally {
      cleanup();
    }
  });

  it('a cut in a segment that is not the last one is corruption, not a torn write', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await populate(dir, 2048, 90);
      const first = segments(dir)[0]!;
      const bytes = fs.readFileSync(first);
      const records = parseRecords(bytes);
      fs.writeFileSync(first, bytes.subarray(0, records.at(-1)!.end - 7));
      await assert.rejects(DurableStorage.open({ dir }), (e: unknown) => {
        assert.ok(e instanceof CorruptLogError);
        assert.equal(e.file, first);
        assert.equal(e.offset, records.at(-1)!.start);
        return true;
      });
    } finally {
      cleanup();
    }
  });

  it('a missing segment in the middle refuses to start, naming it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await populate(dir, 2048, 90);
      const files = segments(dir);
      fs.rmSync(files[1]!);
      await assert.rejects(DurableStorage.open({ dir }), (e: unknown) => {
        assert.ok(e instanceof CorruptLogError);
        assert.equal(e.file, files[2]);
        assert.match(e.message, new RegExp(`segment ${path.basename(files[1]!)} is missing`));
        return true;
      });
    } finally {
      cleanup();
    }
  });

  it('a missing first segment (no snapshot covers it) refuses to start', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await populate(dir, 2048, 90);
      const files = segments(dir);
      fs.rmSync(files[0]!);
      await assert.rejects(DurableStorage.open({ dir }), (e: unknown) => {
        assert.ok(e instanceof CorruptLogError);
        assert.match(e.message, /segments or a snapshot are missing/);
        return true;
      });
    } finally {
      cleanup();
    }
  });

  it('a gap in entry indexes refuses to start, naming file and offset', async () => {
    const { dir, cleanup } = tempDir();
    try {
      fs.mkdirSync(path.join(dir, 'wal'), { recursive: true });
      const start = encodeSegmentStart(1, 0x5a17, { baseIndex: 0, baseTerm: 0, prevIndex: 0, prevTerm: 0 }, { term: 1, vote: null, commit: 0 });
      const list = [entry(1, 1), entry(2, 1), entry(4, 1)];
      const body = Buffer.alloc(list.reduce((n, e) => n + entryRecordBytes(e), 0));
      let at = 0;
      const offsets: number[] = [];
      for (const e of list) {
        offsets.push(start.byteLength + at);
        at = writeEntryRecord(body, at, e);
      }
      const file = path.join(dir, 'wal', segmentFileName(1));
      fs.writeFileSync(file, Buffer.concat([start, body]));
      await assert.rejects(DurableStorage.open({ dir }), (e: unknown) => {
        assert.ok(e instanceof CorruptLogError);
        assert.equal(e.file, file);
        assert.equal(e.offset, offsets[2]);
        assert.match(e.message, /gap: entry 4 follows entry 2/);
        return true;
      });
    } finally {
      cleanup();
    }
  });
});
