/**
 * The retry loop's first attempt is the fast path (session open, connection
 * ready, answered in time: no deadline object, backoff or closures); when it
 * fails, the loop's state appears and the call goes on from that failure.
 * These tests make the first attempt fail in each way the loop knows and
 * check the call ends as the documented behaviour says: same seq on a retry,
 * applied once, unresolved writes only when an attempt may have been
 * applied, the right typed error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AbortedError, TimeoutError } from '../../src/client/index.js';
import { ErrorCode, Method } from '../../src/protocol/index.js';
import { remoteError } from './fake-cluster.js';
import { useFakeClusters } from './harness.js';

const { setup, open } = useFakeClusters();

test('a write redirected on its first attempt reaches the new leader with the same seq, once, for put, update and delete', async () => {
  const c = await setup();
  const kv = await open(c.urls);
  await kv.put('k', 'v0');
  assert.equal(kv.leaderUrl, c.member('n1').url);
  const calls: Array<[string, () => Promise<unknown>]> = [
    [Method.Put, () => kv.put('k', 'v1')],
    [Method.Update, () => kv.update('k', 'v2')],
    [Method.Delete, () => kv.delete('k')],
  ];
  const leaders = ['n2', 'n3', 'n1'];
  for (const [index, [method, call]] of calls.entries()) {
    const appliedBefore = c.store.applied;
    c.leaderName = leaders[index]!;
    await call();
    const sent = c.requests(method).slice(-2);
    assert.equal(sent.length, 2);
    assert.notEqual(sent[0]!.member, leaders[index], 'the first attempt went to the old leader');
    assert.equal(sent[1]!.member, leaders[index]);
    assert.equal(sent[0]!.request.session.seq, sent[1]!.request.session.seq);
    assert.equal(c.store.applied, appliedBefore + 1);
    assert.equal(kv.leaderUrl, c.member(leaders[index]!).url);
  }
  assert.equal(await kv.get('k'), null);
});

test('update and delete whose answer is lost with the connection are retried with the same seq and applied once', async () => {
  const c = await setup(['n1']);
  const kv = await open(c.urls);
  await kv.put('k', 'v1');
  let dropNext = true;
  c.hook = (_m, method) => {
    if ((method === Method.Update || method === Method.Delete) && dropNext) {
      dropNext = false;
      return 'drop-after';
    }
  };
  assert.equal((await kv.update('k', 'v2')).version, 2);
  dropNext = true;
  assert.equal((await kv.delete('k')).deleted, true, 'the retry gets the original answer, not "nothing to delete"');
  for (const method of [Method.Update, Method.Delete]) {
    const [first, retry] = c.requests(method);
    assert.equal(first!.request.session.seq, retry!.request.session.seq);
  }
  assert.equal(c.store.applied, 3);
  assert.equal(kv.unresolvedWrites.length, 0);
});

test('a get whose first attempt loses its connection reconnects and is answered', async () => {
  const c = await setup(['n1']);
  const kv = await open(c.urls);
  await kv.put('k', 'v');
  let dropped = false;
  c.hook = (_m, method) => {
    if (method === Method.Get && !dropped) {
      dropped = true;
      return 'drop';
    }
  };
  assert.equal((await kv.get('k'))?.valueString(), 'v');
  assert.equal(c.requests(Method.Get).length, 2);
  assert.equal(c.member('n1').connectionsAccepted, 2);
});

test('a write refused as overloaded is retried after a pause with the same seq, applied once, and settles its seq', async () => {
  const c = await setup(['n1']);
  const kv = await open(c.urls);
  let refusals = 3;
  c.hook = (_m, method) => {
    if (method === Method.Put && refusals-- > 0) throw remoteError(ErrorCode.Overloaded, 'busy');
  };
  assert.equal((await kv.put('k', 'v')).version, 1);
  const seqs = c.requests(Method.Put).map((r) => r.request.session.seq);
  assert.deepEqual(seqs, [1, 1, 1, 1]);
  assert.equal(kv.unresolvedWrites.length, 0);
  await kv.put('k2', 'v');
  const last = c.requests(Method.Put).at(-1)!.request.session;
  assert.deepEqual(last, { sessionId: kv.sessionId, seq: 2, ackedSeq: 1 });
  assert.equal(c.store.applied, 2);
});

test('aborting a write in flight gives AbortedError with its unresolved write; retryWrite learns its one outcome', async () => {
  const c = await setup(['n1']);
  const kv = await open(c.urls);
  let stall = true;
  c.hook = async (_m, method, _request, context) => {
    // Applied once the cancel arrives, but the answer never reaches the client.
    if (method === Method.Put && stall) await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
  };
  const controller = new AbortController();
  const call = kv.put('k', 'v', { signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  const error = await call.then(
    () => assert.fail('expected AbortedError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof AbortedError);
  assert.ok(error.unresolvedWrite !== undefined);
  assert.deepEqual(kv.unresolvedWrites, [error.unresolvedWrite]);
  stall = false;
  const outcome = await kv.retryWrite(error.unresolvedWrite);
  assert.equal((outcome as { version: number }).version, 1);
  assert.equal(c.store.applied, 1);
  const [first, retry] = c.requests(Method.Put);
  assert.equal(first!.request.session.seq, retry!.request.session.seq);
});

test('a write timing out on its first attempt keeps its unresolved write with the exact fields sent', async () => {
  const c = await setup(['n1']);
  const kv = await open(c.urls);
  c.hook = async (_m, method, _request, context) => {
    if (method === Method.Put) await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
  };
  const error = await kv.put('k', 'v', { timeoutMs: 50, expectedVersion: 0 }).then(
    () => assert.fail('expected TimeoutError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof TimeoutError);
  const write = error.unresolvedWrite!;
  assert.equal(write.method, Method.Put);
  assert.equal(write.sessionId, kv.sessionId);
  assert.equal(write.seq, c.requests(Method.Put)[0]!.request.session.seq);
  assert.deepEqual(write.fields, { key: new TextEncoder().encode('k'), value: new TextEncoder().encode('v'), expectedVersion: 0 });
});

test('conditions not given are not sent; given ones are, including 0', async () => {
  const c = await setup(['n1']);
  const kv = await open(c.urls);
  await kv.put('a', '1');
  await kv.put('b', '1', { expectedVersion: 0, signal: new AbortController().signal });
  await kv.put('b', '2', { expectedModRevision: c.store.revision });
  const [plain, created, replaced] = c.requests(Method.Put).map((r) => r.request as Record<string, unknown>);
  assert.ok(!('expectedVersion' in plain!) && !('expectedModRevision' in plain!));
  assert.equal(created!.expectedVersion, 0);
  assert.ok(!('expectedModRevision' in created!));
  assert.ok(!('expectedVersion' in replaced!));
  assert.equal(typeof replaced!.expectedModRevision, 'number');
  assert.equal((await kv.get('b'))?.version, 2);
});
