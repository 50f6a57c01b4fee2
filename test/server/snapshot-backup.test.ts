/**
 * Backup and restore against real members on loopback, with the real CLI:
 * 10,000 keys written, `concord snapshot save` while a bounded write load
 * runs (through a follower first: the save must go to the leader), `snapshot
 * status`, `snapshot restore` into the data directories of a NEW 3-member
 * cluster, which starts and holds exactly the backup's keys; a copy with one
 * flipped byte and a truncated copy are refused by status and restore, and
 * restore writes nothing for them.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forEachConcurrent, TestCluster, text, utf8 } from './harness.js';

const cliMain = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const clusters: TestCluster[] = [];
after(async () => {
  for (const c of clusters) await c.stop();
});

function runCli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliMain, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const keyCount = 10_000;
const keyOf = (i: number): string => `key-${String(i).padStart(5, '0')}`;
const valueOf = (i: number): string => `value ${i} ${'x'.repeat(i % 97)}`;

/** Every key and value of a member, by linearizable scan pages. */
async function dump(c: TestCluster, member: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let after: Uint8Array | undefined;
  for (;;) {
    const page = await c.call(member, 'kv.scan', { limit: 1000, consistency: 'linearizable', ...(after !== undefined ? { after } : {}) }, 10_000);
    for (const item of page.items) out.set(text(item.key), text(item.value));
    if (page.next === null) return out;
    after = page.next;
  }
}

function clusterIdOf(dataDir: string): string {
  return (JSON.parse(readFileSync(join(dataDir, 'member.json'), 'utf8')) as { clusterId: string }).clusterId;
}

