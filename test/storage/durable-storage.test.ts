import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { SimulatedDisk } from '../../src/testing/simulated-disk.js';
import { LogCompactedError, LogUnavailableError, SnapshotUnavailableError } from '../../src/raft/storage.js';
import { SnapshotChunkRejectedError, StorageClosedError } from '../../src/storage/errors.js';
import { snapshotFileName } from '../../src/storage/snapshot-file.js';
import { collect, entries, entry, meta, recordingLogger, tempDir, text } from './helpers.js';

describe('DurableStorage on real files', () => {
  it('starts empty, appends, reads back, and survives a reopen', async () => {
    const { dir, cleanup } = tempDir();
    try {
      let s = await DurableStorage.open({ dir });
      assert.equal(s.firstIndex(), 1);
      assert.equal(s.lastIndex(), 0);
      assert.equal(s.term(0), 0);
      assert.deepEqual(s.initialState().hardState, { term: 0, vote: null, commit: 0 });
      await s.append({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 'n2', commit: 3 } });
      assert.equal(s.lastIndex(), 10);
      assert.deepEqual(s.entries(3, 6, Infinity).map(text), ['e3t1', 'e4t1', 'e5t1']);
      await s.close();

      s = await DurableStorage.open({ dir });
      assert.equal(s.lastIndex(), 10);
      assert.equal(s.term(10), 1);
      assert.deepEqual(s.initialState().hardState, { term: 1, vote: 'n2', commit: 3 });
      // After a restart the cache is cold: these come from disk, checksums verified.
      assert.deepEqual(s.entries(1, 11, Infinity).map(text), entries(1, 10, 1).map(text));
      await s.close();
    } finally {
      cleanup();
    }
  });

  it('bounds reads by maxBytes but always returns at least one entry', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await DurableStorage.open({ dir });
      await s.append({ entries: entries(1, 5, 1) }); // 4 bytes each
      assert.equal(s.entries(1, 6, 0).length, 1);
      assert.equal(s.entries(1, 6, 8).length, 2);
      assert.equal(s.entries(1, 6, 9).length, 2);
      assert.equal(s.entries(2, 2, 100).length, 0);
      await s.close();
    } finally {
      cleanup();
    }
  });

  it('throws LogCompactedError below the first index and LogUnavailableError past the end', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await DurableStorage.open({ dir });
      await s.append({ entries: entries(1, 10, 1) });
      await s.saveSnapshot(meta(5, 1), [Buffer.from('state')]);
      assert.equal(s.firstIndex(), 6);
      assert.equal(s.term(5), 1);
      assert.throws(() => s.term(4), LogCompactedError);
      assert.throws(() => s.entries(5, 7, Infinity), LogCompactedError);
      assert.throws(() => s.term(11), LogUnavailableError);
      assert.throws(() => s.entries(9, 12, Infinity), LogUnavailableError);
      await s.close();
    } finally {
      cleanup();
    }
  });

  it('truncates a conflicting suffix (Raft §5.3) and the truncation survives a reopen', async () => {
    const { dir, cleanup } = tempDir();
    try {
      let s = await DurableStorage.open({ dir });
      await s.append({ entries: entries(1, 10, 1) });
      await s.append({ entries: entries(6, 7, 2) });
      assert.equal(s.lastIndex(), 7);
      assert.equal(s.term(6), 2);
      await s.close();
      s = await DurableStorage.open({ dir });
      assert.equal(s.lastIndex(), 7);
      assert.deepEqual(s.entries(5, 8, Infinity).map(text), ['e5t1', 'e6t2', 'e7t2']);
      await s.close();
    } finally {
      cleanup();
    }
  });

  it('rolls segments over at segmentBytesMax, reads across them, and deletes those a snapshot covers', async () => {
    const { dir, cleanup } = tempDir();
    try {
      let s = await DurableStorage.open({ dir, segmentBytesMax: 2048, entryCacheBytesMax: 64 });
      for (let i = 1; i <= 400; i += 10) await s.append({ entries: entries(i, i + 9, 1) });
      const walDir = path.join(dir, 'wal');
      const before = fs.readdirSync(walDir).length;
      assert.ok(before > 5, `expected several segments, got ${before}`);
      // The cache holds 64 bytes: these reads go to disk across segments.
      assert.deepEqual(s.entries(1, 401, Infinity).map(text), entries(1, 400, 1).map(text));
      await s.saveSnapshot(meta(300, 1), [Buffer.from('state at 300')]);
      const after = fs.readdirSync(walDir).length;
      assert.ok(after < before, `segments ${before} -> ${after}`);
      assert.deepEqual(s.entries(301, 401, Infinity).map(text), entries(301, 400, 1).map(text));
      await s.close();
      s = await DurableStorage.open({ dir, segmentBytesMax: 2048 });
      assert.equal(s.firstIndex(), 301);
      assert.equal(s.lastIndex(), 400);
      assert.deepEqual(s.entries(301, 401, Infinity).map(text), entries(301, 400, 1).map(text));
      await s.close();
    } finally {
      cleanup();
    }
  });

  it('keeps the hard state when the segments that wrote it are deleted', async () => {
    const { dir, cleanup } = tempDir();
    try {
      let s = await DurableStorage.open({ dir, segmentBytesMax: 1024 });
      await s.append({ hardState: { term: 7, vote: 'n3', commit: 0 } });
      for (let i = 1; i <= 200; i += 5) await s.append({ entries: entries(i, i + 4, 7) });
      await s.saveSnapshot(meta(190, 7), [Buffer.from('x')]);
      await s.close();
      s = await DurableStorage.open({ dir, segmentBytesMax: 1024 });
      assert.deepEqual(s.hardState(), { term: 7, vote: 'n3', commit: 0 });
      assert.equal(s.firstIndex(), 191);
      await s.close();
    } finally {
      cleanup();
    }
  });

  it('writes snapshots as streams, reads them back in chunks, keeps the last two', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await DurableStorage.open({ dir });
      await s.append({ entries: entries(1, 30, 1) });
      const big = Buffer.alloc(300_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      async function* chunks(buf: Buffer) {
        for (let i = 0; i < buf.length; i += 65_536) yield buf.subarray(i, i + 65_536);
      }
      await s.saveSnapshot(meta(10, 1), chunks(big));
      await s.saveSnapshot(meta(20, 1), chunks(big.subarray(1000)));
      await s.saveSnapshot(meta(30, 1, ['n1', 'n2']), chunks(big.subarray(2000)));
      const snapFiles = fs.readdirSync(path.join(dir, 'snap')).sort();
      assert.equal(snapFiles.length, 2);
      assert.deepEqual(s.snapshotMetadata(), meta(30, 1, ['n1', 'n2']));
      const sizes: number[] = [];
      const streamed: Uint8Array[] = [];
      for await (const c of s.readSnapshot(undefined, { chunkBytes: 50_000 })) {
        sizes.push(c.byteLength);
        streamed.push(c);
      }
      assert.ok(sizes.every((n) => n <= 50_000));
      assert.deepEqual(Buffer.concat(streamed), big.subarray(2000));
      assert.deepEqual(await collect(s.readSnapshot(20)), big.subarray(1000));
      // Synchronous chunks for InstallSnapshot.
      const parts: Uint8Array[] = [];
      let offset = 0;
      for (;;) {
        const c = s.snapshotChunk(30, offset, 100_000);
        parts.push(c.data);
        offset += c.data.byteLength;
        if (c.done) break;
      }
      assert.deepEqual(Buffer.concat(parts), big.subarray(2000));
      assert.throws(() => s.snapshotChunk(20, 0, 10), SnapshotUnavailableError);
      assert.deepEqual(s.initialState().confState.voters, ['n1', 'n2']);
      await s.close();
    } finally {
      cleanup();
    }
  });

  it('receives InstallSnapshot chunks in order and installs, keeping the suffix when the log matches (Raft §7)', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk });
    await s.append({ entries: entries(1, 20, 2) });
    await s.receiveSnapshotChunk({ index: 15, term: 2, offset: 0, data: Buffer.from('abc'), done: false });
    await assert.rejects(
      s.receiveSnapshotChunk({ index: 15, term: 2, offset: 5, data: Buffer.from('x'), done: false }),
      (e: unknown) => e instanceof SnapshotChunkRejectedError && e.expectedOffset === 3,
    );
    await s.receiveSnapshotChunk({ index: 15, term: 2, offset: 3, data: Buffer.from('def'), done: true });
    await s.persist({ snapshotChunks: [], snapshot: meta(15, 2), entries: [entry(21, 3)] });
    assert.equal(s.firstIndex(), 16);
    assert.equal(s.lastIndex(), 21);
    assert.equal(text(s.entries(16, 17, 10)[0]!), 'e16t2');
    assert.deepEqual(await collect(s.readSnapshot()), Buffer.from('abcdef'));
    await s.close();
    const r = await DurableStorage.open({ dir: '/data', disk });
    assert.equal(r.firstIndex(), 16);
    assert.equal(r.lastIndex(), 21);
    assert.deepEqual(r.entries(16, 22, Infinity).map(text), [...entries(16, 20, 2).map(text), 'e21t3']);
    await r.close();
  });

  it('discards the whole log when it does not hold the snapshot last entry (Raft §7), also across a reopen', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk });
    await s.append({ entries: entries(1, 20, 1) });
    await s.persist({
      snapshotChunks: [{ index: 15, term: 3, offset: 0, data: Buffer.from('state'), done: true }],
      snapshot: meta(15, 3),
      entries: [],
    });
    assert.equal(s.firstIndex(), 16);
    assert.equal(s.lastIndex(), 15);
    assert.equal(s.term(15), 3);
    await s.append({ entries: [entry(16, 3)] });
    await s.close();
    const r = await DurableStorage.open({ dir: '/data', disk });
    assert.equal(r.lastIndex(), 16);
    assert.equal(text(r.entries(16, 17, 10)[0]!), 'e16t3');
    await r.close();
  });

  it('installs a finished snapshot even when the same Ready already starts a newer one (simulator finding F2)', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk });
    await s.append({ entries: entries(1, 20, 1) });
    await s.receiveSnapshotChunk({ index: 15, term: 3, offset: 0, data: Buffer.from('old '), done: false });
    await s.persist({
      snapshotChunks: [
        { index: 15, term: 3, offset: 4, data: Buffer.from('state'), done: true },
        { index: 30, term: 4, offset: 0, data: Buffer.from('newer'), done: false },
      ],
      snapshot: meta(15, 3),
      entries: [],
    });
    assert.equal(s.snapshotMetadata().index, 15);
    assert.deepEqual(await collect(s.readSnapshot()), Buffer.from('old state'));
    assert.deepEqual(s.snapshotReceiveProgress(), { index: 30, term: 4, bytes: 5, done: false });
    await s.close();
  });

  it('a chunk at a non-zero offset with no transfer in progress says to start at 0', async () => {
    const s = await DurableStorage.open({ dir: '/data', disk: new SimulatedDisk() });
    await assert.rejects(
      s.receiveSnapshotChunk({ index: 5, term: 1, offset: 10, data: Buffer.from('x'), done: false }),
      (e: unknown) => e instanceof SnapshotChunkRejectedError && e.expectedOffset === 0,
    );
    await s.close();
  });

  it('removes partial snapshot files left by a crash, and logs it', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk });
    await s.append({ entries: entries(1, 5, 1) });
    await s.receiveSnapshotChunk({ index: 50, term: 2, offset: 0, data: Buffer.from('partial'), done: false });
    await s.createSnapshotWriter(5, 1).then((w) => w.write(Buffer.from('half')));
    // Make the temp names durable, as if the kernel had flushed the directory, then cut the power.
    await disk.fsyncDir('/data/snap');
    assert.equal((await disk.readdir('/data/snap')).filter((n) => n.endsWith('.tmp')).length, 2);
    disk.crash();
    const logger = recordingLogger();
    const r = await DurableStorage.open({ dir: '/data', disk, logger });
    assert.deepEqual((await disk.readdir('/data/snap')).filter((n) => n.endsWith('.tmp')), []);
    await r.close();

    const { dir, cleanup } = tempDir();
    try {
      fs.mkdirSync(path.join(dir, 'snap'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'snap', 'snap-0000000000000005-0000000000000001.snap.0.tmp'), 'junk');
      const log = recordingLogger();
      const t = await DurableStorage.open({ dir, logger: log });
      assert.deepEqual(fs.readdirSync(path.join(dir, 'snap')), []);
      assert.ok(log.lines.some((l) => l.level === 'warn' && /partial snapshot/.test(l.message)));
      await t.close();
    } finally {
      cleanup();
    }
  });

  it('refuses use after close', async () => {
    const s = await DurableStorage.open({ dir: '/data', disk: new SimulatedDisk() });
    await s.close();
    assert.throws(() => s.entries(1, 1, 1), StorageClosedError);
    await assert.rejects(s.append({ entries: [entry(1, 1)] }), StorageClosedError);
  });

  it('an empty append is a barrier that resolves once earlier appends are durable', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk });
    disk.pauseSyncs();
    let firstDone = false;
    const first = s.append({ entries: [entry(1, 1)] }).then(() => (firstDone = true));
    const barrier = s.append({});
    await new Promise((r) => setImmediate(r));
    assert.equal(firstDone, false);
    disk.resumeSyncs();
    await barrier;
    assert.equal(firstDone, true);
    await first;
    await s.close();
  });

  it('a snapshot being sent stays readable while newer ones replace it, until the transfer lets go of it (snapshot starvation)', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk });
    await s.append({ entries: entries(1, 50, 1) });
    const contents = (n: number) => Buffer.alloc(1000, n);
    await s.saveSnapshot(meta(10, 1), [contents(10)]);
    // A transfer of snapshot 10 starts (the leader reads its first chunk) ...
    const parts: Uint8Array[] = [s.snapshotChunk(10, 0, 300).data];
    // ... newer snapshots replace it before the host's next holdSnapshots call, and after.
    await s.saveSnapshot(meta(20, 1), [contents(20)]);
    s.holdSnapshots([10]);
    await s.saveSnapshot(meta(30, 1), [contents(30)]);
    await s.saveSnapshot(meta(40, 1), [contents(40)]);
    assert.equal(s.snapshotMetadata().index, 40);
    // The transfer finishes with the snapshot it started with, not from offset 0 with the latest.
    for (let offset = 300; ; ) {
      const c = s.snapshotChunk(10, offset, 300);
      parts.push(c.data);
      offset += c.data.byteLength;
      if (c.done) break;
    }
    assert.deepEqual(Buffer.concat(parts), contents(10));
    assert.ok(disk.exists('/data/snap/' + snapshotFileName(10, 1)), 'kept on disk while held');
    assert.throws(() => s.snapshotChunk(20, 0, 10), SnapshotUnavailableError, 'an unheld older snapshot is gone as before');
    // The transfer ended: the snapshot is closed and deleted (retention keeps the two newest).
    s.holdSnapshots([]);
    await s.saveSnapshot(meta(50, 1), [contents(50)]);
    assert.throws(() => s.snapshotChunk(10, 0, 10), SnapshotUnavailableError);
    assert.deepEqual((await disk.readdir('/data/snap')).filter((n) => n.endsWith('.snap')).length, 2);
    assert.ok(!disk.exists('/data/snap/' + snapshotFileName(10, 1)), 'deleted once let go');
    await s.close();
  });
});

