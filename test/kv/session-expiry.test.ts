/**
 * Session expiry against a model. Each write moves a session's deadline in
 * O(1) and the expiry index is only corrected lazily (sessions.ts), so these
 * tests check that what is observable is exactly the simple rule: after each
 * entry, a session is live iff clock <= its last activity's clock + its TTL,
 * on a member that applied everything and on one restored from a snapshot
 * taken part-way (whose index holds exact deadlines) alike, with
 * byte-identical snapshots at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CommandKind, KvStateMachine, ResultKind, encodeCommand, type Command } from '../../src/kv/index.js';
import { SessionTable } from '../../src/kv/sessions.js';

const options = { sessionTtlMs: 3_000, sessionTtlMinMs: 1_000, sessionTtlMaxMs: 10_000 };

type Step =
  | { op: 'open'; ttlMs: number }
  | { op: 'write' | 'keepAlive' | 'close'; which: number }
  | { op: 'time'; deltaMs: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(0, 500, 1_000, 2_500, 7_000, 20_000).map((ttlMs) => ({ op: 'open' as const, ttlMs })) },
  { weight: 6, arbitrary: fc.nat(40).map((which) => ({ op: 'write' as const, which })) },
  { weight: 2, arbitrary: fc.nat(40).map((which) => ({ op: 'keepAlive' as const, which })) },
  { weight: 1, arbitrary: fc.nat(40).map((which) => ({ op: 'close' as const, which })) },
  // Mostly forward, sometimes far, sometimes back (a new leader whose clock is behind).
  { weight: 5, arbitrary: fc.integer({ min: -2_000, max: 4_000 }).map((deltaMs) => ({ op: 'time' as const, deltaMs })) },
);

interface ModelSession {
  ttlMs: number;
  deadlineMs: number;
  seq: number;
}

test('property: sessions are live exactly while the clock has not passed last activity + TTL, before and after a restore', () => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 150 }), fc.nat(), (steps, cut) => {
      const live = new KvStateMachine(options);
      let restored: KvStateMachine | null = null;
      const restoreAt = cut % steps.length;
      const model = new Map<number, ModelSession>();
      const opened: number[] = [];
      let nowMs = 1_000_000;
      let clockMs = 0;
      for (let i = 0; i < steps.length; i++) {
        const s = steps[i]!;
        if (s.op === 'time') {
          nowMs = Math.max(0, nowMs + s.deltaMs);
          continue;
        }
        const id = opened.length === 0 ? 1 : opened[s.op === 'open' ? 0 : s.which % opened.length]!;
        let command: Command;
        if (s.op === 'open') command = { kind: CommandKind.OpenSession, ttlMs: s.ttlMs };
        else if (s.op === 'write') {
          const seq = (model.get(id)?.seq ?? 0) + 1;
          command = { kind: CommandKind.Put, key: Uint8Array.of(1, id & 0xff), value: Uint8Array.of(seq & 0xff), session: { sessionId: id, seq, ackedSeq: seq - 1 } };
        } else if (s.op === 'keepAlive') command = { kind: CommandKind.KeepAlive, sessionId: id };
        else command = { kind: CommandKind.CloseSession, sessionId: id };

        // The model: the clock only moves forward, and expiry happens before the entry executes.
        const index = live.appliedIndex + 1;
        if (nowMs > clockMs) {
          clockMs = nowMs;
          for (const [sid, m] of model) if (m.deadlineMs < clockMs) model.delete(sid);
        }
        const m = model.get(id);
        if (s.op === 'open') {
          const ttlMs = s.ttlMs === 0 ? options.sessionTtlMs : Math.min(Math.max(s.ttlMs, options.sessionTtlMinMs), options.sessionTtlMaxMs);
          model.set(index, { ttlMs, deadlineMs: clockMs + ttlMs, seq: 0 });
          opened.push(index);
        } else if (m !== undefined && s.op === 'close') model.delete(id);
        else if (m !== undefined) {
          m.deadlineMs = clockMs + m.ttlMs;
          if (s.op === 'write') m.seq++;
        }

        const data = encodeCommand(command, nowMs);
        const result = live.apply(index, data);
        if (restored !== null) restored.apply(index, data);
        if (s.op === 'write') assert.equal(result.kind, m === undefined ? ResultKind.Error : ResultKind.Write);
        if (i >= restoreAt && restored === null) {
          restored = new KvStateMachine(options);
          restored.restore(live.snapshot());
        }
        for (const sm of restored === null ? [live] : [live, restored]) {
          assert.equal(sm.sessionCount, model.size);
          for (const sid of opened) assert.equal(sm.hasSession(sid), model.has(sid), `session ${sid} after entry ${index}`);
        }
      }
      if (restored !== null) assert.deepEqual(restored.snapshot().toBytes(), live.snapshot().toBytes());
    }),
    { numRuns: 300 },
  );
});

test('a session renewed many times expires once, at its last deadline, and costs no index work per write', () => {
  const sm = new KvStateMachine(options);
  let index = 0;
  const apply = (command: Command, nowMs: number) => sm.apply(++index, encodeCommand(command, nowMs));
  const opened = apply({ kind: CommandKind.OpenSession, ttlMs: 1_000 }, 0);
  assert.equal(opened.kind, ResultKind.SessionOpened);
  const id = (opened as { sessionId: number }).sessionId;
  for (let t = 1; t <= 5_000; t++) {
    const r = apply({ kind: CommandKind.Put, key: Uint8Array.of(1), value: Uint8Array.of(), session: { sessionId: id, seq: t, ackedSeq: t - 1 } }, t);
    assert.equal(r.kind, ResultKind.Write);
  }
  apply({ kind: CommandKind.Noop }, 6_000);
  assert.ok(sm.hasSession(id), 'deadline 5,000 + 1,000 has not passed');
  apply({ kind: CommandKind.Noop }, 6_001);
  assert.ok(!sm.hasSession(id));
});

test('a deadline read from a snapshot beyond clock + TTL still follows the rule: a touch sets it to now + TTL', () => {
  // Not produced by this state machine, but a snapshot may hold it; the expiry index must stay a lower bound.
  const table = new SessionTable();
  const session = table.add(7, 1_000, 100_000);
  table.touch(session, 0);
  assert.equal(session.deadlineMs, 1_000);
  assert.equal(table.expire(1_000), 0, 'exactly at the deadline it lives');
  assert.equal(table.expire(1_001), 1);
  assert.equal(table.get(7), undefined);
});
