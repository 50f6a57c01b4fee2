/**
 * DurableStorage over the simulated disk: power cuts before and after fsync,
 * torn tails, a crash between installing a snapshot and recording it, and a
 * failing disk.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedDisk } from '../../src/testing/simulated-disk.js';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { StorageFailedError } from '../../src/storage/errors.js';
import { entries, entry, recordingLogger, text } from './helpers.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('DurableStorage on a simulated disk: crashes', () => {
  it('a crash before the fsync loses the batch; after it, the batch is kept', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk });
    await s.append({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 'n1', commit: 1 } });
    disk.pauseSyncs();
    let acknowledged = false;
    void s.append({ entries: entries(4, 6, 1), hardState: { term: 1, vote: 'n1', commit: 4 } }).then(() => (acknowledged = true));
    while (disk.heldSyncCount === 0) await new Promise((r) => setImmediate(r));
    assert.equal(s.lastIndex(), 6); // visible in memory...
    disk.crash(); // ...but the power went before the fsync returned
    assert.equal(acknowledged, false);
    const r = await DurableStorage.open({ dir: '/data', disk });
    assert.equal(r.lastIndex(), 3);
    assert.equal(r.hardState().commit, 1);
    await r.append({ entries: entries(4, 6, 2) });
    disk.crash(); // after the fsync: kept
    const again = await DurableStorage.open({ dir: '/data', disk });
    assert.equal(again.lastIndex(), 6);
    assert.deepEqual(again.entries(1, 7, Infinity).map(text), [...entries(1, 3, 1), ...entries(4, 6, 2)].map(text));
    await again.close();
  });

  it('torn crashes at random points never lose an acknowledged entry and never invent one', async () => {
    let tornTails = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const disk = new SimulatedDisk({ seed });
      let s = await DurableStorage.open({ dir: '/data', disk, segmentBytesMax: 1500 });
      let acknowledgedLast = 0;
      let written = 0;
      for (let round = 0; round < 3; round++) {
        // Some acknowledged appends...
        for (let k = 0; k < seed % 4; k++) {
          const from = written + 1;
          written += 3;
          await s.append({ entries: entries(from, written, 1) });
          acknowledgedLast = written;
        }
        // ...then a flush whose records are written but whose fsync never returns.
        disk.pauseSyncs();
        for (let k = 0; k < 4; k++) {
          const from = written + 1;
          written += 3;
          const hi = written;
          void s.append({ entries: entries(from, hi, 1) }).then(
            () => void (acknowledgedLast = Math.max(acknowledgedLast, hi)),
            () => {},
          );
        }
        while (disk.heldSyncCount === 0) await new Promise((r) => setImmediate(r));
        disk.crash({ tear: true });
        const logger = recordingLogger();
        s = await DurableStorage.open({ dir: '/data', disk, segmentBytesMax: 1500, logger });
        if (logger.lines.some((l) => /torn/.test(l.message))) tornTails++;
        assert.ok(s.lastIndex() >= acknowledgedLast, `seed ${seed}: lost acknowledged entries (${s.lastIndex()} < ${acknowledgedLast})`);
        assert.ok(s.lastIndex() <= written);
        assert.deepEqual(s.entries(1, s.lastIndex() + 1, Infinity).map(text), entries(1, s.lastIndex(), 1).map(text));
        written = s.lastIndex();
        acknowledgedLast = written;
      }
      await s.close();
    }
    assert.ok(tornTails > 10, `only ${tornTails} crashes left a torn tail: the test is not exercising recovery`);
  });
});

describe('DurableStorage: crash between installing a snapshot and recording it in the WAL', () => {
  it('recovery applies Raft §7 itself, and records its decision before new entries land', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk });
    await s.append({ entries: entries(1, 20, 1) });
    await s.receiveSnapshotChunk({ index: 15, term: 2, offset: 0, data: Buffer.from('leader state'), done: true });
    // The snapshot file becomes durable, then the WAL frame that records the reset fails.
    disk.injectFault({ op: 'datasync', code: 'EIO', pathIncludes: '/wal/' });
    await assert.rejects(s.installSnapshot({ index: 15, term: 2, conf: s.initialState().confState }), StorageFailedError);
    disk.crash();
    let r = await DurableStorage.open({ dir: '/data', disk });
    // Entry 15 on disk has term 1, the snapshot says 2: the whole old log goes (§7).
    assert.equal(r.firstIndex(), 16);
    assert.equal(r.lastIndex(), 15);
    await r.append({ entries: entries(16, 18, 2) });
    await r.close();
    r = await DurableStorage.open({ dir: '/data', disk });
    assert.equal(r.lastIndex(), 18);
    assert.deepEqual(r.entries(16, 19, Infinity).map(text), entries(16, 18, 2).map(text));
    await r.close();
  });
});

describe('DurableStorage on a failing disk', () => {
  for (const [op, code] of [
    ['writev', 'ENOSPC'],
    ['datasync', 'EIO'],
  ] as const) {
    it(`${code} during ${op}: a logged StorageFailedError, and every later write is refused`, async () => {
      const disk = new SimulatedDisk();
      const logger = recordingLogger();
      const s = await DurableStorage.open({ dir: '/data', disk, logger });
      await s.append({ entries: entries(1, 2, 1) });
      disk.injectFault({ op, code });
      const failed = s.append({ entries: [entry(3, 1)] });
      const queued = s.append({ entries: [entry(4, 1)] });
      await assert.rejects(failed, (e: unknown) => {
        assert.ok(e instanceof StorageFailedError);
        assert.equal((e.cause as NodeJS.ErrnoException).code, code);
        // What a server needs to tell a real disk failure (and exit with its own code).
        assert.equal(e.systemCode, code);
        assert.equal(e.errno, code === 'EIO' ? -5 : -28);
        assert.equal(e.syscall, op);
        assert.match(e.path ?? '', /\/data\/wal\/wal-/);
        assert.match(e.message, new RegExp(code));
        return true;
      });
      await assert.rejects(queued, StorageFailedError);
      // The fault is gone, but the log stays poisoned: what reached the disk is unknown.
      await assert.rejects(s.append({ entries: [entry(3, 1)] }), StorageFailedError);
      await assert.rejects(s.saveSnapshot({ index: 2, term: 1, conf: s.initialState().confState }, []), StorageFailedError);
      assert.ok(s.failure instanceof StorageFailedError);
      const line = logger.lines.find((l) => l.level === 'error');
      assert.ok(line, 'the failure is logged');
      assert.match(line.message, /refuses every further write/);
      await s.close();
      // A restart recovers what was durable.
      const r = await DurableStorage.open({ dir: '/data', disk });
      assert.ok(r.lastIndex() >= 2);
      await r.close();
    });
  }
});

describe('DurableStorage: a snapshot installed at the log start with another term', () => {
  it('replays after the segments holding the old entry were deleted (found by the model test)', async () => {
    for (const segmentBytesMax of [150, 200, 260, 300]) {
      const disk = new SimulatedDisk();
      const options = { dir: '/data', disk, segmentBytesMax };
      const s = await DurableStorage.open(options);
      await s.append({ entries: [entry(1, 1)] });
      // Entry 1 has term 1; the leader's snapshot at index 1 says term 2: the log restarts after it.
      const data = 'installed 1/2';
      await s.persist({
        snapshotChunks: [
          { index: 1, term: 2, offset: 0, data: Buffer.from(data.slice(0, 4)), done: false },
          { index: 1, term: 2, offset: 4, data: Buffer.from(data.slice(4)), done: true },
        ],
        snapshot: { index: 1, term: 2, conf: s.initialState().confState },
        entries: [],
      });
      await s.close();
      const r = await DurableStorage.open(options);
      assert.equal(r.firstIndex(), 2, `segmentBytesMax ${segmentBytesMax}`);
      assert.equal(r.lastIndex(), 1);
      assert.equal(r.term(1), 2);
      await r.close();
    }
  });
});
