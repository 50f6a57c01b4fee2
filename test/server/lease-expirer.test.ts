/**
 * The leader's expiry path (src/server/lease-expirer.ts), deterministic on a
 * manual clock: a leader proposes an expiry entry only after its ReadIndex
 * round confirmed it still leads, so a partitioned (stale) leader never
 * proposes one however long it waits; once it can confirm, one entry
 * expires what is due by its stamp; a backlog is bounded per entry; and the
 * expiry continues from the log's time after a leader change (EntryClock),
 * not from the full TTL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandKind, KvStateMachine, ResultKind, decodeCommand, encodeCommand, type ApplyResult } from '../../src/kv/index.js';
import { EntryClock } from '../../src/server/entry-clock.js';
import { LeaseExpirer, type ExpiryProposer } from '../../src/server/lease-expirer.js';
import { proposalHeadroomBytes } from '../../src/server/proposal-tracker.js';
import { ManualClock } from '../../src/testing/manual-clock.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** One member: its state machine, entry clock, and a proposer whose "log" is applying to that state machine. */
class Member {
  readonly clock = new ManualClock();
  readonly kv = new KvStateMachine();
  readonly entryClock = new EntryClock(this.clock);
  /** A partitioned leader still believes it leads, but its ReadIndex round never reaches a quorum. */
  partitioned = false;
  leader = true;
  readonly proposed: Uint8Array[] = [];
  readonly proposer: ExpiryProposer = {
    isLeader: () => this.leader,
    readBarrier: (deadlineMs) =>
      this.partitioned
        ? new Promise<void>((_, reject) => this.clock.setTimer(deadlineMs - this.clock.monotonicMs(), () => reject(new Error('read index timed out'))))
        : Promise.resolve(),
    propose: async (payload) => {
      this.proposed.push(payload);
      return this.applyPayload(payload.subarray(proposalHeadroomBytes));
    },
  };
  readonly expirer = new LeaseExpirer(this.proposer, this.kv, this.entryClock.stampingClock(), () => this.entryClock.viewMs(), {
    intervalMs: 100,
    requestTimeoutMs: 1000,
    perEntryMax: 50,
  });

  applyPayload(data: Uint8Array): ApplyResult {
    const result = this.kv.apply(this.kv.appliedIndex + 1, data);
    this.entryClock.observeApplied(this.kv.clockMs);
    return result;
  }

  /** A client command, stamped by this member as leader. */
  run(command: Parameters<typeof encodeCommand>[0]): ApplyResult {
    return this.applyPayload(encodeCommand(command, this.entryClock.nowMs()));
  }
}

function grant(m: Member, ttlMs: number): number {
  const r = m.run({ kind: CommandKind.LeaseGrant, id: 0, ttlMs });
  assert.equal(r.kind, ResultKind.LeaseGranted);
  return (r as { id: number }).id;
}

test('a partitioned leader never proposes an expiry; once it confirms its leadership, one entry expires what is due', async () => {
  const m = new Member();
  const id = grant(m, 2000);
  const grantedAtMs = m.kv.clockMs;
  m.run({ kind: CommandKind.Put, key: utf8('k'), value: utf8('v'), lease: id });
  m.expirer.start();
  await m.clock.advance(500);
  m.partitioned = true;
  await m.clock.advance(20_000);
  assert.equal(m.proposed.length, 0, 'no expiry proposed without a confirmed leadership');
  assert.ok(m.kv.lease(id), 'the lease is still in the state');
  assert.ok(m.kv.get(utf8('k')), 'its key is still stored');
  assert.equal(m.kv.get(utf8('k'), m.entryClock.viewMs()), null, 'a read by this member hides it (its TTL has passed)');

  m.partitioned = false;
  await m.clock.advance(200);
  assert.equal(m.proposed.length, 1);
  const { command, leaderTimeMs } = decodeCommand(m.proposed[0]!.slice(proposalHeadroomBytes));
  assert.equal(command.kind, CommandKind.LeaseExpire);
  assert.deepEqual((command as unknown as { leases: number[] }).leases, [id]);
  assert.ok(leaderTimeMs >= grantedAtMs + 2000, 'stamped after the recorded expiry');
  assert.equal(m.kv.lease(id), null);
  assert.equal(m.kv.get(utf8('k')), null);
  await m.clock.advance(1000);
  assert.equal(m.proposed.length, 1, 'nothing more is due: no more entries');
  m.expirer.stop();
});

test('a follower never proposes, and a backlog drains in bounded entries, soonest first', async () => {
  const m = new Member();
  for (let i = 0; i < 120; i++) m.run({ kind: CommandKind.Put, key: utf8(`t${String(i).padStart(3, '0')}`), value: utf8('v'), ttlMs: 1000 + i });
  m.leader = false;
  m.expirer.start();
  await m.clock.advance(5000);
  assert.equal(m.proposed.length, 0);
  m.leader = true;
  await m.clock.advance(1000);
  assert.equal(m.kv.keyCount, 0);
  assert.equal(m.proposed.length, 3, '120 keys at most 50 per entry');
  const first = decodeCommand(m.proposed[0]!.slice(proposalHeadroomBytes)).command as unknown as { keys: Uint8Array[] };
  assert.equal(first.keys.length, 50);
  assert.equal(new TextDecoder().decode(first.keys[0]), 't000');
  m.expirer.stop();
});

test('after a leader change the countdown continues from the log time: a 10 s lease granted 5 s before the change expires ~5 s later', async () => {
  const old = new Member();
  const id = grant(old, 10_000);
  // The new leader is a follower that applied the grant (at once) and then saw 5 s of ticks without entries.
  const next = new Member();
  next.leader = false;
  next.applyPayload(encodeCommand({ kind: CommandKind.LeaseGrant, id: 0, ttlMs: 10_000 }, old.kv.clockMs));
  next.expirer.start();
  await next.clock.advance(5000);
  // Elected now (the old leader died); the election took 1.5 s.
  await next.clock.advance(1500);
  next.leader = true;
  await next.clock.advance(3300);
  assert.ok(next.kv.lease(id), 'not expired before 10 s of real time since the grant');
  await next.clock.advance(400);
  assert.equal(next.kv.lease(id), null, 'expired ~10 s after the grant, not 10 s after the election');
  next.expirer.stop();
});
