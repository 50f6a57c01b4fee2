/**
 * `--resp-cluster emulated` with real cluster-aware clients against three
 * real Concord members: `redis-cli -c` follows a follower's MOVED to the
 * leader; ioredis `Cluster` and node-redis `createCluster`, seeded with any
 * one member, find the leader from CLUSTER SLOTS and write and read; READONLY
 * reads on followers see the writes just acknowledged (ReadIndex, not a
 * replica's stale read); after the leader is killed with SIGKILL, ioredis
 * follows the new leader.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import { createCluster } from 'redis';
import type { LocalCluster, LocalMember } from '../../src/cli/dev/local-cluster.js';
import { portOf, run, startRespCluster, type RespCluster } from './resp-cluster-harness.js';



/** CLUSTER SLOTS of one member, as [masterPort, ...replicaPorts] (empty while it knows no leader's address). */
async function slotPorts(member: LocalMember): Promise<number[]> {
  const r = new Redis({ host: '127.0.0.1', port: portOf(member), maxRetriesPerRequest: 0, lazyConnect: true, enableReadyCheck: false, retryStrategy: () => null });
  try {
    await r.connect();
    const slots = (await r.call('cluster', 'slots')) as unknown[][];
    return slots.length === 0 ? [] : slots[0]!.slice(2).map((n) => (n as [string, number])[1]);
  } finally {
    r.disconnect();
  }
}

/**
 * Polls (bounded) until every running member's CLUSTER SLOTS shows the same
 * master, one of them, with every other running member as a replica; returns
 * that master.
 */
async function waitForTopology(running: readonly LocalMember[]): Promise<LocalMember> {
  const ports = running.map(portOf).sort().join();
  let seen: number[][] = [];
  for (let attempt = 0; attempt < 300; attempt++) {
    seen = await Promise.all(running.map((m) => slotPorts(m).catch(() => [])));
    const master = seen[0]![0];
    if (seen.every((p) => p[0] === master && [...p].sort().join() === ports)) return running.find((m) => portOf(m) === master)!;
    await sleep(100);
  }
  return assert.fail(`members never agreed on one master with every member in CLUSTER SLOTS: ${JSON.stringify(seen)}`);
}

