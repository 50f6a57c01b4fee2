import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CommandKind,
  InvalidCommandError,
  KvStateMachine,
  ResultKind,
  SessionExpiredError,
  SessionResultsFullError,
  SessionsFullError,
  StaleSequenceError,
  VersionMismatchError,
  okResult,
  type ApplyResult,
  type KvError,
} from '../../src/kv/index.js';
import { Driver, b, text } from './helpers.js';
import { applyCommand } from '../../src/testing/kv-apply.js';

function errorOf(result: ApplyResult): KvError {
  assert.equal(result.kind, ResultKind.Error, `expected an error result, got ${JSON.stringify(result)}`);
  return (result as { error: KvError }).error;
}

const ref = (sessionId: number, seq: number, ackedSeq = 0) => ({ session: { sessionId, seq, ackedSeq } });

test('a session id is the index of the entry that opened it; the TTL is the default or clamped', () => {
  const d = new Driver({ sessionTtlMs: 10_000, sessionTtlMinMs: 2_000, sessionTtlMaxMs: 60_000 });
  d.put('x', 'y');
  assert.deepEqual(d.run({ kind: CommandKind.OpenSession, ttlMs: 0 }), { kind: ResultKind.SessionOpened, sessionId: 2, ttlMs: 10_000 });
  assert.deepEqual(d.run({ kind: CommandKind.OpenSession, ttlMs: 1 }), { kind: ResultKind.SessionOpened, sessionId: 3, ttlMs: 2_000 });
  assert.deepEqual(d.run({ kind: CommandKind.OpenSession, ttlMs: 1e9 }), { kind: ResultKind.SessionOpened, sessionId: 4, ttlMs: 60_000 });
  assert.deepEqual(d.run({ kind: CommandKind.OpenSession, ttlMs: 30_000 }), { kind: ResultKind.SessionOpened, sessionId: 5, ttlMs: 30_000 });
  assert.equal(d.sm.sessionCount, 4);
  assert.ok(d.sm.hasSession(2));
  assert.ok(!d.sm.hasSession(1));
});

test('a retried write returns its original result and is not applied twice', () => {
  const d = new Driver();
  const s = d.openSession(); // index 1
  const first = d.put('k', 'v1', ref(s, 1)); // index 2, revision 1
  assert.deepEqual(first, { kind: ResultKind.Write, version: 1, createRevision: 1, modRevision: 1 });
  d.put('other', 'x'); // index 3, revision 2: the retry arrives later
  const retry = d.put('k', 'v1', ref(s, 1)); // index 4
  assert.deepEqual(retry, first, 'the saved result (rebuilt from its compact form)');
  const entry = d.sm.get(b('k'))!;
  assert.equal(entry.version, 1, 'version unchanged by the retry');
  assert.equal(entry.modRevision, 1);
  assert.equal(d.sm.appliedIndex, 4, 'the retry still consumed its log index');
  assert.equal(d.sm.revision, 2, 'but took no revision');
  const next = d.put('k', 'v2', ref(s, 2, 1));
  assert.equal((next as { version: number }).version, 2);
});

test('a retried delete does not delete a key re-created in between', () => {
  const d = new Driver();
  const s = d.openSession();
  d.put('k', 'v');
  const first = d.del('k', ref(s, 1));
  assert.equal((first as { deleted: boolean }).deleted, true);
  d.put('k', 'recreated');
  assert.deepEqual(d.del('k', ref(s, 1)), first);
  assert.equal(text(d.sm.get(b('k'))!.value), 'recreated');
});

test('a failed write\'s error is saved and replayed too, even when a re-execution would now succeed', () => {
  const d = new Driver();
  const s = d.openSession();
  d.put('k', 'a'); // version 1
  const failed = d.put('k', 'b', { expectedVersion: 2, ...ref(s, 1) });
  assert.ok(errorOf(failed) instanceof VersionMismatchError);
  d.put('k', 'c'); // now version 2: the condition would hold
  assert.deepEqual(d.put('k', 'b', { expectedVersion: 2, ...ref(s, 1) }), failed);
  assert.equal(text(d.sm.get(b('k'))!.value), 'c');
});

test('acknowledged results are discarded: retrying one is StaleSequenceError', () => {
  const d = new Driver();
  const s = d.openSession();
  d.put('k', '1', ref(s, 1));
  d.put('k', '2', ref(s, 2, 1)); // acknowledges seq 1
  const stale = errorOf(d.put('k', '1', ref(s, 1)));
  assert.ok(stale instanceof StaleSequenceError);
  assert.deepEqual(stale.details, { sessionId: s, seq: 1, ackedSeq: 1 });
  assert.equal(stale.code, 'CONCORD_ERR_STALE_SEQUENCE');
  assert.equal(d.sm.get(b('k'))!.version, 2, 'the stale write was not applied');
  assert.equal(d.put('k', '2', ref(s, 2, 1)).kind, ResultKind.Write, 'seq 2 is still retryable');
  assert.equal(d.sm.get(b('k'))!.version, 2);
});

