/**
 * Membership changes with real member processes on loopback (issue 13 §1):
 * 3 -> 5 -> 3 under a continuous write load (two learners added, caught up by
 * snapshot, promoted; two initial members removed, the leader among them),
 * with no acknowledged write lost and every remaining member holding the same
 * data; a learner that has not caught up cannot be promoted; a removed
 * member stops with its own exit code instead of campaigning. The pause each
 * change causes in the write load is printed (CONCORD_MEMBERSHIP_FIGURES=1
 * prints it as JSON too).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, LearnerNotCaughtUpError, MemberExistsError, type KvClient } from '../../src/client/index.js';
import { ServerExitCode } from '../../src/server/exit-codes.js';
import { TestCluster, sleep, waitFor, type Member } from './harness.js';
import { WriteLoad, pauseDuring, type PauseFigure } from './write-load.js';

const figures: PauseFigure[] = [];

describe('3 -> 5 -> 3 members under a write load', { timeout: 240_000 }, () => {
  let cluster: TestCluster;
  let admin: KvClient;
  let load: WriteLoad;
  let n4: Member;
  let n5: Member;

  before(async () => {
    // A small snapshot interval: the new members catch up by snapshot (the log is compacted).
    cluster = await TestCluster.start({ size: 3, serverArgs: ['--snapshot-every-entries', '300'] });
    n4 = await cluster.spawnNew('n4', []);
    n5 = await cluster.spawnNew('n5', []);
    const endpoints = cluster.members.map((m) => m.clientUrl);
    admin = await connect({ endpoints, timeoutMs: 20_000 });
    load = await WriteLoad.start(endpoints, { writers: 4, opsMax: 60_000 });
    await load.waitForAcks(500);
  });
  after(async () => {
    await load?.stop();
    await admin?.close();
    await cluster?.stop();
  });

  async function timed<T>(what: string, action: () => Promise<T>): Promise<T> {
    const startMs = Date.now();
    const result = await action();
    // Let the load show whether it paused after the change answered, too.
    await sleep(1000);
    figures.push(pauseDuring(load, what, startMs, Date.now()));
    return result;
  }

  async function caughtUp(name: string): Promise<void> {
    await waitFor(`${name} to catch up`, async () => {
      const list = await admin.members.list();
      const m = list.members.find((x) => x.name === name);
      return m !== undefined && m.active && m.trailingEntries < 200;
    }, 60_000);
  }

  test('two learners join by snapshot; one not yet started cannot be promoted', async () => {
    const added = await timed('add learner', () => admin.members.add('n4', { peerUrl: n4.peerUrl, clientUrl: n4.clientUrl, learner: true }));
    assert.equal(added.member.role, 'learner');
    assert.match(added.member.id, /^[0-9a-f]{16}$/);
    const config = added.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    assert.equal(added.members.length, 4);
    // A retried add (its answer lost) gets the member back; the same name with another URL is refused.
    const again = await admin.members.add('n4', { peerUrl: n4.peerUrl, learner: true });
    assert.equal(again.member.id, added.member.id);
    assert.equal(again.members.length, 4);
    await assert.rejects(admin.members.add('n4', { peerUrl: n5.peerUrl, learner: true }), MemberExistsError);
    cluster.launch(n4, ['--name', 'n4', '--initial-cluster', config, '--initial-cluster-state', 'existing']);
    await caughtUp('n4');

    const added5 = await timed('add learner', () => admin.members.add('n5', { peerUrl: n5.peerUrl, clientUrl: n5.clientUrl, learner: true }));
    // n5 does not run yet: it trails by the whole log and must not be promoted.
    await assert.rejects(admin.members.promote('n5'), (error: unknown) => {
      assert.ok(error instanceof LearnerNotCaughtUpError, String(error));
      assert.equal(error.lag.name, 'n5');
      assert.ok(error.lag.leaderLastIndex > 0);
      assert.match(error.message, /n5/);
      return true;
    });
    cluster.launch(n5, ['--name', 'n5', '--initial-cluster', added5.members.map((m) => `${m.name}=${m.peerUrl}`).join(','), '--initial-cluster-state', 'existing']);
    await caughtUp('n5');
    const status = await cluster.status('n5');
    assert.ok(status.member.snapshotIndex > 0 || status.member.firstLogIndex > 1, 'n5 caught up from a snapshot');
  });

  test('both learners are promoted: five voters', async () => {
    await timed('promote', () => admin.members.promote('n4'));
    await timed('promote', () => admin.members.promote('n5'));
    const list = await admin.members.list();
    assert.deepEqual(list.members.map((m) => `${m.name}:${m.role}`), ['n1:voter', 'n2:voter', 'n3:voter', 'n4:voter', 'n5:voter']);
  });

  test('a leader transfer to a new member', async () => {
    const moved = await timed('leader transfer', () => admin.leader.transfer('n4'));
    assert.equal(moved.leader, 'n4');
    const moved2 = await timed('leader transfer', () => admin.leader.transfer());
    assert.notEqual(moved2.leader, 'n4');
  });

  test('two initial members are removed, the leader among them; they stop with the Removed exit code', async () => {
    const leader = await cluster.waitForLeader();
    const initial = ['n1', 'n2', 'n3'];
    const leaderToRemove = initial.includes(leader) ? leader : 'n1';
    if (!initial.includes(leader)) await admin.leader.transfer('n1');
    const other = initial.find((n) => n !== leaderToRemove)!;
    const exits = [cluster.member(leaderToRemove).exited, cluster.member(other).exited];
    await timed('remove leader', () => admin.members.remove(leaderToRemove));
    await timed('remove follower', () => admin.members.remove(other));
    const codes = await Promise.race([Promise.all(exits), sleep(30_000).then(() => null)]);
    assert.deepEqual(codes, [ServerExitCode.Removed, ServerExitCode.Removed], `${cluster.logTail(leaderToRemove)}\n${cluster.logTail(other)}`);
    assert.match(cluster.logTail(other, 80), /was removed from the cluster/);
    cluster.forget(leaderToRemove);
    cluster.forget(other);
    const list = await admin.members.list();
    assert.equal(list.members.length, 3);
    assert.ok(list.members.every((m) => m.role === 'voter'));
  });

  test('no acknowledged write is lost, and every remaining member holds the same data', async () => {
    await load.waitForAcks(load.acked + 200);
    await load.stop();
    const { acked, failed } = load.summary();
    assert.ok(acked > 1000, `only ${acked} writes acknowledged`);
    await cluster.waitForConvergence(30_000);
    const reader = await connect({ endpoints: cluster.members.map((m) => m.clientUrl), timeoutMs: 20_000, openSessionOnConnect: false });
    try {
      const missing = await load.verify(reader);
      assert.deepEqual(missing, [], `acknowledged writes missing (${failed} writes had unknown outcome)`);
    } finally {
      await reader.close();
    }
    const digests = await Promise.all(cluster.members.filter((m) => m.process !== null).map((m) => load.digestOf(m.clientUrl)));
    assert.equal(new Set(digests).size, 1, `members differ: ${digests.join(' ')}`);
    report();
  });
});

function report(): void {
  const byKind = new Map<string, number[]>();
  for (const f of figures) byKind.set(f.what, [...(byKind.get(f.what) ?? []), f.pauseMs]);
  const lines = [...byKind].map(([what, pauses]) => {
    const sorted = [...pauses].sort((a, b) => a - b);
    return `${what}: p50 ${sorted[Math.floor((sorted.length - 1) / 2)]} ms, max ${sorted[sorted.length - 1]} ms (n=${sorted.length})`;
  });
  const load = (process.getBuiltinModule?.('node:os') as typeof import('node:os') | undefined)?.loadavg() ?? [];
  console.log(`write pause per membership change (load average ${load.map((l) => l.toFixed(2)).join(' ')}):\n  ${lines.join('\n  ')}`);
  if (process.env['CONCORD_MEMBERSHIP_FIGURES'] !== undefined) console.log(JSON.stringify({ figures, loadavg: load }));
}