test('snapshot save under load, status, restore into a new 3-member cluster: every key equal; damaged files refused', { timeout: 300_000 }, async () => {
  const source = await TestCluster.start();
  clusters.push(source);

  // 10,000 keys from 16 writers, each in its own session.
  await forEachConcurrent(Array.from({ length: 16 }, (_, w) => w), 16, async (w) => {
    const sessionId = await source.openSession();
    let seq = 0;
    for (let i = w; i < keyCount; i += 16) {
      seq++;
      await source.callAny('kv.put', { key: utf8(keyOf(i)), value: utf8(valueOf(i)), session: { sessionId, seq, ackedSeq: seq - 1 } });
    }
  });

  // A bounded write load that runs while the backup is taken.
  const loadAcked: string[] = [];
  let saving = true;
  const loadSession = await source.openSession();
  const load = (async () => {
    for (let seq = 1; seq <= 5_000 && saving; seq++) {
      const key = `load-${String(seq).padStart(5, '0')}`;
      await source.callAny('kv.put', { key: utf8(key), value: utf8(`load ${seq}`), session: { sessionId: loadSession, seq, ackedSeq: seq - 1 } });
      loadAcked.push(key);
    }
  })();
  while (loadAcked.length < 50) await new Promise((resolve) => setTimeout(resolve, 20));

  const leader = await source.waitForLeader();
  const follower = source.members.find((m) => m.name !== leader)!;
  const endpoints = [follower, ...source.members.filter((m) => m !== follower)].map((m) => m.clientUrl).join(',');
  const ackedBeforeSave = loadAcked.slice();
  const commitAtStart = (await source.status(leader)).member.commitIndex;
  const file = join(source.rootDir, 'backup.db');
  const saved = await runCli(['snapshot', 'save', file, '--endpoints', endpoints, '--json', '--chunk-bytes', '65536', '--timeout', '20000']);
  saving = false;
  await load;
  assert.equal(saved.code, 0, saved.stderr);
  assert.ok(!existsSync(`${file}.part`), 'the partial file is renamed away');
  const info = JSON.parse(saved.stdout) as { index: number; term: number; keys: number; memberName: string; clusterId: string; totalBytes: number };
  assert.equal(info.memberName, leader, 'served by the leader, though the first endpoint is a follower');
  assert.ok(info.index >= commitAtStart, `snapshot index ${info.index} >= the commit index ${commitAtStart} at the start of the call`);
  assert.equal(info.clusterId, clusterIdOf(source.member(leader).dataDir));

  const status = await runCli(['snapshot', 'status', file, '--json']);
  assert.equal(status.code, 0, status.stderr);
  const row = JSON.parse(status.stdout) as { index: number; term: number; keys: number; checksumOk: boolean; contentBytes: number; savedAt: string };
  assert.equal(row.checksumOk, true);
  assert.ok(Math.abs(Date.parse(row.savedAt) - Date.now()) < 10 * 60_000, `savedAt ${row.savedAt} is the wall-clock time of the save`);
  assert.equal(row.index, info.index);
  assert.equal(row.term, info.term);
  assert.equal(row.keys, info.keys);
  assert.equal(row.contentBytes, info.totalBytes);
  assert.ok(row.keys >= keyCount + ackedBeforeSave.length, `${row.keys} keys: the 10,000 and every load write acknowledged before the save`);
  const human = await runCli(['snapshot', 'status', file]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /CHECKSUM OK/);

  // Damaged copies: one flipped byte in the middle; the file cut short.
  const bytes = readFileSync(file);
  const flipped = Buffer.from(bytes);
  flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
  const flippedFile = join(source.rootDir, 'flipped.db');
  writeFileSync(flippedFile, flipped);
  const truncatedFile = join(source.rootDir, 'truncated.db');
  writeFileSync(truncatedFile, bytes.subarray(0, bytes.length - 1000));
  for (const [damaged, why] of [
    [flippedFile, /checksum mismatch/],
    [truncatedFile, /truncated/],
  ] as const) {
    const st = await runCli(['snapshot', 'status', damaged]);
    assert.equal(st.code, 3, `status of ${damaged}: ${st.stdout}${st.stderr}`);
    assert.match(st.stderr, why);
    const dir = join(source.rootDir, `restore-of-${damaged.endsWith('flipped.db') ? 'flipped' : 'truncated'}`);
    const restored = await runCli(['snapshot', 'restore', damaged, '--name', 'n1', '--data-dir', dir, '--initial-cluster', 'n1=tcp://127.0.0.1:1']);
    assert.equal(restored.code, 3, `restore of ${damaged}: ${restored.stdout}${restored.stderr}`);
    assert.match(restored.stderr, /not a usable backup/);
    assert.match(restored.stderr, why);
    assert.ok(!existsSync(dir), 'nothing written for a damaged file');
  }

  // The source's final state: the backup must be a subset of it and hold every key acknowledged before the save.
  const sourceState = await dump(source, leader);

  // Restore: one run per member of the new cluster, same file and --initial-cluster.
  const restoredCluster = await TestCluster.start({
    prepare: async (specs, initialCluster) => {
      for (const spec of specs) {
        const r = await runCli(['snapshot', 'restore', file, '--name', spec.name, '--data-dir', spec.dataDir, '--initial-cluster', initialCluster, '--json']);
        assert.equal(r.code, 0, r.stderr);
      }
    },
  });
  clusters.push(restoredCluster);
  const ids = new Set(restoredCluster.members.map((m) => clusterIdOf(m.dataDir)));
  assert.equal(ids.size, 1, 'the restored members agree on the cluster ID');
  assert.ok(!ids.has(info.clusterId), 'a new cluster ID');

  const newLeader = await restoredCluster.waitForLeader();
  const restoredState = await dump(restoredCluster, newLeader);
  assert.equal(restoredState.size, info.keys, 'exactly the backup\'s keys');
  for (let i = 0; i < keyCount; i++) assert.equal(restoredState.get(keyOf(i)), valueOf(i), keyOf(i));
  for (const key of ackedBeforeSave) assert.ok(restoredState.has(key), `${key} was acknowledged before the save`);
  for (const [key, value] of restoredState) assert.equal(sourceState.get(key), value, `${key} as in the source`);
  const status2 = await restoredCluster.status(newLeader);
  assert.ok(status2.member.commitIndex > info.index, 'the new cluster commits after the restored index');

  // Every restored member holds the same data, and the new cluster takes writes.
  await restoredCluster.waitForConvergence();
  for (const m of restoredCluster.members) {
    if (m.name === newLeader) continue;
    const page = await restoredCluster.call(m.name, 'kv.get', { key: utf8(keyOf(keyCount - 1)), consistency: 'stale' });
    assert.equal(page.kv === null ? null : text(page.kv.value), valueOf(keyCount - 1));
  }
  const sessionId = await restoredCluster.openSession();
  await restoredCluster.callAny('kv.put', { key: utf8('after-restore'), value: utf8('yes'), session: { sessionId, seq: 1, ackedSeq: 0 } });
  const got = await restoredCluster.call(newLeader, 'kv.get', { key: utf8('after-restore'), consistency: 'linearizable' });
  assert.equal(got.kv === null ? null : text(got.kv.value), 'yes');
});
