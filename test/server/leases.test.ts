/**
 * Leases and key TTLs on real member processes, through the client library:
 * expiry deletes a lease's keys and a key with its own TTL, a background
 * keep-alive holds a lease, revoke deletes at once; and the headline case:
 * a 10 s lease whose leader is SIGKILLed at 5 s expires within the
 * documented margin of 10 s after its grant (docs/client.md, "Leases"), not
 * 10 s after the new leader took over.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, LeaseNotFoundError, type KvClient } from '../../src/client/index.js';
import { TestCluster, sleep, waitFor } from './harness.js';

const clusters: TestCluster[] = [];
const clients: KvClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await Promise.all(clusters.map((c) => c.stop()));
});

async function start(): Promise<{ cluster: TestCluster; kv: KvClient }> {
  const cluster = await TestCluster.start({ size: 3 });
  clusters.push(cluster);
  await cluster.waitForLeader();
  const kv = await connect({ endpoints: cluster.members.map((m) => m.clientUrl), timeoutMs: 20_000 });
  clients.push(kv);
  return { cluster, kv };
}

/** Whether the key is gone from every live member's stored state (a stale read on each). */
async function goneEverywhere(cluster: TestCluster, key: string): Promise<boolean> {
  for (const m of cluster.members.filter((m) => m.process !== null)) {
    const response = await cluster.call(m.name, 'kv.get', { key: new TextEncoder().encode(key), consistency: 'stale' });
    if (response.kv !== null) return false;
  }
  return true;
}

test('expiry deletes the keys of a lease and keys with a TTL; keep-alive holds a lease; revoke deletes at once', { timeout: 120_000 }, async () => {
  const { cluster, kv } = await start();
  const short = await kv.lease.grant(2000);
  assert.equal(short.ttlMs, 2000);
  const kept = await kv.lease.grant(2000);
  await kv.put('lease/a', '1', { lease: short.id });
  await kv.put('lease/b', '2', { lease: short.id });
  await kv.put('kept/a', '1', { lease: kept.id });
  await kv.put('ttl/a', '1', { ttlMs: 1500 });
  await kv.put('plain', '1');
  assert.equal((await kv.get('lease/a'))!.lease, short.id);
  const info = await kv.lease.timeToLive(short.id, { keys: true });
  assert.deepEqual(info.keys.map((k) => Buffer.from(k).toString()), ['lease/a', 'lease/b']);
  assert.ok(info.ttlMs > 0 && info.ttlMs <= 2000);

  const handle = kv.lease.keepAlive(kept.id);
  await waitFor('the short lease to expire (its expiry entry applied)', async () => {
    try {
      await kv.lease.timeToLive(short.id);
      return false;
    } catch (error) {
      if (error instanceof LeaseNotFoundError) return true;
      throw error;
    }
  }, 30_000);
  await waitFor('the expired keys to be deleted on every member', async () => (await goneEverywhere(cluster, 'lease/a')) && (await goneEverywhere(cluster, 'lease/b')) && (await goneEverywhere(cluster, 'ttl/a')), 30_000);
  assert.equal(await kv.get('lease/a'), null);
  assert.equal(await kv.get('ttl/a'), null);

  // The kept lease has outlived its TTL twice over.
  await sleep(2500);
  assert.ok(await kv.get('kept/a'), 'a kept-alive lease keeps its key');
  assert.ok(await kv.get('plain'));
  const listed = await kv.lease.list();
  assert.deepEqual(listed.map((l) => l.id), [kept.id]);

  const revoked = await kv.lease.revoke(kept.id);
  assert.equal(revoked.deletedKeys, 1);
  assert.equal(await handle.done, null, 'revoking ends its keep-alive');
  assert.equal(await kv.get('kept/a'), null);
  await assert.rejects(kv.lease.revoke(kept.id), LeaseNotFoundError);
  await assert.rejects(kv.put('x', '1', { lease: kept.id }), LeaseNotFoundError);
  await assert.rejects(kv.lease.keepAliveOnce(kept.id), LeaseNotFoundError);
});

/**
 * The documented bound (docs/client.md): a lease expires at most
 * TTL + 2 x election timeout (the randomized maximum) + the clock margin
 * (1 s) + one tick after its grant, plus the time to commit the expiry
 * entry. With the harness's defaults (election timeout 1 s, tick 100 ms):
 * 10 s + 2 s + 1 s + 0.1 s. A new leader that reset the TTL would expire it
 * no earlier than 5 s + its election + 10 s, about 16 s after the grant.
 */
test('a 10 s lease whose leader is SIGKILLed at 5 s expires within the margin of 10 s, not 10 s after the new leader', { timeout: 120_000 }, async () => {
  const { cluster, kv } = await start();
  const ttlMs = 10_000;
  const sentAt = performance.now();
  const lease = await kv.lease.grant(ttlMs);
  const grantedAt = performance.now();
  await kv.put('doomed', 'x', { lease: lease.id });
  const leader = await cluster.waitForLeader();
  await sleep(5000 - (performance.now() - sentAt));
  await cluster.kill(leader);
  const killedAt = performance.now() - sentAt;
  const newLeader = await cluster.waitForLeader(30_000);
  assert.notEqual(newLeader, leader);
  const electedAt = performance.now() - sentAt;

  let goneAt = 0;
  await waitFor('the lease to expire on the new leader', async () => {
    try {
      await cluster.call(newLeader, 'lease.timeToLive', { id: lease.id }, 2000);
      return false;
    } catch (error) {
      if ((error as { code?: string }).code !== new LeaseNotFoundError({ leaseId: 0 }).code) throw error;
      goneAt = performance.now() - sentAt;
      return true;
    }
  }, 40_000);
  assert.ok(await goneEverywhere(cluster, 'doomed'), 'its key is deleted');

  const boundMs = ttlMs + 2 * 1000 + 1000 + 100;
  const slackMs = 1500; // commit of the expiry entry and this test's polling, on a loaded machine
  const detail = `killed at ${killedAt.toFixed(0)} ms, new leader at ${electedAt.toFixed(0)} ms, gone at ${goneAt.toFixed(0)} ms after the grant was sent (acknowledged after ${(grantedAt - sentAt).toFixed(0)} ms)`;
  assert.ok(goneAt >= ttlMs - 1000, `not early: ${detail}`);
  assert.ok(goneAt <= boundMs + slackMs, `within the documented margin of ${ttlMs} ms: ${detail}`);
  assert.ok(goneAt < electedAt + ttlMs, `not a full TTL after the new leader: ${detail}`);
  process.stdout.write(`# lease failover: ${detail}\n`);
});
