/**
 * The backup file (src/server/backup-file.ts) and restore (src/cli/restore.ts)
 * without a cluster: a file written from a real key-value snapshot checks out;
 * every flipped byte and every truncation is refused; restore makes a data
 * directory whose snapshot, hard state and member.json are the backup's and the
 * new cluster's, whose contents restore to the same state, and it refuses bad
 * arguments and damaged files without writing anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandKind, KvStateMachine, encodeCommand } from '../../src/kv/index.js';
import { DurableStorage } from '../../src/storage/index.js';
import { BackupFileWriter, CorruptBackupError, checkBackupFile, readMemberFile } from '../../src/server/index.js';
import { restoreBackup, restoredClusterId } from '../../src/cli/restore.js';
import { dumpEntries } from '../kv/helpers.js';

function sourceState(keys: number): KvStateMachine {
  const sm = new KvStateMachine({ snapshotChunkBytes: 4096 });
  let index = 0;
  sm.apply(++index, encodeCommand({ kind: CommandKind.OpenSession, ttlMs: 60_000 }, 5_000));
  for (let i = 1; i <= keys; i++) {
    sm.apply(++index, encodeCommand({ kind: CommandKind.Put, key: Buffer.from(`key-${i}`), value: Buffer.from(`value ${i} `.repeat(i % 7)), session: { sessionId: 1, seq: i, ackedSeq: i - 1 } }, 5_000 + i));
  }
  return sm;
}

async function writeBackup(file: string, sm: KvStateMachine, term = 4): Promise<void> {
  const snapshot = sm.snapshot();
  const writer = await BackupFileWriter.create(file, {
    version: 1,
    index: snapshot.appliedIndex,
    term,
    clusterId: 'cd'.repeat(16),
    memberName: 'n2',
    keys: snapshot.keys,
    contentBytes: snapshot.byteLength(),
    savedAt: new Date(0).toISOString(),
  });
  for (const chunk of snapshot) await writer.write(chunk);
  await writer.finish();
}

const corrupt = (error: unknown): boolean => error instanceof CorruptBackupError;

test('a written backup checks out; any flipped byte or truncation is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-backup-file-'));
  try {
    const sm = sourceState(300);
    const file = join(dir, 'b.db');
    await writeBackup(file, sm);
    assert.ok(!existsSync(`${file}.part`));
    const checked = await checkBackupFile(file);
    assert.equal(checked.header.index, 301);
    assert.equal(checked.header.term, 4);
    assert.equal(checked.header.keys, 300);
    assert.equal(checked.sessions, 1);
    const bytes = readFileSync(file);
    assert.equal(checked.fileBytes, bytes.length);

    const damaged = join(dir, 'damaged.db');
    // Every byte of the first 200 and the last 40 (magic, header, trailer), and a spread through the contents.
    const positions = new Set<number>();
    for (let i = 0; i < 200; i++) positions.add(i);
    for (let i = bytes.length - 40; i < bytes.length; i++) positions.add(i);
    for (let i = 0; i < 200; i++) positions.add(Math.floor((i * bytes.length) / 200));
    for (const at of positions) {
      const copy = Buffer.from(bytes);
      copy[at]! ^= 1 << (at % 8);
      writeFileSync(damaged, copy);
      await assert.rejects(checkBackupFile(damaged), corrupt, `a flipped bit at byte ${at} of ${bytes.length} is caught`);
    }
    for (const length of [0, 5, 13, 100, Math.floor(bytes.length / 2), bytes.length - 21, bytes.length - 20, bytes.length - 1]) {
      writeFileSync(damaged, bytes.subarray(0, length));
      await assert.rejects(checkBackupFile(damaged), corrupt, `a file cut to ${length} bytes is refused`);
    }
    writeFileSync(damaged, Buffer.concat([bytes, Buffer.from('x')]));
    await assert.rejects(checkBackupFile(damaged), /bytes appended/);
    await assert.rejects(checkBackupFile(join(dir, 'missing.db')), corrupt);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('restore makes the data directory of a new member holding exactly the backup', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-restore-'));
  try {
    const sm = sourceState(500);
    const file = join(dir, 'b.db');
    await writeBackup(file, sm, 6);
    const initialCluster = { m1: 'tcp://127.0.0.1:9001', m2: 'tcp://127.0.0.1:9002', m3: 'tcp://127.0.0.1:9003' };
    const results = [];
    for (const name of Object.keys(initialCluster)) {
      results.push(await restoreBackup({ file, name, dataDir: join(dir, name), initialCluster, initialClusterToken: 't1' }));
    }
    const ids = new Set(results.map((r) => r.clusterId));
    assert.equal(ids.size, 1, 'every member of the new cluster derives the same cluster ID');
    assert.notEqual(results[0]!.clusterId, 'cd'.repeat(16));
    assert.match(results[0]!.clusterId, /^[0-9a-f]{32}$/);
    const checksum = (await checkBackupFile(file)).checksum;
    assert.equal(results[0]!.clusterId, restoredClusterId(checksum, initialCluster, 't1'));
    assert.notEqual(restoredClusterId(checksum, initialCluster, 't2'), results[0]!.clusterId, 'the token tells restores apart');
    assert.notEqual(restoredClusterId(checksum, { ...initialCluster, m3: 'tcp://127.0.0.1:9004' }, 't1'), results[0]!.clusterId);
    assert.equal(restoredClusterId(checksum, { m3: initialCluster.m3, m2: initialCluster.m2, m1: initialCluster.m1 }, 't1'), results[0]!.clusterId, 'order does not matter');

    const member = readMemberFile(join(dir, 'm2'));
    assert.deepEqual(member, { name: 'm2', initialCluster, clusterId: results[0]!.clusterId });
    const storage = await DurableStorage.open({ dir: join(dir, 'm2') });
    try {
      const meta = storage.snapshotMetadata();
      assert.equal(meta.index, 501);
      assert.equal(meta.term, 6);
      assert.deepEqual([...meta.conf.voters].sort(), ['m1', 'm2', 'm3']);
      assert.deepEqual(storage.hardState(), { term: 6, vote: null, commit: 501 });
      assert.equal(storage.lastIndex(), 501, 'an empty log after the snapshot');
      const restored = new KvStateMachine({ snapshotChunkBytes: 4096 });
      await restored.restoreAsync(storage.readSnapshot());
      assert.equal(restored.appliedIndex, 501);
      assert.deepEqual(dumpEntries(restored), dumpEntries(sm));
      assert.deepEqual(Buffer.from(restored.snapshot().toBytes()), Buffer.from(sm.snapshot().toBytes()), 'sessions and clock too');
    } finally {
      await storage.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('restore refuses bad arguments and damaged files, and writes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-restore-refusals-'));
  try {
    const file = join(dir, 'b.db');
    await writeBackup(file, sourceState(50));
    const cluster = { m1: 'tcp://127.0.0.1:9001' };
    await assert.rejects(restoreBackup({ file, name: 'mX', dataDir: join(dir, 'x1'), initialCluster: cluster }), /not one of --initial-cluster/);
    await assert.rejects(restoreBackup({ file, name: 'm1', dataDir: join(dir, 'x2'), initialCluster: { m1: 'carrier-pigeon://x' } }), /--initial-cluster m1=/);
    const busy = join(dir, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'something'), 'x');
    await assert.rejects(restoreBackup({ file, name: 'm1', dataDir: busy, initialCluster: cluster }), /is not empty/);
    assert.deepEqual(readdirSync(busy), ['something']);

    const bytes = readFileSync(file);
    const flipped = Buffer.from(bytes);
    flipped[bytes.length - 30]! ^= 0x80;
    writeFileSync(join(dir, 'flipped.db'), flipped);
    writeFileSync(join(dir, 'short.db'), bytes.subarray(0, bytes.length - 7));
    for (const bad of ['flipped.db', 'short.db']) {
      const target = join(dir, `from-${bad}`);
      await assert.rejects(restoreBackup({ file: join(dir, bad), name: 'm1', dataDir: target, initialCluster: cluster }), corrupt);
      assert.ok(!existsSync(target), `nothing written for ${bad}`);
    }
    // An existing empty directory is used, and left empty on a refusal.
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    await assert.rejects(restoreBackup({ file: join(dir, 'flipped.db'), name: 'm1', dataDir: empty, initialCluster: cluster }), corrupt);
    assert.deepEqual(readdirSync(empty), []);
    await restoreBackup({ file, name: 'm1', dataDir: empty, initialCluster: cluster });
    assert.ok(readdirSync(empty).includes('member.json'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
