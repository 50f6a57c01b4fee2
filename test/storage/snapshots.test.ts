import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { SimulatedDisk } from '../../src/testing/simulated-disk.js';
import {
  CorruptSnapshotFileError,
  SnapshotChunkRejectedError,
  SnapshotTooLargeError,
  WriteQueueFullError,
} from '../../src/storage/errors.js';
import { collect, entries, entry, meta, tempDir } from './helpers.js';

describe('snapshots and bounds', () => {
  it('a push-style snapshot writer (write/finish) compacts the log like saveSnapshot', async () => {
    const s = await DurableStorage.open({ dir: '/data', disk: new SimulatedDisk() });
    await s.append({ entries: entries(1, 10, 1) });
    const w = await s.createSnapshotWriter(8, 1);
    await w.write(Buffer.from('part one, '));
    await w.write(Buffer.from('part two'));
    await w.finish(meta(8, 1));
    assert.equal(s.firstIndex(), 9);
    assert.equal((await collect(s.readSnapshot())).toString(), 'part one, part two');
    await s.close();
  });

  it('a damaged latest snapshot refuses to start with CorruptSnapshotFileError', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await DurableStorage.open({ dir });
      await s.append({ entries: entries(1, 10, 1) });
      await s.saveSnapshot(meta(5, 1), [Buffer.from('the state machine at index five')]);
      await s.close();
      const file = path.join(dir, 'snap', fs.readdirSync(path.join(dir, 'snap'))[0]!);
      const bytes = fs.readFileSync(file);
      bytes[3]! ^= 0x01;
      fs.writeFileSync(file, bytes);
      await assert.rejects(DurableStorage.open({ dir }), (e: unknown) => {
        assert.ok(e instanceof CorruptSnapshotFileError);
        assert.equal(e.file, file);
        assert.match(e.message, /content checksum mismatch/);
        return true;
      });
    } finally {
      cleanup();
    }
  });

  it('ENOSPC while writing a snapshot fails that snapshot only: temp file removed, log still writable', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk });
    await s.append({ entries: entries(1, 10, 1) });
    disk.injectFault({ op: 'writev', code: 'ENOSPC', pathIncludes: '/snap/' });
    await assert.rejects(s.saveSnapshot(meta(5, 1), [Buffer.from('state')]), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC');
    assert.deepEqual(await disk.readdir('/data/snap'), []);
    assert.equal(s.firstIndex(), 1);
    await s.append({ entries: [entry(11, 1)] });
    await s.saveSnapshot(meta(5, 1), [Buffer.from('state')]);
    assert.equal(s.firstIndex(), 6);
    await s.close();
  });

  it('an aborted snapshot write leaves nothing behind and compacts nothing', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk });
    await s.append({ entries: entries(1, 10, 1) });
    const controller = new AbortController();
    async function* source() {
      yield Buffer.from('first chunk');
      controller.abort();
      yield Buffer.from('second chunk');
    }
    await assert.rejects(s.saveSnapshot(meta(5, 1), source(), { signal: controller.signal }), { name: 'AbortError' });
    assert.deepEqual(await disk.readdir('/data/snap'), []);
    assert.equal(s.firstIndex(), 1);
    await s.close();
  });

  it('refuses snapshots over snapshotBytesMax', async () => {
    const s = await DurableStorage.open({ dir: '/data', disk: new SimulatedDisk(), snapshotBytesMax: 10 });
    await s.append({ entries: entries(1, 3, 1) });
    await assert.rejects(s.saveSnapshot(meta(2, 1), [Buffer.alloc(8), Buffer.alloc(8)]), SnapshotTooLargeError);
    await s.receiveSnapshotChunk({ index: 9, term: 2, offset: 0, data: Buffer.alloc(8), done: false });
    await assert.rejects(
      s.receiveSnapshotChunk({ index: 9, term: 2, offset: 8, data: Buffer.alloc(8), done: true }),
      SnapshotTooLargeError,
    );
    await s.close();
  });

  it('refuses an incoming snapshot that is not newer than the latest one (a stale leader)', async () => {
    const s = await DurableStorage.open({ dir: '/data', disk: new SimulatedDisk() });
    await s.append({ entries: entries(1, 10, 1) });
    await s.saveSnapshot(meta(8, 1), [Buffer.from('x')]);
    await assert.rejects(
      s.receiveSnapshotChunk({ index: 6, term: 1, offset: 0, data: Buffer.from('old'), done: true }),
      (e: unknown) => e instanceof SnapshotChunkRejectedError && /not newer/.test(e.message),
    );
    await s.close();
  });

  it('a transfer restarted from offset 0 replaces the partial one', async () => {
    const s = await DurableStorage.open({ dir: '/data', disk: new SimulatedDisk() });
    await s.receiveSnapshotChunk({ index: 9, term: 2, offset: 0, data: Buffer.from('aaaa'), done: false });
    await s.receiveSnapshotChunk({ index: 9, term: 2, offset: 0, data: Buffer.from('bb'), done: false });
    assert.deepEqual(s.snapshotReceiveProgress(), { index: 9, term: 2, bytes: 2, done: false });
    await s.receiveSnapshotChunk({ index: 9, term: 2, offset: 2, data: Buffer.from('cc'), done: true });
    await s.installSnapshot(meta(9, 2));
    assert.equal((await collect(s.readSnapshot())).toString(), 'bbcc');
    assert.equal(s.firstIndex(), 10);
    await s.close();
  });

  it('bounds the bytes waiting for the next flush (pendingWriteBytesMax)', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk, pendingWriteBytesMax: 1000 });
    disk.pauseSyncs();
    const first = s.append({ entries: [entry(1, 1, 'x'.repeat(100))] });
    while (disk.heldSyncCount === 0) await new Promise((r) => setImmediate(r));
    const queued = s.append({ entries: [entry(2, 1, 'x'.repeat(600))] });
    await assert.rejects(s.append({ entries: [entry(3, 1, 'x'.repeat(600))] }), WriteQueueFullError);
    assert.equal(s.lastIndex(), 2, 'a refused append changes nothing');
    disk.resumeSyncs();
    await first;
    await queued;
    await s.append({ entries: [entry(3, 1, 'x'.repeat(600))] });
    await s.close();
  });
});
