/**
 * The client against real server processes (three members on loopback, in a
 * temp dir): scan paging over the members' continuation tokens, the real
 * members' errors arriving as the typed errors, stale reads from every
 * member, and, last, concurrent writers going on through a `kill -9` of the
 * leader with every key's version afterwards equal to the number of writes
 * the client acknowledged for it: no acknowledged write lost, no retried
 * write applied twice (exactly-once, Raft thesis §6.3).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, KeyNotFoundError, ValueTooLargeError, VersionMismatchError, type KvClient } from '../../src/client/index.js';
import { LocalCluster, MemberOutput } from '../../src/cli/dev/local-cluster.js';
import { freePortRange } from '../../src/cli/dev/free-ports.js';

const valueBytesMax = 1024;

describe('client against a real three-member cluster', { timeout: 180_000 }, () => {
  let dataDir: string | undefined;
  // Assigned in before(); after() copes with a before() that failed half way.
  let cluster: LocalCluster;
  let kv: KvClient;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-client-real-'));
    dataDir = dir;
    const base = await freePortRange(3, 100);
    cluster = await LocalCluster.start({
      nodes: 3,
      dataDir: dir,
      clientPortBase: base,
      peerPortBase: base + 100,
      output: MemberOutput.Ignore,
      serverArgs: ['--heartbeat-interval-ms', '50', '--election-timeout-ms', '300', '--log-level', 'warn', '--value-bytes-max', String(valueBytesMax)],
    });
    await cluster.waitForLeader({ timeoutMs: 60_000 });
    kv = await connect({ endpoints: cluster.endpoints, timeoutMs: 30_000 });
  });

  after(async () => {
    if (kv !== undefined) await kv.close().catch(() => undefined);
    if (cluster !== undefined) await cluster.stop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  test('scan pages through 250 keys in order, 64 at a time', async () => {
    const keys = Array.from({ length: 250 }, (_, i) => `scan/${String(i).padStart(4, '0')}`);
    await Promise.all(keys.map((k) => kv.put(k, `value of ${k}`)));
    await kv.put('scan0', 'outside the prefix');
    const pageSizes: number[] = [];
    const seen: string[] = [];
    for await (const page of kv.scan({ prefix: 'scan/' }, { pageSize: 64 })) {
      pageSizes.push(page.length);
      for (const entry of page) {
        seen.push(entry.keyString());
        assert.equal(entry.valueString(), `value of ${entry.keyString()}`);
      }
    }
    assert.deepEqual(pageSizes, [64, 64, 64, 58]);
    assert.deepEqual(seen, keys);
    const limited = await kv.scan({ start: 'scan/0100', end: 'scan/0200' }, { pageSize: 30, limit: 45 }).toArray();
    assert.deepEqual(
      limited.map((e) => e.keyString()),
      keys.slice(100, 145),
    );
  });

  test('a member\'s errors arrive as typed errors and the member keeps serving', async () => {
    await assert.rejects(kv.update('real/missing', 'x'), KeyNotFoundError);
    await kv.put('real/cas', 'v1');
    await assert.rejects(kv.put('real/cas', 'v2', { expectedVersion: 0 }), (error: unknown) => {
      assert.ok(error instanceof VersionMismatchError);
      assert.equal(error.details.actualVersion, 1);
      return true;
    });
    await assert.rejects(kv.put('real/big', new Uint8Array(valueBytesMax + 1)), (error: unknown) => {
      assert.ok(error instanceof ValueTooLargeError);
      assert.equal(error.details.valueBytes, valueBytesMax + 1);
      return true;
    });
    assert.equal((await kv.put('real/cas', 'v2', { expectedVersion: 1 })).version, 2);
    assert.equal((await kv.get('real/cas'))?.valueString(), 'v2');
  });

  test('stale reads are served by the member they are sent to, and every member has the write', async () => {
    const written = await kv.put('real/everywhere', 'same');
    for (const endpoint of cluster.endpoints) {
      // Only this member to start from: the first (linearizable) read goes
      // to it, and it answers only once it has applied up to the read index,
      // so its own copy then holds the write.
      const one = await connect({ endpoints: [endpoint], openSessionOnConnect: false });
      try {
        assert.equal((await one.get('real/everywhere'))?.modRevision, written.revision);
        // The client now knows the leader, but stale reads stay with this member.
        const stale = await one.get('real/everywhere', { consistency: 'stale' });
        assert.equal(stale?.valueString(), 'same');
        assert.equal(stale?.modRevision, written.revision);
      } finally {
        await one.close();
      }
    }
    const status = await kv.status();
    assert.equal(status.members.length, 3);
    assert.ok(status.members.every((m) => m.status !== null && m.status.leaderId === status.leaderId));
  });

  test('writes survive a kill -9 of the leader, each applied exactly once', async () => {
    const writers = 16;
    const writesPerWriterMax = 400; // Bounds each loop whatever happens.
    const killAfterAcks = 600;
    const writesAfterKill = 40;
    const { leader } = await cluster.waitForLeader();
    const acked = new Array<number>(writers).fill(0);
    const ackedAtKill = new Array<number>(writers).fill(0);
    let totalAcked = 0;
    let killing: Promise<unknown> | null = null;

    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < writesPerWriterMax; i++) {
          if (killing !== null && acked[w]! >= ackedAtKill[w]! + writesAfterKill) return;
          await kv.put(`failover/${w}`, `write ${i}`);
          acked[w]!++;
          totalAcked++;
          if (killing === null && totalAcked >= killAfterAcks) {
            acked.forEach((n, j) => (ackedAtKill[j] = n));
            killing = cluster.stopMember(leader.name, 'SIGKILL');
          }
        }
      }),
    );
    assert.ok(killing !== null, 'the leader was killed during the workload');
    await killing;
    for (let w = 0; w < writers; w++) assert.ok(acked[w]! >= ackedAtKill[w]! + writesAfterKill, `writer ${w} went on after the kill`);

    // A fresh client: every key's version is exactly its number of acknowledged writes.
    const check = await connect({ endpoints: cluster.endpoints, timeoutMs: 30_000 });
    try {
      for (let w = 0; w < writers; w++) {
        const entry = await check.get(`failover/${w}`);
        assert.equal(entry?.version, acked[w], `failover/${w}`);
        assert.equal(entry?.valueString(), `write ${acked[w]! - 1}`);
      }
      assert.notEqual((await check.status()).leaderId, leader.name);
    } finally {
      await check.close();
    }
  });
});
