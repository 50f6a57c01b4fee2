/** The client's small parts: sequence bookkeeping, the endpoint pool's bound, byte helpers, error mapping. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ClientSession } from '../../src/client/session.js';
import { Deadline } from '../../src/client/deadline.js';
import { systemClock } from '../../src/common/system-clock.js';
import { EndpointPool, learnedEndpointsMax } from '../../src/client/endpoint-pool.js';
import type { RpcChannel } from '../../src/client/channel.js';
import { Prng } from '../../src/common/rng.js';
import { toBytes, bytesToString } from '../../src/client/bytes.js';
import { prefixEnd } from '../../src/kv/bytes.js'; // the one prefixEnd (the client's scans send prefixes, members compute the end)
import { errorFromRemote, InvalidRequestError, ServerError } from '../../src/client/errors.js';
import { KeyNotFoundError, KeyTooLargeError, SessionExpiredError, VersionMismatchError } from '../../src/kv/errors.js';
import { classifyFailure, FailureKind } from '../../src/client/failure.js';
import { ConnectError, ConnectionClosedError, RemoteError, TooManyPendingCallsError } from '../../src/net/index.js';
import { ErrorCode } from '../../src/protocol/index.js';

test('ackedSeq is the highest seq with every seq up to it settled, whatever the settling order', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60 }), fc.array(fc.nat(), { maxLength: 200 }), (count, picks) => {
      const session = new ClientSession(1, 60_000);
      const seqs = Array.from({ length: count }, () => session.allocateSeq());
      assert.deepEqual(seqs, Array.from({ length: count }, (_, i) => i + 1));
      const settled = new Set<number>();
      for (const pick of picks) {
        const seq = seqs[pick % count]!;
        session.settle(seq);
        settled.add(seq);
        let expected = 0;
        while (settled.has(expected + 1)) expected++;
        assert.equal(session.ackedSeq, expected);
        assert.equal(session.outstandingCount, count - settled.size);
      }
    }),
  );
});

test('prefixEnd is the smallest key above every key with the prefix', () => {
  assert.deepEqual(prefixEnd(toBytes('ab')), toBytes('ac'));
  assert.deepEqual(prefixEnd(new Uint8Array([1, 0xff, 0xff])), new Uint8Array([2]));
  assert.equal(prefixEnd(new Uint8Array([0xff])), null);
  assert.equal(prefixEnd(new Uint8Array(0)), null);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.uint8Array({ maxLength: 4 }), (prefix, rest) => {
      const end = prefixEnd(prefix);
      const key = Buffer.concat([prefix, rest]);
      if (end !== null) assert.ok(Buffer.compare(key, Buffer.from(end)) < 0);
    }),
  );
  assert.equal(bytesToString(toBytes('héllo ✓')), 'héllo ✓');
});

test('remote errors become the key-value layer\'s typed errors, even with unexpected detail shapes', () => {
  const notFound = errorFromRemote(ErrorCode.KeyNotFound, 'nope', { key: toBytes('k') });
  assert.ok(notFound instanceof KeyNotFoundError);
  assert.equal(bytesToString(notFound.details.key), 'k');
  const mismatch = errorFromRemote(ErrorCode.VersionMismatch, 'm', {
    key: toBytes('k'),
    expectedVersion: 1,
    expectedModRevision: null,
    actualVersion: 3,
    actualModRevision: 9,
  });
  assert.ok(mismatch instanceof VersionMismatchError);
  assert.equal(mismatch.details.actualModRevision, 9);
  const tooLarge = errorFromRemote(ErrorCode.KeyTooLarge, 'big', { keyBytes: 5000, keyBytesMax: 4096 });
  assert.ok(tooLarge instanceof KeyTooLargeError);
  assert.deepEqual(tooLarge.details, { keyBytes: 5000, keyBytesMax: 4096 });
  // One decoder: details of another shape (the protocol document's old size names) still give the right class; unreadable fields are 0.
  const legacy = errorFromRemote(ErrorCode.KeyTooLarge, 'big', { sizeBytes: 5000, limitBytes: 4096 });
  assert.ok(legacy instanceof KeyTooLargeError);
  assert.deepEqual(legacy.details, { keyBytes: 0, keyBytesMax: 0 });
  assert.ok(errorFromRemote(ErrorCode.SessionExpired, 'gone', undefined) instanceof SessionExpiredError);
  const invalid = errorFromRemote(ErrorCode.InvalidRequest, 'bad', { reason: 'limit must be positive' });
  assert.ok(invalid instanceof InvalidRequestError);
  assert.equal(invalid.reason, 'limit must be positive');
  const other = errorFromRemote('CONCORD_ERR_INTERNAL', 'oops', {});
  assert.ok(other instanceof ServerError);
  assert.equal(other.code, 'CONCORD_ERR_INTERNAL');
});

test('failures are classified into redirect, reconnect, wait or give up, and whether a write may have applied', () => {
  const redirect = classifyFailure(new RemoteError('kv.put', ErrorCode.NotLeader, 'no', { leaderId: 'n2', leaderClientUrl: 'tcp://h:2' }));
  assert.deepEqual(redirect, { kind: FailureKind.Redirect, leaderUrl: 'tcp://h:2', mayHaveApplied: false });
  const changed = classifyFailure(new RemoteError('kv.put', ErrorCode.LeaderChanged, 'changed', { leaderId: null, leaderClientUrl: null }));
  assert.deepEqual(changed, { kind: FailureKind.Redirect, leaderUrl: null, mayHaveApplied: true });
  assert.deepEqual(classifyFailure(new RemoteError('kv.put', ErrorCode.Overloaded, 'busy', {})), { kind: FailureKind.Busy, mayHaveApplied: false });
  assert.deepEqual(classifyFailure(new RemoteError('kv.put', ErrorCode.Timeout, 'slow', {})), { kind: FailureKind.Busy, mayHaveApplied: true });
  assert.deepEqual(classifyFailure(new ConnectError('tcp://h:1', 'refused')), { kind: FailureKind.ConnectionLost, mayHaveApplied: false });
  assert.deepEqual(classifyFailure(new ConnectionClosedError()), { kind: FailureKind.ConnectionLost, mayHaveApplied: true });
  assert.deepEqual(classifyFailure(new TooManyPendingCallsError(10)), { kind: FailureKind.Busy, mayHaveApplied: false });
  const final = classifyFailure(new RemoteError('kv.update', ErrorCode.KeyNotFound, 'nope', { key: toBytes('k') }));
  assert.equal(final.kind, FailureKind.Final);
  assert.ok(final.kind === FailureKind.Final && final.error instanceof KeyNotFoundError);
  const expired = classifyFailure(new RemoteError('kv.put', ErrorCode.SessionExpired, 'gone', { sessionId: 4 }));
  assert.equal(expired.mayHaveApplied, false);
});

test('the endpoint pool keeps the configured endpoints and at most learnedEndpointsMax learned leader URLs, closing what it drops', async () => {
  const closed: string[] = [];
  const factory = async (url: string): Promise<RpcChannel> => ({
    call: async () => ({}),
    onClose: () => undefined,
    close: async () => void closed.push(url),
    destroy: () => undefined,
  });
  const pool = new EndpointPool(['tcp://a:1', 'tcp://b:1'], factory, 1000, new Prng(3));
  for (let i = 0; i < learnedEndpointsMax * 4; i++) {
    const url = `tcp://leader-${i}:1`;
    pool.noteLeader(url);
    await pool.channel(url);
    assert.equal(pool.leader, url);
    assert.equal(pool.pick(), url);
  }
  assert.equal(pool.known.length, 2 + learnedEndpointsMax);
  assert.deepEqual(pool.known.slice(0, 2), ['tcp://a:1', 'tcp://b:1']);
  assert.equal(pool.known.at(-1), `tcp://leader-${learnedEndpointsMax * 4 - 1}:1`);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(closed.length, learnedEndpointsMax * 3, 'the connection of every dropped URL was closed');
  assert.ok(!closed.includes(pool.leader!));
});

test('racing a promise against an expired deadline leaves no unhandled rejection when the promise fails later (a connect refused after the deadline)', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const deadline = new Deadline(systemClock, 'status', 0, undefined, undefined);
    assert.ok(deadline.expired);
    let refuse!: (error: Error) => void;
    const opening = new Promise<never>((_, reject) => (refuse = reject));
    await assert.rejects(deadline.race(opening), /timed out/);
    refuse(new ConnectError('tcp://10.0.0.1:7000', 'connect ECONNREFUSED'));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
