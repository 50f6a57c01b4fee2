import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CommandKind, CompactedError, FutureRevisionError, KvStateMachine, ResultKind, TxnOpType, type HistoryEvent } from '../../src/kv/index.js';
import { Driver, b, text } from './helpers.js';

/** The model's view of one event: what a watcher relies on. */
interface ModelEvent {
  type: 'put' | 'delete';
  key: string;
  value: string;
  version: number;
  createRevision: number;
  modRevision: number;
  prevModRevision: number | null;
}
interface ModelEntry {
  value: string;
  version: number;
  createRevision: number;
  modRevision: number;
}

const shape = (e: HistoryEvent): ModelEvent => ({
  type: e.type,
  key: text(e.kv.key),
  value: text(e.kv.value),
  version: e.kv.version,
  createRevision: e.kv.createRevision,
  modRevision: e.kv.modRevision,
  prevModRevision: e.prevKv === null ? null : e.prevKv.modRevision,
});

type Op =
  | { op: 'put'; key: string; value: string }
  | { op: 'delete'; key: string }
  | { op: 'txn'; puts: string[]; deletes: string[]; value: string }
  | { op: 'compact'; back: number };

const keyArb = fc.constantFrom('a', 'b', 'c', 'd', 'e');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('put' as const), key: keyArb, value: fc.string({ maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: keyArb }) },
  {
    weight: 2,
    arbitrary: fc
      .record({ keys: fc.uniqueArray(keyArb, { minLength: 1, maxLength: 4 }), split: fc.nat(4), value: fc.string({ maxLength: 3 }) })
      .map(({ keys, split, value }) => ({ op: 'txn' as const, puts: keys.slice(0, split), deletes: keys.slice(split), value })),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('compact' as const), back: fc.nat(6) }) },
);

/** Applies `ops` to a model of the key space and its history; returns the events per revision and the compaction point. */
function model(ops: readonly Op[]): { log: Map<number, ModelEvent[]>; compacted: number; revision: number } {
  const keys = new Map<string, ModelEntry>();
  const log = new Map<number, ModelEvent[]>();
  let rev = 0;
  let compacted = 0;
  const put = (key: string, value: string, events: ModelEvent[]): void => {
    const prev = keys.get(key);
    const next = { value, version: (prev?.version ?? 0) + 1, createRevision: prev?.createRevision ?? rev + 1, modRevision: rev + 1 };
    keys.set(key, next);
    events.push({ type: 'put', key, ...next, prevModRevision: prev?.modRevision ?? null });
  };
  const del = (key: string, events: ModelEvent[]): void => {
    const prev = keys.get(key);
    if (prev === undefined) return;
    keys.delete(key);
    events.push({ type: 'delete', key, value: '', version: 0, createRevision: 0, modRevision: rev + 1, prevModRevision: prev.modRevision });
  };
  for (const o of ops) {
    const events: ModelEvent[] = [];
    if (o.op === 'put') put(o.key, o.value, events);
    else if (o.op === 'delete') del(o.key, events);
    else if (o.op === 'txn') {
      for (const k of o.puts) put(k, o.value, events);
      for (const k of o.deletes) del(k, events);
    } else {
      const target = Math.max(1, rev - o.back);
      if (target <= rev && target > compacted) compacted = target;
    }
    if (events.length > 0) log.set(++rev, events);
  }
  return { log, compacted, revision: rev };
}

function run(d: Driver, ops: readonly Op[]): void {
  for (const o of ops) {
    if (o.op === 'put') d.put(o.key, o.value);
    else if (o.op === 'delete') d.del(o.key);
    else if (o.op === 'txn') {
      d.run({
        kind: CommandKind.Txn,
        compare: [],
        success: [
          ...o.puts.map((k) => ({ type: TxnOpType.Put, key: b(k), value: b(o.value) })),
          ...o.deletes.map((k) => ({ type: TxnOpType.Delete, key: b(k) })),
        ],
        failure: [],
      });
    } else {
      const result = d.run({ kind: CommandKind.Compact, revision: Math.max(1, d.sm.revision - o.back) });
      if (result.kind === ResultKind.Error) assert.ok(result.error instanceof CompactedError || result.error instanceof FutureRevisionError);
    }
  }
}

