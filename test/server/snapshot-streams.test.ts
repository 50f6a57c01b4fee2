/**
 * The member's snapshot streams (src/server/snapshot-streams.ts), with a
 * real key-value snapshot: pages reassemble the exact stream, a lost answer
 * can be asked for again, offsets cannot rewind or skip, streams are bounded
 * and idle ones expire, and ids are not sequential.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandKind, KvStateMachine, encodeCommand } from '../../src/kv/index.js';
import { Prng } from '../../src/common/rng.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { systemClock } from '../../src/common/system-clock.js';
import { SnapshotStreams, type BackupSource } from '../../src/server/snapshot-streams.js';
import { ServerError } from '../../src/protocol/index.js';

function stateWithKeys(count: number, valueBytes: number): KvStateMachine {
  const sm = new KvStateMachine({ snapshotChunkBytes: 16 * 1024 });
  let index = 0;
  sm.apply(++index, encodeCommand({ kind: CommandKind.OpenSession, ttlMs: 60_000 }, 1_000));
  for (let i = 1; i <= count; i++) {
    sm.apply(
      ++index,
      encodeCommand({ kind: CommandKind.Put, key: Buffer.from(`k${i}`), value: new Uint8Array(valueBytes).fill(i % 256), session: { sessionId: 1, seq: i, ackedSeq: i - 1 } }, 1_000),
    );
  }
  return sm;
}

function sourceOf(sm: KvStateMachine): BackupSource {
  return {
    take: () => {
      const snapshot = sm.snapshot();
      return { index: snapshot.appliedIndex, term: 3, keys: snapshot.keys, measure: (slice: number) => snapshot.measure(slice), contents: snapshot };
    },
    clusterId: () => 'ab'.repeat(16),
  };
}

const code = (expected: string) => (error: unknown) => error instanceof ServerError && error.code === expected;

test('pages reassemble the exact stream, taken at open time, while applies go on', async () => {
  const sm = stateWithKeys(500, 300);
  const expected = Buffer.from(sm.snapshot().toBytes());
  const streams = new SnapshotStreams(sourceOf(sm), new ManualClock(), new Prng(1));
  const first = await streams.open(10_000);
  assert.equal(first.totalBytes, expected.length);
  assert.equal(first.index, 501);
  assert.equal(first.term, 3);
  assert.equal(first.keys, 500);
  assert.equal(first.clusterId, 'ab'.repeat(16));
  // The state moves on: the stream still holds the state at open time.
  sm.apply(502, encodeCommand({ kind: CommandKind.Put, key: Buffer.from('late'), value: Buffer.from('x'), session: { sessionId: 1, seq: 501, ackedSeq: 500 } }, 1_000));
  const parts: Buffer[] = [Buffer.from(first.chunk)];
  let page = first;
  while (!page.done) {
    assert.ok(page.chunk.length <= 10_000 && page.chunk.length > 0);
    page = streams.next({ streamId: first.streamId, offset: page.offset + page.chunk.length, chunkBytesMax: 10_000 });
    parts.push(Buffer.from(page.chunk));
  }
  assert.deepEqual(Buffer.concat(parts), expected);
  assert.equal(streams.openCount, 0, 'a finished stream is forgotten');
  assert.throws(() => streams.next({ streamId: first.streamId, offset: 0, chunkBytesMax: 0 }), code('CONCORD_ERR_INVALID_REQUEST'));
});

test('a lost page can be asked for again; other offsets are refused', async () => {
  const sm = stateWithKeys(100, 200);
  const streams = new SnapshotStreams(sourceOf(sm), new ManualClock(), new Prng(2));
  const first = await streams.open(4096);
  const second = streams.next({ streamId: first.streamId, offset: first.chunk.length, chunkBytesMax: 4096 });
  const again = streams.next({ streamId: first.streamId, offset: first.chunk.length, chunkBytesMax: 4096 });
  assert.deepEqual(Buffer.from(again.chunk), Buffer.from(second.chunk));
  assert.throws(() => streams.next({ streamId: first.streamId, offset: 0, chunkBytesMax: 4096 }), /cannot rewind/);
  assert.throws(() => streams.next({ streamId: first.streamId, offset: second.offset + second.chunk.length + 1, chunkBytesMax: 4096 }), /cannot rewind/);
  const third = streams.next({ streamId: first.streamId, offset: second.offset + second.chunk.length, chunkBytesMax: 4096 });
  assert.equal(third.offset, second.offset + second.chunk.length);
  assert.throws(() => streams.next({ streamId: first.streamId + 1, offset: 0, chunkBytesMax: 0 }), /no snapshot stream/);
});

test('at most streamsMax streams; idle ones expire; ids are random', async () => {
  const clock = new ManualClock();
  const sm = stateWithKeys(500, 100);
  const streams = new SnapshotStreams(sourceOf(sm), clock, new Prng(3), { streamsMax: 2, idleMs: 1_000 });
  const a = await streams.open(4096);
  const b = await streams.open(4096);
  assert.notEqual(a.streamId, b.streamId);
  assert.ok(Math.abs(a.streamId - b.streamId) > 1000, 'ids are drawn, not counted');
  await assert.rejects(streams.open(4096), code('CONCORD_ERR_OVERLOADED'));
  await clock.advance(600);
  streams.next({ streamId: a.streamId, offset: a.chunk.length, chunkBytesMax: 4096 }); // a stays in use
  await clock.advance(600);
  const c = await streams.open(4096); // b was idle for 1.2 s: dropped
  assert.equal(streams.openCount, 2);
  assert.throws(() => streams.next({ streamId: b.streamId, offset: b.chunk.length, chunkBytesMax: 4096 }), /no snapshot stream/);
  assert.ok(c.streamId > 0);
});

test('a large store is sized a slice of keys per event-loop turn, and the length is still exact', async () => {
  const sm = stateWithKeys(45_000, 8);
  let turns = 0;
  const clock = { ...systemClock, schedule: (fn: () => void) => (turns++, systemClock.schedule(fn)) };
  const streams = new SnapshotStreams(sourceOf(sm), clock, new Prng(4));
  const first = await streams.open(0);
  assert.ok(turns >= 2, `sized over ${turns + 1} turns`);
  assert.equal(first.totalBytes, sm.snapshot().toBytes().length);
});