test('writes may arrive out of order within a session; each is applied once', () => {
  const d = new Driver();
  const s = d.openSession();
  const r3 = d.put('c', '3', ref(s, 3));
  const r2 = d.put('b', '2', ref(s, 2));
  const r1 = d.put('a', '1', ref(s, 1));
  assert.deepEqual(d.put('c', '3', ref(s, 3)), r3);
  assert.deepEqual(d.put('b', '2', ref(s, 2)), r2);
  assert.deepEqual(d.put('a', '1', ref(s, 1)), r1);
  d.put('d', '4', ref(s, 4, 3));
  for (const seq of [1, 2, 3]) assert.ok(errorOf(d.put('x', 'x', ref(s, seq))) instanceof StaleSequenceError);
  assert.equal(d.sm.get(b('x')), null);
});

test('an unknown session is SessionExpiredError and nothing is applied', () => {
  const d = new Driver();
  const err = errorOf(d.put('k', 'v', ref(42, 1)));
  assert.ok(err instanceof SessionExpiredError);
  assert.deepEqual(err.details, { sessionId: 42 });
  assert.equal(d.sm.get(b('k')), null);
  assert.ok(errorOf(d.run({ kind: CommandKind.KeepAlive, sessionId: 42 })) instanceof SessionExpiredError);
});

test('sessions expire when an entry\'s leader time passes their deadline, on every member alike', () => {
  const d = new Driver({ sessionTtlMinMs: 1_000 });
  const t0 = d.nowMs;
  const s = d.openSession(5_000);
  d.put('k', 'v1', ref(s, 1));
  d.nowMs = t0 + 5_000;
  d.run({ kind: CommandKind.Noop });
  assert.ok(d.sm.hasSession(s), 'exactly at the deadline the session lives');
  d.nowMs = t0 + 5_001;
  d.run({ kind: CommandKind.Noop });
  assert.ok(!d.sm.hasSession(s), 'an unrelated entry past the deadline expires it');
  assert.equal(d.sm.sessionCount, 0);
  const late = errorOf(d.put('k', 'v1', ref(s, 1)));
  assert.ok(late instanceof SessionExpiredError, 'a retry after expiry cannot learn the outcome, and is not re-applied');
  assert.equal(d.sm.get(b('k'))!.version, 1);
});

test('a session\'s own late write finds it expired (expiry happens before the entry executes)', () => {
  const d = new Driver({ sessionTtlMinMs: 1_000 });
  const s = d.openSession(2_000);
  d.nowMs += 2_001;
  assert.ok(errorOf(d.put('k', 'v', ref(s, 1))) instanceof SessionExpiredError);
  assert.equal(d.sm.get(b('k')), null);
});

test('writes and keep-alives renew a session; reads do not exist in the log and cannot', () => {
  const d = new Driver({ sessionTtlMinMs: 1_000 });
  const s = d.openSession(2_000);
  d.nowMs += 1_500;
  assert.equal(d.run({ kind: CommandKind.KeepAlive, sessionId: s }), okResult);
  d.nowMs += 1_500;
  d.put('k', 'v', ref(s, 1));
  d.nowMs += 1_999;
  d.run({ kind: CommandKind.Noop });
  assert.ok(d.sm.hasSession(s));
  d.nowMs += 2;
  d.run({ kind: CommandKind.Noop });
  assert.ok(!d.sm.hasSession(s));
});

test('the clock is the largest leader time seen: an entry stamped earlier does not move it back', () => {
  const d = new Driver({ sessionTtlMinMs: 1_000 });
  const s = d.openSession(1_000);
  const t0 = d.nowMs;
  d.nowMs = t0 + 900;
  d.run({ kind: CommandKind.Noop });
  d.nowMs = t0 - 50_000; // a new leader with a clock behind
  d.put('k', 'v', ref(s, 1)); // renews to clock (t0 + 900) + 1000, not to the old leader's time
  assert.equal(d.sm.clockMs, t0 + 900);
  d.nowMs = t0 + 1_900;
  d.run({ kind: CommandKind.Noop });
  assert.ok(d.sm.hasSession(s));
  d.nowMs = t0 + 1_901;
  d.run({ kind: CommandKind.Noop });
  assert.ok(!d.sm.hasSession(s));
});

test('closeSession removes a session; closing again reports closed: false', () => {
  const d = new Driver();
  const s = d.openSession();
  assert.deepEqual(d.run({ kind: CommandKind.CloseSession, sessionId: s }), { kind: ResultKind.SessionClosed, closed: true });
  assert.deepEqual(d.run({ kind: CommandKind.CloseSession, sessionId: s }), { kind: ResultKind.SessionClosed, closed: false });
  assert.ok(errorOf(d.put('k', 'v', ref(s, 1))) instanceof SessionExpiredError);
});

