/**
 * WAL preallocation: flushes overwrite zero-filled, synced space instead of
 * extending the segment file; recovery tells that zero tail from damage; a
 * crash while zeros are being written loses nothing acknowledged.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { SimulatedDisk } from '../../src/testing/simulated-disk.js';
import { CorruptLogError, StorageFailedError } from '../../src/storage/errors.js';
import type { DiskFile } from '../../src/storage/disk.js';
import { RecordCheck, RecordType, decodeEntryIndexTerm, readRecordAt } from '../../src/storage/wal-record.js';
import { zeroTailStart } from '../../src/storage/wal-recovery.js';
import type { Entry } from '../../src/raft/types.js';
import { entries, entry, ForwardingDisk, recordingLogger, tempDir, text } from './helpers.js';

interface RecordInfo {
  start: number;
  end: number;
  type: number;
  index?: number;
}

/** The records of a segment up to its zero tail. */
function parseRecords(bytes: Uint8Array): RecordInfo[] {
  const out: RecordInfo[] = [];
  const zeroFrom = zeroTailStart(bytes);
  for (let at = 0; at < zeroFrom; ) {
    const r = readRecordAt(bytes, at);
    assert.equal(r.check, RecordCheck.Ok, `record at ${at}`);
    out.push({
      start: at,
      end: r.end,
      type: r.type,
      ...(r.type === RecordType.Entry ? { index: decodeEntryIndexTerm(r.payload).index } : {}),
    });
    at = r.end;
  }
  return out;
}

function isZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

interface WriteSeen {
  path: string;
  position: number;
  bytes: number;
  zeros: boolean;
  /** Length of the file's durable image when the write was issued. */
  durableBefore: number;
}

/** A SimulatedDisk seen through a wrapper that records every writev, and can fail zero writes (preallocation). */
class ObservedDisk extends ForwardingDisk {
  readonly writes: WriteSeen[] = [];
  failZeroWritesWith: string | null = null;
  failedZeroWrites = 0;

  constructor(readonly sim: SimulatedDisk) {
    super(sim);
  }

  protected override writev(file: DiskFile, buffers: readonly Uint8Array[], position: number): Promise<void> {
    const zeros = buffers.every(isZero);
    if (zeros && this.failZeroWritesWith !== null) {
      this.failedZeroWrites++;
      return Promise.reject(Object.assign(new Error(`${this.failZeroWritesWith}: injected`), { code: this.failZeroWritesWith }));
    }
    this.writes.push({
      path: file.path,
      position,
      bytes: buffers.reduce((n, b) => n + b.byteLength, 0),
      zeros,
      durableBefore: this.sim.durableBytes(file.path),
    });
    return file.writev(buffers, position);
  }
}

/** Entries of 1 KiB of non-zero data, so that zeroed sectors inside them are visible. */
function noisy(from: number, to: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) {
    const data = new Uint8Array(1024);
    for (let k = 0; k < data.length; k++) data[k] = ((i * 131 + k * 7) % 251) + 1;
    out.push({ index: i, term: 1, type: 0, data });
  }
  return out;
}

/** A SimulatedDisk whose zero-only writes (preallocation) wait until `open()` is called on the gate. */
class GatedDisk extends ObservedDisk {
  private held: Array<() => void> = [];
  closed = true;

  get heldZeroWrites(): number {
    return this.held.length;
  }

  release(): void {
    this.closed = false;
    for (const go of this.held.splice(0)) go();
  }