describe('emulated Redis Cluster with cluster-aware clients against a real three-member cluster', { timeout: 300_000 }, () => {
  let started: RespCluster | undefined;
  let cluster: LocalCluster;
  let leader: LocalMember;
  let follower: LocalMember;

  before(async () => {
    started = await startRespCluster('concord-redis-cluster-', ['--resp-cluster', 'emulated']);
    ({ cluster, leader, follower } = started);
  });

  after(async () => {
    await started?.stop();
  });

  test('redis-cli: a follower answers MOVED to the leader; with -c one-shot SET and GET follow it', async (t) => {
    if (!existsSync('/usr/bin/redis-cli')) {
      t.skip('redis-tools not installed (scripts/install-test-deps.sh installs it)');
      return;
    }
    const port = String(portOf(follower));
    const plain = await run('redis-cli', ['-p', port, 'set', 'cli:k', 'v']);
    assert.match(plain.stdout, new RegExp(`MOVED \\d+ 127\\.0\\.0\\.1:${portOf(leader)}`));
    assert.equal((await run('redis-cli', ['-c', '-p', port, 'set', 'cli:k', 'v'])).stdout.trim(), 'OK');
    assert.equal((await run('redis-cli', ['-c', '-p', port, 'get', 'cli:k'])).stdout.trim(), 'v');
    assert.equal((await run('redis-cli', ['-p', port, 'cluster', 'keyslot', 'somekey'])).stdout.trim(), '11058');
    assert.match((await run('redis-cli', ['-p', port, 'info', 'cluster'])).stdout, /cluster_enabled:1/);
  });

  test('ioredis Cluster seeded with any one member writes and reads; READONLY reads on replicas see every acknowledged write', async () => {
    for (const seed of cluster.members) {
      const c = new Cluster([{ host: '127.0.0.1', port: portOf(seed) }], { scaleReads: 'slave', redisOptions: { maxRetriesPerRequest: 1 } });
      try {
        const p = `io:${seed.name}:`;
        for (let i = 0; i < 20; i++) {
          assert.equal(await c.set(`${p}${i}`, String(i)), 'OK');
          // Served by a replica (scaleReads: slave, after READONLY), right after the write's acknowledgement.
          assert.equal(await c.get(`${p}${i}`), String(i), 'a replica read sees the write just acknowledged');
        }
        assert.equal(await c.incr(`${p}n`), 1);
        assert.deepEqual(await c.mget(`{${p}}a`, `{${p}}b`), [null, null]);
        assert.deepEqual(await c.multi().set(`${p}tx`, '1').get(`${p}tx`).exec(), [[null, 'OK'], [null, '1']]);
      } finally {
        c.disconnect();
      }
    }
    // The followers served GETs themselves (a GET answered MOVED counts as rejected, not as a call).
    let servedOnFollowers = 0;
    for (const m of cluster.members.filter((x) => x !== leader)) {
      const r = new Redis({ host: '127.0.0.1', port: portOf(m), maxRetriesPerRequest: 0, lazyConnect: true, enableReadyCheck: false });
      try {
        await r.connect();
        servedOnFollowers += Number(/cmdstat_get:calls=(\d+)/.exec(await r.info('commandstats'))?.[1] ?? 0);
      } finally {
        r.disconnect();
      }
    }
    assert.ok(servedOnFollowers > 0, 'READONLY reads ran on the followers');
  });

  test('node-redis createCluster seeded with a follower writes and reads, also from replicas', async () => {
    const c = createCluster({ rootNodes: [{ socket: { host: '127.0.0.1', port: portOf(follower) } }], useReplicas: true });
    c.on('error', () => {});
    try {
      await c.connect();
      for (let i = 0; i < 20; i++) {
        assert.equal(await c.set(`nr:${i}`, String(i)), 'OK');
        assert.equal(await c.get(`nr:${i}`), String(i));
      }
      assert.equal(await c.incr('nr:n'), 1);
    } finally {
      await c.close().catch(() => {});
    }
  });

  test('after the leader is killed (SIGKILL), ioredis Cluster follows MOVED to the new leader', async () => {
    const c = new Cluster([{ host: '127.0.0.1', port: portOf(follower) }], { redisOptions: { maxRetriesPerRequest: 1 } });
    c.on('error', () => {});
    try {
      assert.equal(await c.set('kill:before', '1'), 'OK');
      await cluster.stopMember(leader.name, 'SIGKILL');
      const survivors = cluster.members.filter((m) => m !== leader);
      // Every survivor names the new leader as master (the killed one is gone from CLUSTER SLOTS).
      const next = await waitForTopology(survivors);
      // Bounded: the client may still hold the dead leader's connection for a while.
      let written = false;
      let last: unknown = null;
      for (let attempt = 0; attempt < 100 && !written; attempt++) {
        try {
          written = (await c.set('kill:after', '2')) === 'OK';
        } catch (error) {
          last = error;
          await sleep(200);
        }
      }
      assert.ok(written, `no write succeeded after the kill: ${String(last)}`);
      assert.equal(await c.get('kill:before'), '1');
      assert.equal(await c.get('kill:after'), '2');
      const direct = new Redis({ host: '127.0.0.1', port: portOf(survivors.find((m) => m !== next)!), maxRetriesPerRequest: 0, lazyConnect: true, enableReadyCheck: false });
      try {
        await direct.connect();
        await assert.rejects(direct.set('kill:after', '3'), new RegExp(`MOVED \\d+ 127\\.0\\.0\\.1:${portOf(next)}`));
      } finally {
        direct.disconnect();
      }
    } finally {
      c.disconnect();
    }
  });
});
