/**
 * The client's lease API over a scripted transport on a manual clock: the
 * background helper renews every kept lease in one round per third of the
 * shortest TTL, in requests of at most 10,000 ids (coalesced: 25,000 leases
 * cost 3 requests a round, not 25,000), a lost lease ends its handle with
 * LeaseNotFoundError, stop() and revoke() end it with null, and a failed
 * round is tried again at the next.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseClient, type LeaseTransport } from '../../src/client/leases.js';
import { LeaseNotFoundError } from '../../src/kv/index.js';
import { ManualClock } from '../../src/testing/manual-clock.js';

class FakeCluster {
  readonly keepAlives: number[][] = [];
  readonly live = new Set<number>();
  failing = false;
  readonly transport: LeaseTransport = {
    write: async (method, fields) => {
      if (method === 'lease.keepAlive') {
        if (this.failing) throw new Error('unavailable');
        const ids = fields['ids'] as number[];
        this.keepAlives.push(ids);
        return { header: null, ttls: ids.map((id) => (this.live.has(id) ? 3000 : 0)) };
      }
      if (method === 'lease.revoke') {
        this.live.delete(fields['id'] as number);
        return { header: null, revision: 9, deletedKeys: 0 };
      }
      return { header: null, id: fields['id'] ?? 1, ttlMs: fields['ttlMs'] };
    },
    read: async () => ({}),
  };
}

test('25,000 kept leases are renewed in 3 requests a round, every third of the TTL', async () => {
  const clock = new ManualClock();
  const cluster = new FakeCluster();
  const leases = new LeaseClient(cluster.transport, clock);
  const handles = [];
  for (let id = 1; id <= 25_000; id++) {
    cluster.live.add(id);
    handles.push(leases.keepAlive(id, { ttlMs: 3000 }));
  }
  await clock.advance(999);
  assert.equal(cluster.keepAlives.length, 0, 'leases just granted are not renewed at once');
  await clock.advance(1);
  assert.deepEqual(cluster.keepAlives.map((ids) => ids.length), [10_000, 10_000, 5_000]);
  await clock.advance(3000);
  assert.equal(cluster.keepAlives.length, 12, 'three more rounds in 3 s');
  assert.equal(leases.keepAliveRequests, 12);
  assert.equal(leases.keepAliveRenewals, 100_000);
  leases.stopAll();
  assert.deepEqual(await handles[0]!.done, null);
});

test('a lease the cluster no longer has ends its handle with LeaseNotFoundError; stop and revoke end with null', async () => {
  const clock = new ManualClock();
  const cluster = new FakeCluster();
  const leases = new LeaseClient(cluster.transport, clock);
  for (const id of [1, 2, 3]) cluster.live.add(id);
  const one = leases.keepAlive(1);
  const two = leases.keepAlive(2);
  const three = leases.keepAlive(3);
  await clock.advance(0);
  assert.deepEqual(cluster.keepAlives, [[1, 2, 3]], 'a keepAlive without a fresh TTL renews at once, coalesced within the turn');
  cluster.live.delete(2);
  await clock.advance(1000);
  const lost = await two.done;
  assert.ok(lost instanceof LeaseNotFoundError);
  assert.equal(leases.keptAliveCount, 2);
  one.stop();
  assert.equal(await one.done, null);
  await leases.revoke(3);
  assert.equal(await three.done, null);
  assert.equal(leases.keptAliveCount, 0);
  const before = cluster.keepAlives.length;
  await clock.advance(10_000);
  assert.equal(cluster.keepAlives.length, before, 'nothing kept: no more requests');
});

test('a failed round is tried again at the next; the lease stays kept', async () => {
  const clock = new ManualClock();
  const cluster = new FakeCluster();
  const leases = new LeaseClient(cluster.transport, clock);
  cluster.live.add(7);
  const handle = leases.keepAlive(7, { ttlMs: 3000 });
  cluster.failing = true;
  await clock.advance(1000);
  assert.equal(cluster.keepAlives.length, 0);
  assert.equal(leases.keptAliveCount, 1);
  cluster.failing = false;
  await clock.advance(1000);
  assert.deepEqual(cluster.keepAlives, [[7]]);
  handle.stop();
});
