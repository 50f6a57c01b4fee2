/**
 * Crash and recovery with real processes: kill -9 the leader in the middle of
 * a write workload; a new leader takes over, the workload finishes, every
 * acknowledged write is readable and applied exactly once; the killed member,
 * restarted, catches up by InstallSnapshot because its log was compacted away.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { GetResponse } from '../../src/protocol/index.js';
import { TestCluster, forEachConcurrent, text, utf8, waitFor } from './harness.js';

let cluster: TestCluster | undefined;
after(async () => {
  await cluster?.stop();
});

test('kill -9 the leader during writes: the workload goes on, acknowledged writes survive, the restarted member catches up by snapshot', { timeout: 180_000 }, async () => {
  cluster = await TestCluster.start({ size: 3, serverArgs: ['--snapshot-every-entries', '200'] });
  const c = cluster;
  const writers = 16;
  const writesPerWriter = 120;
  const killAfterAcks = 400;

  const sessions = await Promise.all(Array.from({ length: writers }, () => c.openSession()));
  const acked = new Map<string, { value: string; revision: number }>();
  const victim: { name: string | null } = { name: null };
  let killing: Promise<void> | null = null;

  await forEachConcurrent(sessions, writers, async (sessionId, w) => {
    for (let seq = 1; seq <= writesPerWriter; seq++) {
      const key = `w${String(w).padStart(2, '0')}-${String(seq).padStart(4, '0')}`;
      const value = `value ${key}`;
      // callAny retries the very same request (same session and seq) on leader loss and timeouts.
      const response = await c.callAny('kv.put', { key: utf8(key), value: utf8(value), session: { sessionId, seq, ackedSeq: seq - 1 } });
      assert.equal(response.version, 1, `${key} applied once (a retry answers with the original result)`);
      acked.set(key, { value, revision: response.revision });
      if (acked.size === killAfterAcks && killing === null) {
        killing = (async () => {
          const leader = await c.waitForLeader();
          victim.name = leader;
          await c.kill(leader);
        })();
      }
    }
  });
  await killing;
  const killed = victim.name;
  assert.ok(killed !== null, 'the leader was killed during the workload');
  assert.equal(acked.size, writers * writesPerWriter);

  const newLeader = await c.waitForLeader();
  assert.notEqual(newLeader, killed);

  // Every acknowledged write is there, once, on the surviving members.
  await c.waitForConvergence();
  for (const member of c.members.filter((m) => m.process !== null)) {
    let seen = 0;
    let afterKey: Uint8Array | undefined;
    for (;;) {
      const page = await c.call(member.name, 'kv.scan', {
        prefix: utf8('w'),
        limit: 500,
        consistency: 'stale',
        ...(afterKey ? { after: afterKey } : {}),
      });
      for (const item of page.items) {
        const expected = acked.get(text(item.key));
        assert.ok(expected, `unexpected key ${text(item.key)}`);
        assert.equal(text(item.value), expected.value);
        assert.equal(item.version, 1);
        assert.equal(item.modRevision, expected.revision);
        seen++;
      }
      if (page.next === null) break;
      afterKey = page.next;
    }
    assert.equal(seen, acked.size, `member ${member.name} holds every acknowledged write`);
  }

  // The killed member restarts with only its data dir and URLs and catches up; the log it
  // needs was compacted away on the others, so it gets there by InstallSnapshot.
  const leaderStatus = await c.status(newLeader);
  assert.ok(leaderStatus.member.snapshotIndex > 0, 'the leader took snapshots');
  await c.restart(killed);
  await c.waitForConvergence(30_000);
  const restarted = await c.status(killed);
  assert.ok(restarted.member.appliedIndex >= leaderStatus.member.commitIndex);
  await waitFor('the restart to log a snapshot install', () =>
    readFileSync(c.member(killed).logFile, 'utf8').includes('installed a snapshot from the leader'),
  );
  for (const [key, expected] of acked) {
    const got: GetResponse = await c.call(killed, 'kv.get', { key: utf8(key), consistency: 'stale' });
    assert.equal(got.kv && text(got.kv.value), expected.value, `restarted member has ${key}`);
  }
  // And it serves linearizable reads and writes again (forwarded to the leader if it follows).
  const session = await c.openSession();
  await c.call(killed, 'kv.put', { key: utf8('after-restart'), value: utf8('yes'), session: { sessionId: session, seq: 1, ackedSeq: 0 } });
  const afterRestart = await c.call(killed, 'kv.get', { key: utf8('after-restart'), consistency: 'linearizable' });
  assert.equal(afterRestart.kv && text(afterRestart.kv.value), 'yes');
});