  protected override async writev(file: DiskFile, buffers: readonly Uint8Array[], position: number): Promise<void> {
    if (this.closed && buffers.every(isZero)) await new Promise<void>((go) => this.held.push(go));
    return super.writev(file, buffers, position);
  }
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

const walFile = (sequence: number) => `/data/wal/wal-${sequence.toString(16).padStart(16, '0')}.log`;

describe('WAL preallocation', () => {
  it('in steady state every flush overwrites synced, zero-filled space; zeros written stay within 2x', async () => {
    const disk = new ObservedDisk(new SimulatedDisk());
    const chunk = 16 * 1024;
    const s = await DurableStorage.open({ dir: '/data', disk, preallocateBytes: chunk });
    const appends = 1500;
    for (let i = 1; i <= appends; i++) {
      await s.append({ entries: [entry(i, 1, 'x'.repeat(100))], hardState: { term: 1, vote: 'n1', commit: i - 1 } });
    }
    const path1 = walFile(1);
    const recordsEnd = parseRecords(disk.sim.fileBytes(path1)).at(-1)!.end;
    assert.ok(recordsEnd > 10 * chunk, 'the run crossed many preallocation chunks');
    assert.equal(s.walStats.flushesBeyondPreallocation, 0, 'no flush had to extend the file');
    const recordWrites = disk.writes.filter((w) => w.path === path1 && !w.zeros);
    assert.equal(recordWrites.length, 1 + 1 + appends, 'segment creation, the open frame, one write per append');
    for (const w of recordWrites.slice(1)) {
      assert.ok(w.position + w.bytes <= w.durableBefore, `flush at ${w.position} (${w.bytes} B) overwrote durable space ending at ${w.durableBefore}`);
    }
    // The file on disk is ahead of the last record, and by a bounded amount.
    const durable = disk.sim.durableBytes(path1);
    assert.ok(durable > recordsEnd);
    assert.ok(durable - recordsEnd <= 2 * chunk + 4096, `${durable - recordsEnd} zero bytes ahead`);
    assert.ok(s.walStats.preallocatedBytes <= recordsEnd + 2 * chunk + 4096, 'each byte is written at most once as zeros');
    await s.close();
    const r = await DurableStorage.open({ dir: '/data', disk });
    assert.equal(r.lastIndex(), appends);
    assert.equal(text(r.entries(appends, appends + 1, Infinity)[0]!), 'x'.repeat(100));
    await r.close();
  });

  it('segment rollover: only the flush that creates a segment extends a file; old segments keep a bounded zero tail', async () => {
    const disk = new ObservedDisk(new SimulatedDisk());
    const segmentBytesMax = 32 * 1024;
    const s = await DurableStorage.open({ dir: '/data', disk, segmentBytesMax, preallocateBytes: 8 * 1024 });
    for (let i = 1; i <= 2000; i += 4) {
      await s.append({ entries: entries(i, i + 3, 1).map((e) => ({ ...e, data: new Uint8Array(60).fill(i % 251) })) });
    }
    const stats = s.walStats;
    assert.ok(stats.rollovers >= 3);
    assert.equal(stats.flushesBeyondPreallocation, stats.rollovers);
    const names = (await disk.sim.readdir('/data/wal')).sort();
    for (const name of names.slice(0, -1)) {
      const bytes = disk.sim.fileBytes(`/data/wal/${name}`);
      assert.ok(bytes.byteLength <= segmentBytesMax, 'zeros never go past the segment bound');
      const records = parseRecords(bytes);
      assert.ok(bytes.byteLength - records.at(-1)!.end < 2048, 'an old segment keeps less than one flush of zeros');
    }
    await s.close();
    const r = await DurableStorage.open({ dir: '/data', disk, segmentBytesMax });
    assert.equal(r.lastIndex(), 2000);
    assert.deepEqual(r.entries(1, 2001, Infinity).length, 2000);
    await r.close();
  });

  it('flushes do not wait for a zero write in flight, except one that would write into its range', async () => {
    const disk = new GatedDisk(new SimulatedDisk());
    const s = await DurableStorage.open({ dir: '/data', disk, preallocateBytes: 16 * 1024 });
    await turns(3);
    assert.equal(disk.heldZeroWrites, 1, 'the first zero write ahead is in flight (held)');
    // A small flush fits in the zeros already synced: it does not wait.
    await s.append({ entries: [entry(1, 1)] });
    // A flush larger than the zeros ahead would write where the held zero write will: it waits.
    let big = false;
    const bigAppend = s.append({ entries: noisy(2, 41) }).then(() => (big = true));
    await turns(5);
    assert.equal(big, false, 'the large flush waits for the zero write it overlaps');
    disk.release();
    await bigAppend;
    await s.append({ entries: [entry(42, 1)] });
    await s.close();
    // Had the zeros landed after the large flush, its records would be gone.
    const r = await DurableStorage.open({ dir: '/data', disk });
    assert.equal(r.lastIndex(), 42);
    assert.deepEqual(r.entries(2, 42, Infinity).map((e) => e.data), noisy(2, 41).map((e) => e.data));
    await r.close();
  });

  it('on real files the segment is larger than its records, and reopens without warnings', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await DurableStorage.open({ dir });
      for (let i = 1; i <= 200; i++) await s.append({ entries: [entry(i, 1)], hardState: { term: 1, vote: 'n1', commit: i } });
      await s.close();
      const file = path.join(dir, 'wal', fs.readdirSync(path.join(dir, 'wal'))[0]!);
      const bytes = fs.readFileSync(file);
      const recordsEnd = parseRecords(bytes).at(-1)!.end;
      assert.ok(bytes.byteLength > recordsEnd, `file ${bytes.byteLength} B, records end at ${recordsEnd}`);
      assert.ok(isZero(bytes.subarray(recordsEnd)));
      const logger = recordingLogger();
      const r = await DurableStorage.open({ dir, logger });
      assert.equal(r.lastIndex(), 200);
      assert.deepEqual(logger.lines.filter((l) => l.level !== 'info'), []);
      await r.close();
    } finally {
      cleanup();
    }
  });

