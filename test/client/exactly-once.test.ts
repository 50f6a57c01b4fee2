/**
 * Exactly-once writes when a member's answer leaves the outcome unknown
 * (docs/client.md, "Exactly-once writes"): LeaderChanged after the write was
 * proposed (a follower whose link to the leader broke after forwarding it, a
 * leader whose shutdown cut its proposals off), a lost connection after
 * sending. The client retries with the same session and seq; it never sends a
 * write of unknown outcome under another session, and when the outcome cannot
 * be learned it says so with the `unresolvedWrite`. A write refused before it
 * was proposed (NotLeader, ShuttingDown) is known not applied and may be
 * numbered anew.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionExpiredError, TimeoutError, UnavailableError, UnresolvedWriteState, type UnresolvedWrite } from '../../src/client/index.js';
import { ErrorCode, Method } from '../../src/protocol/index.js';
import { remoteError, type FakeCluster, type HookAction } from './fake-cluster.js';
import { useFakeClusters } from './harness.js';
import type { ConcordError } from '../../src/common/errors.js';

const { setup, open } = useFakeClusters();

/** LeaderChanged the way a member sends it: the leader hint in NotLeaderDetails. */
function leaderChanged(c: FakeCluster, hint: string | null): ConcordError {
  return remoteError(ErrorCode.LeaderChanged, 'leadership changed before the write was applied', {
    leaderId: c.leaderName,
    leaderClientUrl: hint,
  });
}

test('a write answered LeaderChanged after it was applied is retried with the same seq and applied once', async () => {
  const c = await setup();
  const kv = await open(c.urls);
  await kv.put('k', 'v0');
  let first = true;
  c.hook = (member, method): HookAction => {
    if (method !== Method.Put || !first || member.name !== 'n1') return;
    first = false;
    // The write is in the log; then leadership moves to n2 before n1 could answer.
    c.leaderName = 'n2';
    return { failAfter: leaderChanged(c, c.member('n2').url) };
  };
  c.leaderName = 'n1';
  const result = await kv.put('k', 'v1');
  assert.equal(result.version, 2, 'the retry got the original result');
  const [sent, retried] = c.requests(Method.Put).slice(-2);
  assert.equal(sent!.member, 'n1');
  assert.equal(retried!.member, 'n2');
  assert.deepEqual(
    [retried!.request.session.sessionId, retried!.request.session.seq],
    [sent!.request.session.sessionId, sent!.request.session.seq],
  );
  assert.equal(c.store.applied, 2, 'applied once (plus the first put)');
  assert.equal(kv.unresolvedWrites.length, 0);
});

