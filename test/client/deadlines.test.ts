/**
 * connect({ timeoutMs }) and close({ timeoutMs }) keep their deadline whatever
 * the members do, in particular a member that accepts connections and never
 * answers (a SIGSTOPped process: its kernel completes the TCP handshake). Each
 * attempt gets a share of the call's time, so the other members are tried;
 * a failed connect destroys its connections instead of waiting for graceful
 * closes the paused member will never finish. On a ManualClock, so "in time"
 * is simulated time, exact and independent of the machine's load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, TimeoutError, type KvClient } from '../../src/client/index.js';
import type { RandomSource } from '../../src/common/rng.js';
import { Method } from '../../src/protocol/index.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { ChannelState, MemoryMembers } from './memory-member.js';

/** Always the first endpoint first, and no backoff waits: the order of attempts is the test's. */
const firstEndpointFirst: RandomSource = { nextInt: () => 0, nextFloat: () => 0 };

function members(clock: ManualClock, leader: () => string): MemoryMembers {
  const header = () => ({ memberName: leader(), leaderId: leader(), leaderClientUrl: leader(), revision: 1 });
  let nextSessionId = 1;
  return new MemoryMembers(clock, {
    [Method.OpenSession]: () => ({ header: header(), sessionId: nextSessionId++, ttlMs: 60_000 }),
    [Method.Put]: () => ({ header: header(), revision: 2, version: 1 }),
    [Method.CloseSession]: () => ({ header: header() }),
  });
}

/** Starts `promise` and reports whether it has settled, without an unhandled rejection. */
function track<T>(promise: Promise<T>): { readonly settled: boolean; readonly promise: Promise<T> } {
  const state = { settled: false, promise };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

test('connect goes on to the next member when one accepts the connection and never answers', async () => {
  const clock = new ManualClock();
  const cluster = members(clock, () => 'sim://a');
  cluster.paused.add('sim://b');
  const connecting = track(
    connect({ endpoints: ['sim://b', 'sim://a'], timeoutMs: 3_000, channelFactory: cluster.channelFactory, clock, random: firstEndpointFirst }),
  );
  await clock.advance(999);
  assert.equal(connecting.settled, false, 'the paused member has its share of the time');
  await clock.advance(2);
  assert.equal(connecting.settled, true, 'after one share (a third of timeoutMs), the next member answered');
  const kv = await connecting.promise;
  assert.deepEqual(
    cluster.callsOf(Method.OpenSession).map((c) => c.endpoint),
    ['sim://b', 'sim://a'],
  );
  assert.equal(kv.sessionId, 1);
  kv.abort();
});

test('a connect that fails ends at its deadline and destroys its connections, not waiting for graceful closes', async () => {
  const clock = new ManualClock();
  const cluster = members(clock, () => 'sim://a');
  cluster.paused.add('sim://a');
  cluster.paused.add('sim://b');
  const connecting = track(
    connect({ endpoints: ['sim://a', 'sim://b'], timeoutMs: 1_000, channelFactory: cluster.channelFactory, clock, random: firstEndpointFirst }),
  );
  await clock.advance(1_000);
  assert.equal(connecting.settled, true, 'settled at the deadline');
  await assert.rejects(connecting.promise, TimeoutError);
  assert.ok(cluster.channels.length >= 2, 'both members were tried');
  assert.deepEqual(
    cluster.channels.map((c) => c.state),
    cluster.channels.map(() => ChannelState.Destroyed),
  );
});

test('close({ timeoutMs }) ends at its deadline when the member stops answering, and cuts its connections off', async () => {
  const clock = new ManualClock();
  const cluster = members(clock, () => 'sim://a');
  const connecting = connect({ endpoints: ['sim://a'], timeoutMs: 5_000, channelFactory: cluster.channelFactory, clock, random: firstEndpointFirst });
  await clock.advance(0);
  const kv: KvClient = await connecting;
  cluster.paused.add('sim://a');
  const closing = track(kv.close({ timeoutMs: 500 }));
  await clock.advance(499);
  assert.equal(closing.settled, false);
  await clock.advance(1);
  assert.equal(closing.settled, true, 'closed at its deadline');
  await closing.promise;
  assert.equal(cluster.callsOf(Method.CloseSession).length >= 1, true, 'it tried to close the session');
  assert.deepEqual(
    cluster.channels.map((c) => c.state),
    [ChannelState.Destroyed],
  );
});

test('a write whose member stops answering goes to the next member after its share of the time, with the same seq', async () => {
  const clock = new ManualClock();
  let leader = 'sim://a';
  const cluster = members(clock, () => leader);
  const connecting = connect({ endpoints: ['sim://a', 'sim://b'], timeoutMs: 3_000, channelFactory: cluster.channelFactory, clock, random: firstEndpointFirst });
  await clock.advance(0);
  const kv = await connecting;
  cluster.paused.add('sim://a');
  leader = 'sim://b';
  const put = track(kv.put('k', 'v'));
  await clock.advance(1_001);
  assert.equal(put.settled, true);
  assert.deepEqual(await put.promise, { revision: 2, version: 1 });
  const puts = cluster.callsOf(Method.Put);
  assert.deepEqual(
    puts.map((c) => c.endpoint),
    ['sim://a', 'sim://b'],
  );
  assert.deepEqual(puts[0]!.request.session, puts[1]!.request.session);
  kv.abort();
});
