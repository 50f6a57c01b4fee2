/**
 * `session.list` on real member processes: the session table at a glance
 * (what the dashboard's Sessions view shows), from the replicated state:
 * every live session counted, the one holding the most saved results first,
 * the one expiring first first, asked through a follower (forwarded to the
 * leader); admin only once auth is enabled.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, PermissionDeniedError, type KvClient } from '../../src/client/index.js';
import { TestCluster } from './harness.js';

const clusters: TestCluster[] = [];
const clients: KvClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await Promise.all(clusters.map((c) => c.stop()));
});

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test('session.list counts the live sessions and names the largest and the one expiring first', { timeout: 120_000 }, async () => {
  const cluster = await TestCluster.start({ size: 3 });
  clusters.push(cluster);
  const leader = await cluster.waitForLeader();
  const follower = cluster.members.find((m) => m.name !== leader)!;
  // Three raw sessions: one that holds five unacknowledged results, one with a short TTL, one idle.
  const heavy = await cluster.call(leader, 'session.open', { ttlMs: 60_000 });
  const short = await cluster.call(leader, 'session.open', { ttlMs: 10_000 });
  const idle = await cluster.call(leader, 'session.open', { ttlMs: 60_000 });
  for (let seq = 1; seq <= 5; seq++) {
    await cluster.call(leader, 'kv.put', { key: bytes(`s/${seq}`), value: bytes('x'), session: { sessionId: heavy.sessionId, seq, ackedSeq: 0 } });
  }
  await cluster.call(leader, 'kv.put', { key: bytes('s/short'), value: bytes('y'), session: { sessionId: short.sessionId, seq: 1, ackedSeq: 0 } });

  const kv = await connect({ endpoints: [follower.clientUrl], timeoutMs: 20_000, openSessionOnConnect: false });
  clients.push(kv);
  const listed = await kv.sessionTable.list();
  assert.equal(listed.count, 3);
  assert.ok(listed.tableBytes > 0);
  assert.equal(listed.header.memberName, leader, 'a follower forwards it to the leader');
  assert.deepEqual(listed.largest.map((s) => s.id), [heavy.sessionId, short.sessionId, idle.sessionId]);
  assert.equal(listed.largest[0]!.savedResults, 5);
  assert.ok(listed.largest[0]!.savedResultBytes > listed.largest[1]!.savedResultBytes);
  assert.equal(listed.largest[2]!.savedResults, 0);
  assert.equal(listed.expiringFirst[0]!.id, short.sessionId);
  assert.ok(listed.expiringFirst[0]!.expiresInMs > 0 && listed.expiringFirst[0]!.expiresInMs <= 10_000);
  assert.equal(listed.expiringFirst[0]!.owner, '');
  // A limit keeps each list short; the count is still the whole table's.
  const one = await kv.sessionTable.list({ limit: 1 });
  assert.equal(one.count, 3);
  assert.deepEqual(one.largest.map((s) => s.id), [heavy.sessionId]);
  assert.deepEqual(one.expiringFirst.map((s) => s.id), [short.sessionId]);
  // Closed sessions leave the table.
  await cluster.call(leader, 'session.close', { sessionId: idle.sessionId });
  assert.equal((await kv.sessionTable.list()).count, 2);

  // Once auth is on it names users: admin only.
  await kv.admin('user.add', { name: 'root', password: 'rootpw' });
  await kv.admin('user.add', { name: 'alice', password: 'alicepw' });
  await kv.admin('auth.enable', {});
  const alice = await connect({ endpoints: [follower.clientUrl], timeoutMs: 20_000, openSessionOnConnect: false, auth: { user: 'alice', password: 'alicepw' } });
  clients.push(alice);
  await assert.rejects(alice.sessionTable.list(), PermissionDeniedError);
  const root = await connect({ endpoints: [follower.clientUrl], timeoutMs: 20_000, auth: { user: 'root', password: 'rootpw' } });
  clients.push(root);
  const asRoot = await root.sessionTable.list();
  assert.ok(asRoot.largest.some((s) => s.owner === 'root'), "root's own session counts against root");
});