test('sessionsMax bounds live sessions: one more is SessionsFullError until one expires', () => {
  const d = new Driver({ sessionsMax: 2, sessionTtlMinMs: 1_000 });
  d.openSession(1_000);
  d.openSession(5_000);
  const full = errorOf(d.run({ kind: CommandKind.OpenSession, ttlMs: 0 }));
  assert.ok(full instanceof SessionsFullError);
  assert.deepEqual(full.details, { sessionsMax: 2 });
  d.nowMs += 1_001;
  assert.equal(d.run({ kind: CommandKind.OpenSession, ttlMs: 0 }).kind, ResultKind.SessionOpened);
});

test('sessionResultsMax bounds unacknowledged results: a write beyond is refused, not applied, until the client acknowledges', () => {
  const d = new Driver({ sessionResultsMax: 3 });
  const s = d.openSession();
  for (let seq = 1; seq <= 3; seq++) d.put(`k${seq}`, 'v', ref(s, seq));
  const full = errorOf(d.put('k4', 'v', ref(s, 4)));
  assert.ok(full instanceof SessionResultsFullError);
  assert.deepEqual(full.details, { sessionId: s, sessionResultsMax: 3 });
  assert.equal(d.sm.get(b('k4')), null);
  assert.equal(d.put('k4', 'v', ref(s, 4, 2)).kind, ResultKind.Write, 'acknowledging frees room; the same seq now applies');
  assert.equal(d.sm.get(b('k4'))!.version, 1);
  assert.equal((d.put('k4', 'v', ref(s, 4, 2)) as { version: number }).version, 1, 'and is saved like any other');
});

test('a malformed session reference is InvalidCommandError and touches no session state', () => {
  const sm = new KvStateMachine();
  applyCommand(sm, 1, { kind: CommandKind.OpenSession, ttlMs: 0 }, 0);
  const bad = applyCommand(sm, 2, { kind: CommandKind.Put, key: b('k'), value: b('v'), session: { sessionId: 1, seq: 1, ackedSeq: 1 } }, 0);
  assert.ok(errorOf(bad) instanceof InvalidCommandError);
  assert.equal(sm.get(b('k')), null);
  const good = applyCommand(sm, 3, { kind: CommandKind.Put, key: b('k'), value: b('v'), session: { sessionId: 1, seq: 1, ackedSeq: 0 } }, 0);
  assert.equal(good.kind, ResultKind.Write);
});

test('an oversize write in a session is a saved error result for that seq', () => {
  const d = new Driver({ valueBytesMax: 4 });
  const s = d.openSession();
  const first = d.put('k', 'too long', ref(s, 1));
  assert.equal(errorOf(first).code, 'CONCORD_ERR_VALUE_TOO_LARGE');
  assert.deepEqual(d.put('k', 'ok', ref(s, 1)), first, 'seq 1 is spent: a retry with different content gets the saved result');
});

test('without a session there is no exactly-once guarantee: a retry applies again', () => {
  const d = new Driver();
  d.put('k', 'v');
  d.put('k', 'v');
  assert.equal(d.sm.get(b('k'))!.version, 2);
});

test('property: under any mix of new writes, retries and acknowledgements, each seq applies exactly once', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ op: fc.constantFrom('new', 'retry', 'ack'), pick: fc.nat() }), { maxLength: 200 }),
      (steps) => {
        const d = new Driver({ sessionResultsMax: 64 });
        const s = d.openSession();
        let nextSeq = 1;
        let acked = 0;
        const outstanding: number[] = []; // seqs sent, answer not yet acknowledged
        const firstAnswer = new Map<number, ApplyResult>();
        for (const step of steps) {
          if (step.op === 'ack' && outstanding.length > 0) {
            // The client acknowledges a contiguous run of answered seqs.
            outstanding.sort((x, y) => x - y);
            const upTo = outstanding[step.pick % outstanding.length]!;
            acked = Math.max(acked, upTo);
            outstanding.splice(0, outstanding.filter((q) => q <= acked).length);
            continue;
          }
          const seq = step.op === 'retry' && outstanding.length > 0 ? outstanding[step.pick % outstanding.length]! : nextSeq++;
          const result = d.put('counter', `seq ${seq}`, ref(s, seq, Math.min(acked, seq - 1)));
          if (seq === nextSeq - 1 && !firstAnswer.has(seq)) {
            outstanding.push(seq);
            firstAnswer.set(seq, result);
          } else {
            assert.deepEqual(result, firstAnswer.get(seq), `retry of seq ${seq} returns the first answer`);
          }
        }
        const applied = [...firstAnswer.values()].filter((r) => r.kind === ResultKind.Write).length;
        assert.equal(d.sm.get(b('counter'))?.version ?? 0, applied);
      },
    ),
    { numRuns: 200 },
  );
});