test('history: every revision above the compaction point holds exactly its net events, in order (property, against a model)', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), fc.integer({ min: 3, max: 100 }), (ops, historyRevisionsMax) => {
      const d = new Driver({ historyRevisionsMax });
      run(d, ops);
      const m = model(ops);
      assert.equal(d.sm.revision, m.revision);
      assert.equal(d.sm.compactRevision, m.compacted, 'the replicated compaction point');
      const floor = d.sm.history.compactRevision;
      // The floor is the compaction point, or higher when the revision bound pushed the oldest out.
      assert.equal(floor, Math.max(m.compacted, m.revision - historyRevisionsMax, 0));
      const held = d.sm.history.range(0);
      const expected = [...m.log].filter(([rev]) => rev > floor);
      assert.deepEqual(
        held.map((r) => [r.revision, r.events.map(shape)]),
        expected,
      );
    }),
    { numRuns: 300 },
  );
});

test('history: a transaction undone by its own budget leaves no events; a failed write takes no revision', () => {
  const d = new Driver();
  d.put('k', 'v');
  assert.equal(d.run({ kind: CommandKind.Update, key: b('missing'), value: b('x') }).kind, ResultKind.Error);
  d.del('missing');
  assert.deepEqual(
    d.sm.history.range(0).map((r) => r.revision),
    [1],
  );
});

test('compact: future revision refused, compacted again refused with the point, bytes freed', () => {
  const d = new Driver();
  for (let i = 0; i < 10; i++) d.put(`k${i}`, 'x'.repeat(100));
  const before = d.sm.history.bytes;
  const future = d.run({ kind: CommandKind.Compact, revision: 11 });
  assert.ok(future.kind === ResultKind.Error && future.error instanceof FutureRevisionError);
  assert.equal(d.run({ kind: CommandKind.Compact, revision: 5 }).kind, ResultKind.Ok);
  assert.ok(d.sm.history.bytes < before);
  assert.equal(d.sm.history.size, 5);
  const again = d.run({ kind: CommandKind.Compact, revision: 3 });
  assert.ok(again.kind === ResultKind.Error && again.error instanceof CompactedError);
  assert.equal(again.error.details.compactRevision, 5);
});

test('history bytes bound: the oldest revisions go first and the floor moves up', () => {
  const d = new Driver({ historyBytesMax: 1000 });
  for (let i = 0; i < 30; i++) d.put('k', 'x'.repeat(100));
  assert.ok(d.sm.history.bytes <= 1000);
  assert.equal(d.sm.history.lastRevision, 30);
  assert.ok(d.sm.history.compactRevision >= 20);
});

test('snapshot: the compaction revision travels (format 4), the history restarts at the snapshot revision; format 3 until compacted', () => {
  const d = new Driver();
  for (let i = 0; i < 6; i++) d.put('k', `${i}`);
  assert.equal(d.sm.snapshot().formatVersion, 3);
  d.run({ kind: CommandKind.Compact, revision: 2 });
  const snapshot = d.sm.snapshot();
  assert.equal(snapshot.formatVersion, 4);
  const restored = new KvStateMachine();
  restored.restore([snapshot.toBytes()]);
  assert.equal(restored.compactRevision, 2);
  assert.equal(restored.history.compactRevision, 6, 'no history below the snapshot');
  // Revisions 3..6 are gone only here (other members may hold them): the cluster's point stays 2.
  assert.equal(restored.history.clusterCompactRevision, 2);
  assert.equal(d.sm.history.clusterCompactRevision, 2);
  assert.equal(restored.history.size, 0);
  assert.equal(restored.snapshot().toBytes().length, snapshot.toBytes().length);
  // Applying on goes on recording from the next revision.
  restored.apply(restored.appliedIndex + 1, d.log[1]!);
  assert.deepEqual(
    restored.history.range(0).map((r) => r.revision),
    [7],
  );
});
