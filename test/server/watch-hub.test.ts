/**
 * The member's watch hub over a real state machine (no sockets): fairness
 * across watchers of one connection, the slow-consumer bound, compaction,
 * progress notifications, filters, a transaction's events in one batch, and
 * a restore that drops history under caught-up watchers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandKind, TxnOpType } from '../../src/kv/index.js';
import { ConcordErrorCode } from '../../src/common/errors.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { WatchHub, watchHubDefaults, type WatchSpec } from '../../src/server/watch-hub.js';
import type { WireWatchBatch } from '../../src/protocol/index.js';
import { Driver, b, text } from '../kv/helpers.js';

/** The one part of a connection the hub uses: its close notification. */
class FakeConnection {
  private listeners: (() => void)[] = [];
  onClose(listener: () => void): void {
    this.listeners.push(listener);
  }
  close(): void {
    for (const l of this.listeners) l();
  }
}

function setup(options: Partial<typeof watchHubDefaults> = {}) {
  const d = new Driver();
  const clock = new ManualClock();
  const hub = new WatchHub(d.sm.history, () => d.sm.revision, clock, { ...watchHubDefaults, ...options });
  const conn = new FakeConnection() as never;
  const spec = (watchId: number, range: WatchSpec['range'], extra: Partial<WatchSpec> = {}): WatchSpec => ({
    watchId,
    range,
    startRevision: d.sm.revision + 1,
    prevKv: false,
    noPut: false,
    noDelete: false,
    progressNotify: false,
    ...extra,
  });
  // A poll that waits no time: the manual clock fires its zero-delay timer.
  const poll = async (paused: number[] = [], progress = false): Promise<WireWatchBatch[]> => {
    const answer = hub.poll(conn, 0, progress, new Set(paused), new AbortController().signal);
    await clock.advance(0);
    return answer;
  };
  return { d, clock, hub, conn, spec, poll };
}

const keysOf = (batch: WireWatchBatch | undefined): string[] => (batch?.events ?? []).map((e) => text(e.kv.key));

test('watchers of one connection are served round-robin within the answer bound; a revision is never split', async () => {
  const { d, hub, conn, spec, poll } = setup({ pollEventsMax: 3 });
  hub.create(conn, spec(1, { prefix: b('a/') }));
  hub.create(conn, spec(2, { prefix: b('b/') }));
  for (let i = 0; i < 4; i++) d.put(`a/${i}`, 'x');
  // One transaction of 4 keys: one revision, delivered whole even over the bound.
  d.run({ kind: CommandKind.Txn, compare: [], success: [0, 1, 2, 3].map((i) => ({ type: TxnOpType.Put, key: b(`b/${i}`), value: b('y') })), failure: [] });
  const first = await poll();
  assert.deepEqual(first.map((x) => x.watchId), [1], 'watcher 1 fills the first answer');
  assert.deepEqual(keysOf(first[0]), ['a/0', 'a/1', 'a/2']);
  const second = await poll();
  // Watcher 2 goes first now (round-robin), and its transaction comes whole.
  assert.deepEqual(second.map((x) => x.watchId), [2]);
  assert.deepEqual(keysOf(second[0]), ['b/0', 'b/1', 'b/2', 'b/3']);
  assert.ok(second[0]!.events.every((e) => e.kv.modRevision === 5));
  const third = await poll();
  assert.deepEqual(keysOf(third[0]), ['a/3']);
});

test('a paused (slow) watcher is cancelled past its bound; the others on the connection are unaffected', async () => {
  const { d, hub, conn, spec, poll } = setup({ lagRevisionsMax: 5 });
  hub.create(conn, spec(1, { prefix: b('k/') }));
  hub.create(conn, spec(2, { prefix: b('k/') }));
  d.put('k/0', 'x');
  const both = await poll();
  assert.equal(both.length, 1, 'the same batch for both watchers (same range, cursor and options) goes out once');
  assert.deepEqual([both[0]!.watchId, ...(both[0]!.watchIds ?? [])], [1, 2]);
  for (let i = 1; i <= 5; i++) d.put(`k/${i}`, 'x');
  const withinBound = await poll([1]);
  assert.deepEqual(withinBound.map((x) => x.watchId), [2], 'paused watcher 1 is held back, not cancelled yet');
  d.put('k/6', 'x');
  const over = await poll([1]);
  const canceled = over.find((x) => x.watchId === 1)!;
  assert.equal(canceled.canceled?.code, ConcordErrorCode.WatchCanceled);
  assert.equal(canceled.canceled?.details['reason'], 'slow-consumer');
  assert.deepEqual(keysOf(over.find((x) => x.watchId === 2)), ['k/6']);
  assert.equal(hub.size, 1);
});

