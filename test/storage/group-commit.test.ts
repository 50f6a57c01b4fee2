import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { NodeDisk } from '../../src/storage/node-disk.js';
import { SimulatedDisk } from '../../src/testing/simulated-disk.js';
import { CountingDisk, entry, tempDir } from './helpers.js';

describe('group commit', () => {
  it('appends made while a sync is in flight share the next writev and fdatasync (deterministic)', async () => {
    const disk = new SimulatedDisk();
    const s = await DurableStorage.open({ dir: '/data', disk });
    const syncsAtStart = disk.stats.datasyncs;
    disk.pauseSyncs();
    const first = s.append({ entries: [entry(1, 1)] });
    while (disk.heldSyncCount === 0) await new Promise((r) => setImmediate(r));
    const resolved: number[] = [];
    const rest = Array.from({ length: 50 }, (_, k) => s.append({ entries: [entry(k + 2, 1)] }).then(() => resolved.push(k)));
    await new Promise((r) => setImmediate(r));
    assert.equal(resolved.length, 0, 'nothing resolves before its fsync');
    disk.resumeSyncs();
    await first;
    await Promise.all(rest);
    assert.equal(disk.stats.datasyncs - syncsAtStart, 2, 'one fsync for the first append, one for the 50 that queued behind it');
    assert.equal(s.walStats.flushes, 1 + 2);
    await s.close();
  });

  it('many concurrent appenders on a real disk need fewer fsyncs than appends', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const disk = new CountingDisk(new NodeDisk());
      const s = await DurableStorage.open({ dir, disk });
      const before = disk.datasyncs;
      let next = 1;
      const appender = async () => {
        for (let k = 0; k < 20; k++) {
          const index = next++;
          await s.append({ entries: [entry(index, 1)] });
        }
      };
      await Promise.all(Array.from({ length: 32 }, appender));
      const fsyncs = disk.datasyncs - before;
      assert.equal(s.lastIndex(), 640);
      assert.ok(fsyncs < 640 / 4, `640 appends took ${fsyncs} fsyncs`);
      assert.ok(fsyncs >= 20, 'each appender waited for durability before its next append');
      await s.close();
    } finally {
      cleanup();
    }
  });
});
