/**
 * Directory entries are durable only after an fsync of the directory that
 * holds them: the storage makes every name it stands on durable at open (the
 * data directory in its parent, wal/ and snap/, and the names inside them that
 * recovery trusts), so a power cut after this start never takes away a file
 * whose entries this process acknowledged.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { SimulatedDisk } from '../../src/testing/simulated-disk.js';
import { entries, ForwardingDisk, text } from './helpers.js';

class DirSyncRecorder extends ForwardingDisk {
  readonly synced: string[] = [];
  override fsyncDir(dir: string): Promise<void> {
    this.synced.push(dir);
    return super.fsyncDir(dir);
  }
}

describe('directory fsync at open', () => {
  it('open syncs the data directory in its parent, and wal/ and snap/', async () => {
    const disk = new DirSyncRecorder(new SimulatedDisk());
    const s = await DurableStorage.open({ dir: '/srv/concord/data', disk });
    for (const dir of ['/', '/srv', '/srv/concord', '/srv/concord/data', '/srv/concord/data/wal', '/srv/concord/data/snap']) {
      assert.ok(disk.synced.includes(dir), `${dir} synced (synced: ${disk.synced.join(', ')})`);
    }
    await s.close();
  });

  it('a new data directory survives a power cut right after its first acknowledged append', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/srv/data', disk });
    await s.append({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 'n1', commit: 3 } });
    disk.crash();
    const r = await DurableStorage.open({ dir: '/srv/data', disk });
    assert.equal(r.lastIndex(), 3);
    assert.equal(r.hardState().commit, 3);
    await r.close();
  });

  it('a segment whose directory entry the previous process never synced is made durable before it is used', async () => {
    const disk = new SimulatedDisk();
    let s = await DurableStorage.open({ dir: '/data', disk, segmentBytesMax: 600 });
    await s.append({ entries: entries(1, 10, 1) });
    // The next rollover creates a segment, and the process dies before the directory fsync.
    disk.injectFault({ op: 'fsyncDir', code: 'EIO', pathIncludes: '/data/wal' });
    let index = 10;
    while (s.failure === null) {
      await s.append({ entries: entries(index + 1, index + 5, 1) }).catch(() => {});
      index += 5;
    }
    disk.processCrash();
    s = await DurableStorage.open({ dir: '/data', disk, segmentBytesMax: 100_000 });
    const before = s.lastIndex();
    await s.append({ entries: entries(before + 1, before + 3, 1) }); // acknowledged...
    disk.crash(); // ...then the power goes
    const r = await DurableStorage.open({ dir: '/data', disk });
    assert.equal(r.lastIndex(), before + 3, 'entries acknowledged after the restart survive');
    assert.deepEqual(r.entries(1, r.lastIndex() + 1, Infinity).map(text), entries(1, before + 3, 1).map(text));
    await r.close();
  });
});
