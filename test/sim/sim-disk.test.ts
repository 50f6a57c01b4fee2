import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimDisk } from './sim-disk.js';
import { emptyConfState } from '../../src/raft/types.js';

const bytes = (...xs: number[]) => new Uint8Array(xs);
const none = { snapshot: undefined, entries: [], hardState: undefined };

describe('simulated disk', () => {
  it('bootstraps like a new cluster member: one committed membership entry', () => {
    const disk = SimDisk.bootstrap(['n1', 'n2', 'n3']);
    assert.equal(disk.lastIndex(), 1);
    assert.equal(disk.term(1), 1);
    assert.deepEqual(disk.hardState(), { term: 1, vote: null, commit: 1 });
  });

  it('truncates a conflicting suffix when entries overwrite it, and compacts at a snapshot', () => {
    const disk = SimDisk.bootstrap(['n1']);
    const e = (index: number, term: number) => ({ index, term, type: 0 as const, data: bytes(index) });
    disk.writeBatch({ ...none, snapshotChunks: [], entries: [e(2, 1), e(3, 1), e(4, 1)] });
    disk.writeBatch({ ...none, snapshotChunks: [], entries: [e(3, 2)] });
    assert.equal(disk.lastIndex(), 3);
    assert.equal(disk.term(3), 2);
    disk.createSnapshot(2, emptyConfState, bytes(9, 9));
    assert.equal(disk.firstIndex(), 3);
    assert.throws(() => disk.entries(2, 3, 100), /compacted/);
    assert.deepEqual(disk.snapshotChunk(2, 1, 10), { data: bytes(9), done: true });
  });

  it('keeps a completed incoming snapshot when a newer one starts in the same Ready (finding F2)', () => {
    const disk = new SimDisk();
    const meta = { index: 27, term: 6, conf: emptyConfState };
    disk.writeBatch({ ...none, snapshotChunks: [{ index: 27, term: 6, offset: 0, data: bytes(1, 2), done: false }] });
    disk.writeBatch({
      ...none,
      snapshotChunks: [
        { index: 27, term: 6, offset: 2, data: bytes(3), done: true },
        { index: 32, term: 6, offset: 0, data: bytes(7), done: false },
      ],
      snapshot: meta,
    });
    assert.equal(disk.snapshotMetadata().index, 27);
    assert.deepEqual(disk.snapshotData(), bytes(1, 2, 3));
    // The partial file of snapshot 32 is still there to continue.
    disk.writeBatch({ ...none, snapshotChunks: [{ index: 32, term: 6, offset: 1, data: bytes(8), done: true }] });
  });

  it('refuses chunks that do not continue the file and installs only complete snapshots', () => {
    const disk = new SimDisk();
    assert.throws(() => disk.writeBatch({ ...none, snapshotChunks: [{ index: 5, term: 1, offset: 3, data: bytes(1), done: false }] }));
    disk.writeBatch({ ...none, snapshotChunks: [{ index: 5, term: 1, offset: 0, data: bytes(1), done: false }] });
    assert.throws(() => disk.writeBatch({ ...none, snapshotChunks: [], snapshot: { index: 5, term: 1, conf: emptyConfState } }), /complete/);
  });
});
