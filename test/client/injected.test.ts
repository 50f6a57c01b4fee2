/**
 * The client runs without sockets and without the system clock: a custom
 * `RpcChannel` (connect's `channelFactory`) reaches an in-memory member, and
 * every deadline, backoff sleep and keep-alive runs on an injected Clock. This
 * is the seam the deterministic simulator connects the real client through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/common/rng.js';
import { connect, TimeoutError, UnavailableError } from '../../src/client/index.js';
import { FakeCluster } from './fake-cluster.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { MemoryMembers } from './memory-member.js';
import { ConnectionClosedError } from '../../src/net/index.js';
import { Method } from '../../src/protocol/index.js';

const header = { memberName: 'a', leaderId: 'a', leaderClientUrl: 'sim://a', revision: 1 };

test('over a custom channel and an injected clock: connect, put, get, keep-alives by simulated time, close', async () => {
  const clock = new ManualClock();
  const keys = new Map<string, Uint8Array>();
  const member = new MemoryMembers(clock, {
    [Method.OpenSession]: () => ({ header, sessionId: 7, ttlMs: 3_000 }),
    [Method.Put]: (r) => {
      keys.set(Buffer.from(r.key).toString(), r.value);
      return { header, revision: 2, version: 1 };
    },
    [Method.Get]: (r) => {
      const value = keys.get(Buffer.from(r.key).toString());
      return { header, kv: value === undefined ? null : { key: r.key, value, version: 1, createRevision: 2, modRevision: 2 } };
    },
    [Method.KeepAlive]: () => ({ header }),
    [Method.CloseSession]: () => ({ header }),
  });
  const connecting = connect({ endpoints: ['sim://a'], channelFactory: member.channelFactory, clock, random: new Prng(1) });
  await clock.advance(0);
  const kv = await connecting;
  assert.equal(kv.sessionId, 7);
  assert.deepEqual(member.opened, ['sim://a'], 'the endpoint name went to the factory unparsed');

  const put = kv.put('k', 'v');
  await clock.advance(0);
  assert.deepEqual(await put, { revision: 2, version: 1 });
  const get = kv.get('k');
  await clock.advance(0);
  assert.equal((await get)?.valueString(), 'v');

  // Keep-alives every third of the granted TTL, on the injected clock only.
  assert.equal(member.callsOf(Method.KeepAlive).length, 0);
  await clock.advance(1_000);
  assert.equal(member.callsOf(Method.KeepAlive).length, 1);
  await clock.advance(2_000);
  assert.equal(member.callsOf(Method.KeepAlive).length, 3);

  const closing = kv.close();
  await clock.advance(0);
  await closing;
  assert.equal(member.calls.at(-1)?.method, Method.CloseSession);
  await clock.advance(10_000);
  assert.equal(member.callsOf(Method.KeepAlive).length, 3, 'no keep-alive after close');
});

test('on an injected clock, retries back off and the deadline ends the call, in simulated time only', async () => {
  const clock = new ManualClock();
  let refusals = 0;
  const member = new MemoryMembers(clock, {
    [Method.OpenSession]: () => ({ header, sessionId: 1, ttlMs: 60_000 }),
    [Method.Get]: () => {
      refusals++;
      throw new ConnectionClosedError('lost');
    },
  });
  const connecting = connect({ endpoints: ['sim://a'], channelFactory: member.channelFactory, clock, random: new Prng(2), timeoutMs: 1_000 });
  await clock.advance(0);
  const kv = await connecting;
  let settled = false;
  const get = kv.get('k').finally(() => (settled = true));
  get.catch(() => undefined);
  await clock.advance(999);
  assert.equal(settled, false, 'still retrying just before its deadline');
  assert.ok(refusals > 3, `retried (${refusals} attempts)`);
  await clock.advance(2);
  await assert.rejects(get, UnavailableError); // no member could serve it: every attempt was refused
});

test('the default net channel runs its call deadlines on the injected clock too (mem:// members)', async () => {
  const cluster = await FakeCluster.start(['n1']);
  const clock = new ManualClock();
  // mem:// connections are no handles: keep the event loop alive while the test waits.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    // An hour: only the injected clock can end these calls within the test's time.
    const kv = await connect({ endpoints: cluster.urls, clock, random: new Prng(3), timeoutMs: 3_600_000 });
    cluster.hook = (_member, method, _request, context) => {
      if (method === Method.Get) return new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
    };
    const get = kv.get('k');
    get.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 20)); // The request reaches the member.
    await clock.advance(3_600_001);
    await assert.rejects(get, TimeoutError);
    cluster.hook = null;
    kv.abort();
  } finally {
    clearInterval(keepAlive);
    await cluster.close();
  }
});