  it('preallocation off (preallocateBytes 0): every flush extends the file, no zeros follow the records', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk, preallocateBytes: 0 });
    for (let i = 1; i <= 20; i++) await s.append({ entries: [entry(i, 1)] });
    assert.equal(s.walStats.flushesBeyondPreallocation, s.walStats.flushes);
    assert.equal(s.walStats.preallocatedBytes, 0);
    const bytes = disk.fileBytes(walFile(1));
    assert.equal(parseRecords(bytes).at(-1)!.end, bytes.byteLength);
    await s.close();
  });
});

describe('recovery with a preallocated zero tail', () => {
  it('zeroed bytes inside synced records (a later flush follows) are refused, naming file and offset', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await DurableStorage.open({ dir });
      await s.append({ entries: noisy(1, 4) });
      await s.append({ entries: noisy(5, 8) });
      await s.append({ entries: noisy(9, 10) });
      await s.close();
      const file = path.join(dir, 'wal', fs.readdirSync(path.join(dir, 'wal'))[0]!);
      const pristine = fs.readFileSync(file);
      const records = parseRecords(pristine);
      const victim = records.find((r) => r.index === 6)!;
      // The whole record zeroed: a zero header at a record boundary, but data after it.
      const zeroed = Buffer.from(pristine);
      zeroed.fill(0, victim.start, victim.end);
      fs.writeFileSync(file, zeroed);
      await assert.rejects(DurableStorage.open({ dir }), (e: unknown) => {
        assert.ok(e instanceof CorruptLogError, String(e));
        assert.equal(e.file, file);
        assert.equal(e.offset, victim.start);
        assert.match(e.reason, /zeroed bytes where a record should start/);
        return true;
      });
      // From the victim to the end of the file everything zeroed except the last flush: still refused.
      const last = records.find((r) => r.index === 9)!;
      const flushStart = records.filter((r) => r.type === RecordType.FlushStart && r.end <= last.start).at(-1)!;
      const gap = Buffer.from(pristine);
      gap.fill(0, victim.start, flushStart.start);
      fs.writeFileSync(file, gap);
      await assert.rejects(DurableStorage.open({ dir }), (e: unknown) => e instanceof CorruptLogError && e.offset === victim.start);
      fs.writeFileSync(file, pristine);
      const r = await DurableStorage.open({ dir });
      assert.equal(r.lastIndex(), 10);
      await r.close();
    } finally {
      cleanup();
    }
  });

  it('an older segment whose last records were zeroed is refused: the next segment names the gap', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await DurableStorage.open({ dir, segmentBytesMax: 4096 });
      for (let i = 1; i <= 12; i += 2) await s.append({ entries: noisy(i, i + 1) });
      await s.close();
      const files = fs.readdirSync(path.join(dir, 'wal')).sort().map((n) => path.join(dir, 'wal', n));
      assert.ok(files.length >= 3);
      const bytes = fs.readFileSync(files[0]!);
      const lastEntry = parseRecords(bytes).filter((r) => r.type === RecordType.Entry).at(-1)!;
      bytes.fill(0, lastEntry.start); // its zeros now run to the end of the file, like a preallocated tail
      fs.writeFileSync(files[0]!, bytes);
      await assert.rejects(DurableStorage.open({ dir, segmentBytesMax: 4096 }), (e: unknown) => {
        assert.ok(e instanceof CorruptLogError, String(e));
        assert.equal(e.file, files[1]);
        assert.match(e.reason, /gap/);
        return true;
      });
    } finally {
      cleanup();
    }
  });

  it('garbage after a zero header in the preallocated space is a torn write: truncated, and new records follow the good ones', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await DurableStorage.open({ dir });
      await s.append({ entries: noisy(1, 3) });
      await s.close();
      const file = path.join(dir, 'wal', fs.readdirSync(path.join(dir, 'wal'))[0]!);
      const bytes = fs.readFileSync(file);
      const recordsEnd = parseRecords(bytes).at(-1)!.end;
      // Sectors of a lost flush that landed out of order: its start never did.
      const sector = Math.ceil((recordsEnd + 600) / 512) * 512;
      bytes.fill(0x5a, sector, sector + 512);
      fs.writeFileSync(file, bytes);
      const logger = recordingLogger();
      const r = await DurableStorage.open({ dir, logger });
      assert.equal(r.lastIndex(), 3);
      const warned = logger.lines.find((l) => /torn write/.test(l.message));
      assert.deepEqual(warned?.fields, { file, offset: recordsEnd, bytes: bytes.byteLength - recordsEnd });
      const after = fs.readFileSync(file);
      const frame = parseRecords(after).at(-1)!; // the frame written at open, right after the good records
      assert.equal(frame.type, RecordType.Frame);
      assert.ok(frame.start >= recordsEnd && frame.start < recordsEnd + 64);
      assert.ok(isZero(after.subarray(frame.end)), 'the garbage is gone: only zeros after the records');
      await r.append({ entries: noisy(4, 5) });
      await r.close();
      const again = await DurableStorage.open({ dir });
      assert.equal(again.lastIndex(), 5);
      assert.deepEqual(again.entries(1, 6, Infinity).map((e) => e.data), noisy(1, 5).map((e) => e.data));
      await again.close();
    } finally {
      cleanup();
    }
  });

  it('a last segment holding only zeros (created, then the crash came before its start records landed) is removed', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await DurableStorage.open({ dir });
      await s.append({ entries: entries(1, 5, 1) });
      await s.close();
      for (const bytes of [0, 70_000]) {
        const torn = path.join(dir, 'wal', 'wal-0000000000000002.log');
        fs.writeFileSync(torn, Buffer.alloc(bytes));
        const logger = recordingLogger();
        const r = await DurableStorage.open({ dir, logger });
        assert.equal(r.lastIndex(), 5);
        assert.equal(fs.existsSync(torn), false);
        assert.ok(logger.lines.some((l) => /torn while it was created/.test(l.message)));
        await r.close();
      }
    } finally {
      cleanup();
    }
  });
});