test('a start at or below the compaction point is refused; a watcher left behind a compaction gets CompactedError', async () => {
  const { d, hub, conn, spec, poll } = setup();
  for (let i = 0; i < 5; i++) d.put('k', `${i}`);
  d.run({ kind: CommandKind.Compact, revision: 3 });
  assert.throws(() => hub.create(conn, spec(1, { key: b('k') }, { startRevision: 3 })), (e: Error & { code?: string }) => e.code === ConcordErrorCode.Compacted);
  hub.create(conn, spec(2, { key: b('k') }, { startRevision: 4 }));
  d.run({ kind: CommandKind.Compact, revision: 5 });
  const [batch] = await poll();
  assert.equal(batch!.canceled?.code, ConcordErrorCode.Compacted);
  assert.equal(batch!.canceled?.details['compactRevision'], 5);
});

test('filters and prevKv; progress on request and periodically for caught-up watchers', async () => {
  const { d, clock, hub, conn, spec, poll } = setup({ progressIntervalMs: 1000 });
  hub.start();
  hub.create(conn, spec(1, { key: b('k') }, { noPut: true, prevKv: true }));
  hub.create(conn, spec(2, { key: b('other') }, { progressNotify: true }));
  d.put('k', 'v1');
  d.del('k');
  const [deletes] = await poll();
  assert.equal(deletes!.events.length, 1);
  assert.equal(deletes!.events[0]!.type, 'delete');
  assert.equal(text(deletes!.events[0]!.prevKv!.value), 'v1');
  const asked = await poll([], true);
  assert.deepEqual(
    asked.map((x) => [x.watchId, x.progressRevision]),
    [
      [1, 2],
      [2, 2],
    ],
  );
  const waiting = hub.poll(conn, 60_000, false, new Set(), new AbortController().signal);
  await clock.advance(2500);
  assert.deepEqual(
    (await waiting).map((x) => [x.watchId, x.progressRevision]),
    [[2, 2]],
    'only the watcher that asked for progressNotify',
  );
  hub.stop();
});

test('a held poll answers when a matching revision is applied; closing the connection drops its watchers', async () => {
  const { d, clock, hub, conn, spec } = setup();
  hub.create(conn, spec(1, { start: b('m'), end: b('n') }));
  const held = hub.poll(conn, 60_000, false, new Set(), new AbortController().signal);
  d.put('z', 'not in range');
  d.put('m1', 'in range');
  await clock.advance(0);
  const batches = await held;
  assert.deepEqual(keysOf(batches[0]), ['m1']);
  (conn as unknown as FakeConnection).close();
  assert.equal(hub.size, 0);
});

test('a restore under caught-up watchers cancels them with CompactedError (the history restarts at the snapshot)', async () => {
  const { d, hub, conn, spec, poll } = setup();
  hub.create(conn, spec(1, { key: b('k') }));
  d.put('k', '1');
  await poll();
  const other = new Driver();
  for (let i = 0; i < 4; i++) other.put('k', `${i}`);
  d.sm.restore([other.sm.snapshot().toBytes()]);
  const [batch] = await poll();
  assert.equal(batch!.canceled?.code, ConcordErrorCode.Compacted);
});

test('a watcher resumed on a member behind its start revision gets nothing twice', async () => {
  const { d, hub, conn, spec, poll } = setup();
  d.put('k', '1');
  // The client already has revisions up to 3 (from a member that was ahead); this one has applied 1.
  hub.create(conn, spec(1, { key: b('k') }, { startRevision: 4 }));
  assert.deepEqual(await poll(), []);
  d.put('k', '2');
  d.put('k', '3');
  assert.deepEqual(await poll(), [], 'revisions 2 and 3 were delivered elsewhere');
  d.put('k', '4');
  const [batch] = await poll();
  assert.deepEqual(
    batch!.events.map((e) => e.kv.modRevision),
    [4],
  );
});
