/**
 * The clock rule end to end and deterministic (issue 12 §3): two members'
 * EntryClocks, with injected wall and monotonic clocks, stamp the entries one
 * replicated state machine applies. Leader A's wall clock steps +1 h, then
 * leadership moves to B whose wall clock is 1 h behind: no session expires
 * early, expiry keeps running at the tick rate, and the log's time never
 * freezes or goes back. (test/server/clock-step.test.ts does the same
 * through a real member with a stepping wall clock.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../src/common/clock.js';
import { CommandKind, KvStateMachine, ResultKind, encodeCommand, type Command } from '../../src/kv/index.js';
import { EntryClock } from '../../src/server/entry-clock.js';

const hourMs = 3_600_000;

/** A member's clocks: a wall clock the test can step, a monotonic clock that only moves forward. */
class MemberClock implements Clock {
  wallOffsetMs = 0;
  constructor(private readonly shared: { monoMs: number }) {}
  nowMs(): number {
    return 1_700_000_000_000 + this.shared.monoMs + this.wallOffsetMs;
  }
  monotonicMs(): number {
    return this.shared.monoMs;
  }
  setTimer(): never {
    throw new Error('unused');
  }
  setRepeating(): never {
    throw new Error('unused');
  }
  schedule(): never {
    throw new Error('unused');
  }
}

test('leader wall clock +1 h, then a leader 1 h behind: no session expires early, expiry resumes, entry time never goes back', () => {
  const time = { monoMs: 0 };
  const clockA = new MemberClock(time);
  const clockB = new MemberClock(time);
  const a = new EntryClock(clockA, 1000);
  const b = new EntryClock(clockB, 1000);
  const sm = new KvStateMachine({ sessionTtlMinMs: 1000 });
  const stamps: number[] = [];
  // Both members apply every entry (and observe its time), whoever stamped it.
  const propose = (leader: EntryClock, command: Command) => {
    const stamp = leader.nowMs();
    stamps.push(stamp);
    const result = sm.apply(sm.appliedIndex + 1, encodeCommand(command, stamp));
    a.observeApplied(sm.clockMs);
    b.observeApplied(sm.clockMs);
    return result;
  };
  const openSession = (leader: EntryClock, ttlMs: number) => {
    const result = propose(leader, { kind: CommandKind.OpenSession, ttlMs });
    assert.equal(result.kind, ResultKind.SessionOpened);
    return (result as { sessionId: number }).sessionId;
  };
  /** Lets `ms` of monotonic time pass with a noop every 250 ms from `leader`. */
  const run = (leader: EntryClock, ms: number) => {
    for (let t = 0; t < ms; t += 250) {
      time.monoMs += 250;
      propose(leader, { kind: CommandKind.Noop });
    }
  };

  const ttlMs = 8_000;
  const watched = openSession(a, ttlMs);
  run(a, 1_000);
  clockA.wallOffsetMs += hourMs; // A's wall clock steps forward
  run(a, 5_000);
  assert.ok(sm.hasSession(watched), '+1 h: 6 s into an 8 s TTL the session is alive (unbounded, it would have expired at once)');
  run(a, 1_000);
  assert.ok(sm.hasSession(watched), 'still alive at 7 s: nothing expires early, even by the margin');
  run(a, 3_000);
  assert.ok(!sm.hasSession(watched), 'expired within TTL + margin: expiry runs at the tick rate through the step');

  // Leadership moves to B, whose wall clock is 1 h behind A's (and the log's).
  clockB.wallOffsetMs = -hourMs;
  const underB = openSession(b, ttlMs);
  run(b, 6_000);
  assert.ok(sm.hasSession(underB), 'B continues from the log: no early expiry');
  run(b, 4_000);
  assert.ok(!sm.hasSession(underB), '-1 h: expiry is not frozen, the session expires about a TTL later');

  for (let i = 1; i < stamps.length; i++) assert.ok(stamps[i]! >= stamps[i - 1]!, `entry ${i} went back in time`);
  // Entry time advanced with the ticks (20 s in all), give or take the margin, never by an hour.
  const advanced = stamps[stamps.length - 1]! - stamps[0]!;
  assert.ok(advanced >= 20_000 - 1000 && advanced <= 20_000 + 1000, `entry time advanced ${advanced} ms over 20 s of ticks`);
});

test("a new cluster's entry clock starts at the wall clock, though its first entries (the leaders' empty ones) carry no time", () => {
  const time = { monoMs: 5_000 };
  const clock = new MemberClock(time);
  const entryClock = new EntryClock(clock);
  // What a server does at start and after applying the empty entry of its first term: the state machine's clock is 0.
  entryClock.observeApplied(0);
  time.monoMs += 200;
  entryClock.observeApplied(0);
  assert.equal(entryClock.nowMs(), clock.nowMs(), 'stamped with the wall clock, not 0 + the ticks since start');
  assert.ok(entryClock.viewMs() >= clock.nowMs() - 1);
});