describe('crashes on the preallocated layout (simulated disk)', () => {
  it('a crash while zeros ahead are written (not yet synced) loses nothing acknowledged and reports no damage', async () => {
    let crashesWithZerosPending = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const sim = new SimulatedDisk({ seed });
      const disk = new ObservedDisk(sim);
      const chunk = 4096;
      let s = await DurableStorage.open({ dir: '/data', disk, preallocateBytes: chunk });
      let written = 0;
      for (let round = 0; round < 3; round++) {
        const zeroWritesBefore = disk.writes.filter((w) => w.zeros).length;
        // Acknowledged appends until one of them leaves a zero write behind it, not yet synced.
        for (let k = 0; k < 200; k++) {
          written++;
          await s.append({ entries: [entry(written, 1, `v${written}-`.padEnd(40 + (seed % 7) * 30, '.'))] });
          if (disk.writes.filter((w) => w.zeros).length > zeroWritesBefore) break;
        }
        const path = walFile((await sim.readdir('/data/wal')).length);
        if (sim.durableBytes(path) < sim.fileBytes(path).byteLength) crashesWithZerosPending++;
        sim.crash({ tear: true });
        const logger = recordingLogger();
        s = await DurableStorage.open({ dir: '/data', disk, preallocateBytes: chunk, logger });
        assert.equal(s.lastIndex(), written, `seed ${seed}: every acknowledged entry survives`);
        assert.equal(text(s.entries(written, written + 1, Infinity)[0]!).split('-')[0], `v${written}`);
        assert.deepEqual(logger.lines.filter((l) => l.level !== 'info'), [], `seed ${seed}: lost zeros are not damage`);
      }
      await s.close();
    }
    assert.ok(crashesWithZerosPending >= 40, `only ${crashesWithZerosPending} crashes hit unsynced zeros`);
  });

  it('torn flushes into preallocated space (sectors landing in any order): nothing acknowledged lost, nothing invented, only zeros after the records', async () => {
    let torn = 0;
    for (let seed = 1; seed <= 80; seed++) {
      const disk = new SimulatedDisk({ seed });
      let s = await DurableStorage.open({ dir: '/data', disk });
      let acknowledged = 0;
      let written = 0;
      for (let round = 0; round < 3; round++) {
        for (let k = 0; k < 1 + (seed % 3); k++) {
          const from = written + 1;
          written += 2;
          await s.append({ entries: noisy(from, written) });
          acknowledged = written;
        }
        disk.pauseSyncs();
        const from = written + 1;
        written += 1 + (seed % 4);
        void s.append({ entries: noisy(from, written) }).catch(() => {});
        while (disk.heldSyncCount === 0) await new Promise((r) => setImmediate(r));
        disk.crash({ tear: true });
        const logger = recordingLogger();
        s = await DurableStorage.open({ dir: '/data', disk, logger });
        if (logger.lines.some((l) => /torn write/.test(l.message))) torn++;
        assert.ok(s.lastIndex() >= acknowledged, `seed ${seed}: lost acknowledged entries`);
        assert.ok(s.lastIndex() <= written);
        assert.deepEqual(
          s.entries(1, s.lastIndex() + 1, Infinity).map((e) => e.data),
          noisy(1, s.lastIndex()).map((e) => e.data),
        );
        // Recovery left nothing but zeros after the records (the open frame was written since).
        await s.append({}); // barrier
        const names = await disk.readdir('/data/wal');
        const bytes = disk.fileBytes(`/data/wal/${names.at(-1)!}`);
        const records = parseRecords(bytes);
        assert.ok(isZero(bytes.subarray(records.at(-1)!.end)));
        written = s.lastIndex();
        acknowledged = written;
      }
      await s.close();
    }
    assert.ok(torn > 20, `only ${torn} crashes left a torn write: the test is not exercising recovery`);
  });

  it('a failed zero write poisons the log like a failed flush: logged, and later writes refused', async () => {
    const disk = new ObservedDisk(new SimulatedDisk());
    const logger = recordingLogger();
    const s = await DurableStorage.open({ dir: '/data', disk, preallocateBytes: 4096, logger });
    disk.failZeroWritesWith = 'ENOSPC';
    let index = 0;
    // Appends resolve (their records are durable) until one leaves a failed zero write behind.
    while (disk.failedZeroWrites === 0 && index < 500) {
      index++;
      await s.append({ entries: [entry(index, 1, 'y'.repeat(200))] });
    }
    assert.equal(disk.failedZeroWrites, 1);
    await assert.rejects(s.append({ entries: [entry(index + 1, 1)] }), (e: unknown) => {
      assert.ok(e instanceof StorageFailedError);
      assert.equal((e.cause as NodeJS.ErrnoException).code, 'ENOSPC');
      return true;
    });
    assert.ok(s.failure instanceof StorageFailedError);
    assert.ok(logger.lines.some((l) => l.level === 'error' && /preallocating WAL space failed/.test(l.message)));
    await s.close();
    disk.failZeroWritesWith = null;
    const r = await DurableStorage.open({ dir: '/data', disk });
    assert.equal(r.lastIndex(), index);
    await r.close();
  });
});
