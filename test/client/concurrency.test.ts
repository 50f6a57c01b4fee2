/**
 * The lock and the election recipes (src/client/concurrency, docs/recipes.md)
 * on real member processes: mutual exclusion and hand-over in line order, a
 * holder cut off past its TTL losing the lock to the next waiter, and a
 * leader that resigns handing over to the next candidate while an observer
 * sees each leader.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, Election, Mutex, type KvClient } from '../../src/client/index.js';
import { TestCluster, sleep, waitFor } from '../server/harness.js';

const clusters: TestCluster[] = [];
const clients: KvClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await Promise.all(clusters.map((c) => c.stop()));
});

async function start(): Promise<() => Promise<KvClient>> {
  const cluster = await TestCluster.start({ size: 3 });
  clusters.push(cluster);
  await cluster.waitForLeader();
  return async () => {
    const kv = await connect({ endpoints: cluster.members.map((m) => m.clientUrl), timeoutMs: 20_000 });
    clients.push(kv);
    return kv;
  };
}

test('Mutex: one holder at a time, handed over in line order; a holder cut off past its TTL loses it', { timeout: 120_000 }, async () => {
  const client = await start();
  const [a, b, c] = [await client(), await client(), await client()];
  const order: string[] = [];
  let inside = 0;
  const critical = async (name: string, lock: Mutex): Promise<void> => {
    await lock.lock();
    inside++;
    assert.equal(inside, 1, 'never two holders');
    order.push(name);
    await sleep(200);
    inside--;
    await lock.unlock();
  };
  const lockA = new Mutex(a, 'locks/job/');
  await lockA.lock();
  const waiting = [critical('b', new Mutex(b, 'locks/job/')), (async () => {
    await sleep(300); // c joins the line after b
    await critical('c', new Mutex(c, 'locks/job/'));
  })()];
  await sleep(800);
  assert.equal(order.length, 0, 'nobody gets in while a holds the lock');
  order.push('a');
  await lockA.unlock();
  await Promise.all(waiting);
  assert.deepEqual(order, ['a', 'b', 'c']);

  // A holder whose client goes away without unlocking: its lease expires and the next waiter gets the lock.
  const d = await client();
  const held = new Mutex(d, 'locks/ttl/', { ttlMs: 1500 });
  await held.lock();
  const next = new Mutex(a, 'locks/ttl/');
  const acquired = next.lock();
  await d.close();
  await acquired;
  assert.ok(next.key !== null && next.revision > held.revision);
  await next.unlock();
});

test('Election: the first candidate leads, a resign hands over, an observer sees each leader', { timeout: 120_000 }, async () => {
  const client = await start();
  const [a, b, watcher] = [await client(), await client(), await client()];
  const controller = new AbortController();
  const seen: (string | null)[] = [];
  const observer = new Election(watcher, 'elections/sched/');
  const observing = (async () => {
    try {
      for await (const leader of observer.observe({ signal: controller.signal })) seen.push(leader);
    } catch {
      // aborted at the end of the test
    }
  })();
  await waitFor('the observer to start', () => seen.length === 1, 20_000);
  const ea = new Election(a, 'elections/sched/');
  await ea.campaign('node-a');
  const eb = new Election(b, 'elections/sched/');
  const bLeads = eb.campaign('node-b');
  assert.equal(await observer.leader(), 'node-a');
  await ea.proclaim('node-a v2');
  await waitFor('the observer to see node-a v2', () => seen.includes('node-a v2'), 20_000);
  await ea.resign();
  await bLeads;
  assert.equal(await observer.leader(), 'node-b');
  await waitFor('the observer to see node-b', () => seen.includes('node-b'), 20_000);
  await eb.resign();
  await waitFor('the observer to see nobody lead', () => seen[seen.length - 1] === null, 20_000);
  controller.abort();
  await observing;
  assert.deepEqual(seen.filter((s, i) => s !== seen[i - 1]), [null, 'node-a', 'node-a v2', 'node-b', null]);
});
