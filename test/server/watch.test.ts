/**
 * Watches on real member processes, through the client library: every event
 * from a past revision in order, with no gap and no duplicate, across a
 * SIGKILL of the member serving the watch and then of the leader; a
 * transaction's events in one batch; a lease's expiry seen as deletes;
 * a compacted start gets CompactedError; a slow consumer is cancelled at
 * its bound while a watcher beside it on the same client goes on.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CompactedError, connect, WatchCanceledError, type KvClient, type WatchBatch } from '../../src/client/index.js';
import { TestCluster, waitFor } from './harness.js';

const clusters: TestCluster[] = [];
const clients: KvClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await Promise.all(clusters.map((c) => c.stop()));
});

async function start(serverArgs: readonly string[] = []): Promise<{ cluster: TestCluster; client: () => Promise<KvClient> }> {
  const cluster = await TestCluster.start({ size: 3, serverArgs });
  clusters.push(cluster);
  await cluster.waitForLeader();
  const client = async (): Promise<KvClient> => {
    const kv = await connect({ endpoints: cluster.members.map((m) => m.clientUrl), timeoutMs: 30_000 });
    clients.push(kv);
    return kv;
  };
  return { cluster, client };
}

test('a watch from a past revision sees every event once, in order, across kill -9 of its member and of the leader', { timeout: 240_000 }, async () => {
  const { cluster, client } = await start();
  const writer = await client();
  const watcher = await client();
  const total = 240;
  let written = 0;
  for (; written < 20; written++) await writer.put(`w/${written}`, `${written}`);
  const stream = watcher.watch({ prefix: 'w/' }, { startRevision: 1 });
  const seen: { key: string; rev: number }[] = [];
  const batches: WatchBatch[] = [];
  const consume = (async () => {
    for await (const batch of stream) {
      batches.push(batch);
      for (const e of batch.events) seen.push({ key: e.kv.keyString(), rev: e.kv.modRevision });
      if (seen.length >= total) break;
    }
  })();
  const writing = (async () => {
    for (; written < total; written++) await writer.put(`w/${written}`, `${written}`);
  })();

  await waitFor('the watch to deliver a third of the events', () => seen.length >= total / 3, 60_000);
  const serving = stream.member!;
  await cluster.kill(serving);
  await waitFor('the watch to resume elsewhere and deliver more', () => seen.length >= (2 * total) / 3 && stream.member !== serving, 90_000);
  await cluster.restart(serving);
  await cluster.waitForConvergence(60_000);
  await cluster.kill(await cluster.waitForLeader());
  await writing;
  await consume;
  assert.equal(seen.length, total);
  assert.deepEqual(
    seen.map((s) => s.key),
    Array.from({ length: total }, (_, i) => `w/${i}`),
    'every put once, in order',
  );
  // One put per revision and nothing else took one: the revisions are 1..total, without a gap.
  assert.deepEqual(
    seen.map((s) => s.rev),
    Array.from({ length: total }, (_, i) => i + 1),
  );
});

test('a txn is one batch; lease expiry is seen as deletes; a compacted start gets CompactedError', { timeout: 120_000 }, async () => {
  const { client } = await start();
  const kv = await client();
  const stream = kv.watch({ prefix: 't/' }, { prevKv: true });
  const it = stream[Symbol.asyncIterator]();
  // The watch starts after the linearizable current revision: write once a member has accepted it.
  await stream.started;
  const txn = await kv.txn({ success: [{ type: 'put', key: 't/a', value: '1' }, { type: 'put', key: 't/b', value: '2' }, { type: 'put', key: 't/c', value: '3' }] });
  const first = (await it.next()).value as WatchBatch;
  assert.deepEqual(
    first.events.map((e) => e.kv.keyString()),
    ['t/a', 't/b', 't/c'],
    'all three puts of the transaction in one batch',
  );
  assert.ok(first.events.every((e) => e.kv.modRevision === txn.revision));

  const lease = await kv.lease.grant(1500);
  await kv.put('t/leased', 'x', { lease: lease.id });
  const put = (await it.next()).value as WatchBatch;
  assert.equal(put.events[0]!.kv.keyString(), 't/leased');
  const expired = (await it.next()).value as WatchBatch;
  assert.equal(expired.events[0]!.type, 'delete');
  assert.equal(expired.events[0]!.kv.keyString(), 't/leased');
  assert.equal(expired.events[0]!.prevKv?.lease, lease.id);
  await it.return!();

  const { revision } = await kv.put('t/z', 'z');
  await kv.compact(revision - 1);
  // The member serving the watch refuses once it has applied the compaction. A follower may
  // accept the start for a moment before that (its history still holds those revisions, so
  // what it would send is right): try again, each attempt cut short, until the refusal comes.
  let refusal: unknown = null;
  for (let attempt = 0; attempt < 40 && refusal === null; attempt++) {
    try {
      for await (const batch of kv.watch('t/z', { startRevision: revision - 1, signal: AbortSignal.timeout(250) })) void batch;
    } catch (error) {
      if (error instanceof CompactedError) refusal = error;
    }
  }
  assert.ok(refusal instanceof CompactedError, 'a compacted start is refused');
  assert.equal(refusal.details.compactRevision, revision - 1);
});

test('a slow consumer is cancelled at its bound; a watcher beside it on the same client is unaffected', { timeout: 120_000 }, async () => {
  const { client } = await start(['--watch-lag-revisions-max', '20']);
  const kv = await client();
  const writer = await client();
  const slow = kv.watch({ prefix: 's/' });
  const fast = kv.watch({ prefix: 's/' });
  let fastSeen = 0;
  const fastDone = (async () => {
    for await (const batch of fast) {
      fastSeen += batch.events.length;
      if (fastSeen >= 200) break;
    }
  })();
  await Promise.all([slow.started, fast.started]);
  // The slow consumer never reads: its client buffer fills, it is paused, then cancelled past 20 revisions.
  for (let i = 0; i < 200; i++) await writer.put(`s/${i}`, 'x'.repeat(10));
  await fastDone;
  assert.equal(fastSeen, 200);
  let delivered = 0;
  await assert.rejects(
    (async () => {
      for await (const batch of slow) delivered += batch.events.length;
    })(),
    (error: unknown) => error instanceof WatchCanceledError && /slow consumer/.test(error.message),
  );
  assert.ok(delivered < 200, `the slow watcher stopped short (${delivered} events delivered before the cancel)`);
});

test('a member restored from its snapshot lacks the old history; a watch from revision 1 is served by another member', { timeout: 120_000 }, async () => {
  const { cluster, client } = await start(['--snapshot-every-entries', '20']);
  const writer = await client();
  const total = 60;
  for (let i = 0; i < total; i++) await writer.put(`r/${i}`, `${i}`);
  const leader = await cluster.waitForLeader();
  const restored = cluster.members.find((m) => m.name !== leader)!;
  await cluster.kill(restored.name);
  await cluster.restart(restored.name);
  await cluster.waitForConvergence(60_000);
  // Its history now starts at its snapshot's revision, far above 1 (nothing was ever compacted).
  assert.match(readFileSync(restored.logFile, 'utf8'), /restored the state machine from the latest snapshot/);

  // The restored member is the first endpoint, and the pool starts at the first (random 0), so the watch is created there first.
  const first = { nextInt: () => 0, nextFloat: () => 0 };
  const endpoints = [restored.clientUrl, ...cluster.members.filter((m) => m !== restored).map((m) => m.clientUrl)];
  const kv = await connect({ endpoints, timeoutMs: 30_000, random: first });
  clients.push(kv);
  const stream = kv.watch({ prefix: 'r/' }, { startRevision: 1 });
  const seen: number[] = [];
  for await (const batch of stream) {
    for (const e of batch.events) seen.push(e.kv.modRevision);
    if (seen.length >= total) break;
  }
  assert.deepEqual(seen, Array.from({ length: total }, (_, i) => i + 1), 'every revision from 1, in order');
  assert.notEqual(stream.member, restored.name, 'served by a member that still holds the history');
});
