/** The member's waiting queues are bounded: hitting a bound is an Overloaded error the client sees. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/index.js';
import { PendingRequests } from '../../src/server/pending-requests.js';
import { ReadBatcher } from '../../src/server/read-batcher.js';
import { ServerError } from '../../src/server/errors.js';
import type { Clock } from '../../src/common/clock.js';

/** A clock standing still at `now` (these queues only read it to sweep deadlines). */
function clockAt(state: { now: number }): Clock {
  return {
    nowMs: () => state.now,
    monotonicMs: () => state.now,
    setTimer: () => ({ cancel() {} }),
    setRepeating: () => ({ cancel() {} }),
    schedule: (fn) => queueMicrotask(fn),
  };
}

test('pending proposals: the bound is an Overloaded error; expired waiters are rejected in deadline order', async () => {
  const time = { now: 0 };
  const pending = new PendingRequests<number, string>('proposal queue', 2, clockAt(time));
  const a = pending.add(1, 100);
  const b = pending.add(2, 200);
  assert.throws(
    () => pending.add(3, 300),
    (error: unknown) => error instanceof ServerError && error.code === ErrorCode.Overloaded && (error.details as { limit: number }).limit === 2,
  );
  const timeout = () => new ServerError(ErrorCode.Timeout, 'late');
  time.now = 150;
  assert.equal(pending.expire(timeout), 1);
  await assert.rejects(a, (error: { code?: string }) => error.code === ErrorCode.Timeout);
  assert.equal(pending.resolve(2, 'done'), true);
  assert.equal(await b, 'done');
  assert.equal(pending.resolve(2, 'again'), false, 'answered once');
  assert.equal(pending.size, 0);
});

test('read batcher: the bound is an Overloaded error; a refused ReadIndex fails the whole batch', async () => {
  const batcher = new ReadBatcher(2, clockAt({ now: 0 }), () => new ServerError(ErrorCode.NotLeader, 'not leader'));
  const r1 = batcher.enqueue(1000);
  const r2 = batcher.enqueue(1000);
  assert.throws(() => batcher.enqueue(1000), (error: unknown) => error instanceof ServerError && error.code === ErrorCode.Overloaded);
  batcher.flush({
    requestReadIndex: () => {
      throw new ServerError(ErrorCode.NotLeader, 'lost it');
    },
  });
  await assert.rejects(r1, (error: { code?: string }) => error.code === ErrorCode.NotLeader);
  await assert.rejects(r2, (error: { code?: string }) => error.code === ErrorCode.NotLeader);
  assert.equal(batcher.pendingReaders, 0);
});

test('read batcher: readers past their deadline time out; the others are served when the index is applied', async () => {
  const time = { now: 0 };
  const batcher = new ReadBatcher(10, clockAt(time), () => new ServerError(ErrorCode.NotLeader, 'not leader'));
  let context: Uint8Array = new Uint8Array(0);
  const early = batcher.enqueue(50);
  const late = batcher.enqueue(500);
  batcher.flush({ requestReadIndex: (c) => (context = c) });
  time.now = 100;
  batcher.expire();
  await assert.rejects(early, (error: { code?: string }) => error.code === ErrorCode.Timeout);
  batcher.onReadState(7, context, 6);
  assert.equal(batcher.pendingReaders, 1, 'index 7 not applied yet');
  batcher.onApplied(7);
  await late;
  assert.equal(batcher.pendingReaders, 0);
});