for (const [how, action] of [
  ['answered LeaderChanged', (c: FakeCluster): HookAction => ({ failAfter: leaderChanged(c, null) })],
  ['lost with its connection', (): HookAction => 'drop-after'],
] as const) {
  test(`a write ${how} after it was applied, whose session then expires, is never re-sent under a new session: the error carries its unresolved write`, async () => {
    const c = await setup(['n1']);
    const kv = await open(c.urls);
    const sessionId = kv.sessionId;
    let puts = 0;
    c.hook = (_member, method): HookAction => {
      if (method !== Method.Put) return;
      // The first attempt is applied, but its answer is lost; the session expires before the retry arrives.
      if (++puts === 1) return action(c);
      if (puts === 2) c.store.sessions.clear();
    };
    const error = await kv.put('k', 'v').then(
      () => assert.fail('expected the write to fail'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof SessionExpiredError, `got ${String(error)}`);
    const unresolved = (error as SessionExpiredError & { unresolvedWrite?: UnresolvedWrite }).unresolvedWrite;
    assert.ok(unresolved !== undefined, 'the error says which write is unresolved');
    assert.equal(unresolved.state, UnresolvedWriteState.SessionExpired);
    assert.equal(unresolved.sessionId, sessionId);
    assert.equal(c.store.applied, 1, 'applied exactly once');
    assert.ok(
      c.requests(Method.Put).every((r) => r.request.session.sessionId === sessionId),
      'every attempt went under the original session',
    );
    await assert.rejects(kv.retryWrite(unresolved), SessionExpiredError);
    assert.equal(kv.unresolvedWrites.length, 0);
    // The client goes on in a new session.
    assert.equal((await kv.get('k'))?.version, 1);
    assert.equal((await kv.put('k2', 'v')).version, 1);
    assert.notEqual(kv.sessionId, sessionId);
  });
}

for (const code of [ErrorCode.NotLeader, ErrorCode.ShuttingDown]) {
  test(`a write refused with ${code} before it was proposed is sent under a new session when its session expired meanwhile, and applied once`, async () => {
    const c = await setup(['n1']);
    const kv = await open(c.urls);
    const sessionId = kv.sessionId;
    let first = true;
    c.hook = (_member, method) => {
      if (method !== Method.Put || !first) return;
      first = false;
      c.store.sessions.clear();
      throw remoteError(code, 'refused before proposing', { leaderId: 'n1', leaderClientUrl: null });
    };
    assert.equal((await kv.put('k', 'v')).version, 1);
    assert.notEqual(kv.sessionId, sessionId);
    const puts = c.requests(Method.Put);
    assert.equal(puts.at(-1)!.request.session.sessionId, kv.sessionId);
    assert.equal(c.store.applied, 1);
    assert.equal(kv.unresolvedWrites.length, 0);
  });
}

test('LeaderChanged on every attempt until the deadline: the timeout carries the unresolved write, and retryWrite learns its one outcome', async () => {
  const c = await setup();
  const kv = await open(c.urls);
  let failing = true;
  c.hook = (member, method): HookAction => {
    if (method === Method.Put && failing && member.isLeader) return { failAfter: leaderChanged(c, null) };
  };
  const error = await kv.put('k', 'v', { timeoutMs: 200 }).then(
    () => assert.fail('expected the deadline to pass'),
    (e: unknown) => e,
  );
  // Which one depends on where the deadline found the call: waiting for an answer, or between attempts.
  assert.ok(error instanceof UnavailableError || error instanceof TimeoutError, `got ${String(error)}`);
  assert.ok(error.unresolvedWrite !== undefined, 'a write that may have been applied is reported unresolved');
  assert.equal(c.store.applied, 1);
  failing = false;
  const outcome = await kv.retryWrite(error.unresolvedWrite);
  assert.equal((outcome as { version: number }).version, 1);
  assert.equal(c.store.applied, 1, 'still applied once');
  assert.equal(error.unresolvedWrite.state, UnresolvedWriteState.Resolved);
  const seqs = new Set(c.requests(Method.Put).map((r) => `${r.request.session.sessionId}/${r.request.session.seq}`));
  assert.equal(seqs.size, 1, 'every attempt and the retry carried the same session and seq');
});

test('retryWrite of an unresolved write that fails its condition resolves it with that answer', async () => {
  const c = await setup(['n1']);
  const kv = await open(c.urls);
  await kv.put('k', 'v0');
  let failing = true;
  c.hook = (_member, method): HookAction => {
    // Not applied this time (the condition fails), but the answer is lost.
    if (method === Method.Put && failing) return { failAfter: leaderChanged(c, null) };
  };
  const error = (await kv.put('k', 'v1', { expectedVersion: 7, timeoutMs: 100 }).catch((e: unknown) => e)) as UnavailableError;
  assert.ok(error.unresolvedWrite, `got ${String(error)}`);
  failing = false;
  await assert.rejects(kv.retryWrite(error.unresolvedWrite), (e: unknown) => (e as { code?: string }).code === ErrorCode.VersionMismatch);
  assert.equal(error.unresolvedWrite.state, UnresolvedWriteState.Resolved);
  assert.equal(kv.unresolvedWrites.length, 0);
});
