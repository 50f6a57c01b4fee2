/**
 * The client runs without sockets and without the system clock: a custom
 * `RpcChannel` (connect's `channelFactory`) reaches an in-memory member, and
 * every deadline, backoff sleep and keep-alive runs on an injected Clock. This
 * is the seam the deterministic simulator connects the real client through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, Timer } from '../../src/common/clock.js';
import { Prng } from '../../src/common/rng.js';
import { connect, UnavailableError, type RpcChannel } from '../../src/client/index.js';
import { ConnectionClosedError, TimeoutError as RpcTimeoutError } from '../../src/net/index.js';
import { Method } from '../../src/protocol/index.js';

/** A clock that moves only when the test says so. */
class ManualClock implements Clock {
  private nowValue = 1_000;
  private timers: { atMs: number; everyMs: number; fn: () => void; cancelled: boolean }[] = [];

  nowMs(): number {
    return 1_700_000_000_000 + this.nowValue;
  }
  monotonicMs(): number {
    return this.nowValue;
  }
  setTimer(delayMs: number, fn: () => void): Timer {
    return this.add(Math.max(0, delayMs), 0, fn);
  }
  setRepeating(intervalMs: number, fn: () => void): Timer {
    return this.add(intervalMs, intervalMs, fn);
  }
  schedule(fn: () => void): void {
    this.add(0, 0, fn);
  }
  get pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting the promises they settle run. */
  async advance(ms: number): Promise<void> {
    const endMs = this.nowValue + ms;
    for (;;) {
      await flush();
      const due = this.timers.filter((t) => !t.cancelled && t.atMs <= endMs).sort((a, b) => a.atMs - b.atMs)[0];
      if (due === undefined) break;
      this.nowValue = Math.max(this.nowValue, due.atMs);
      if (due.everyMs > 0) due.atMs += due.everyMs;
      else due.cancelled = true;
      due.fn();
    }
    this.nowValue = endMs;
    this.timers = this.timers.filter((t) => !t.cancelled);
    await flush();
  }

  private add(delayMs: number, everyMs: number, fn: () => void): Timer {
    const timer = { atMs: this.nowValue + delayMs, everyMs, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Handler = (request: any) => unknown;

/** One in-memory "member": the client protocol's handlers as plain functions, answered via the clock. */
function memoryMember(clock: ManualClock, handlers: Partial<Record<string, Handler>>) {
  const calls: { method: string; request: any }[] = [];
  const opened: string[] = [];
  const channelFactory = async (endpoint: string): Promise<RpcChannel> => {
    opened.push(endpoint);
    const closeListeners: (() => void)[] = [];
    return {
      call(method, request, options) {
        calls.push({ method, request });
        const handler = handlers[method];
        return new Promise((resolve, reject) => {
          // A channel honours the call's timeoutMs and signal itself (the net layer's RPC client does).
          const timer = clock.setTimer(options.timeoutMs ?? 1e9, () => reject(new RpcTimeoutError('rpc timed out')));
          if (handler === undefined) return; // Never answers.
          clock.schedule(() => {
            timer.cancel();
            try {
              resolve(handler(request));
            } catch (error) {
              reject(error);
            }
          });
        });
      },
      onClose: (listener) => closeListeners.push(listener),
      close: async () => closeListeners.forEach((l) => l()),
      destroy: () => closeListeners.forEach((l) => l()),
    };
  };
  return { calls, opened, channelFactory };
}

const header = { memberName: 'a', leaderId: 'a', leaderClientUrl: 'sim://a', revision: 1 };

test('over a custom channel and an injected clock: connect, put, get, keep-alives by simulated time, close', async () => {
  const clock = new ManualClock();
  const keys = new Map<string, Uint8Array>();
  const member = memoryMember(clock, {
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
  assert.equal(member.calls.filter((c) => c.method === Method.KeepAlive).length, 0);
  await clock.advance(1_000);
  assert.equal(member.calls.filter((c) => c.method === Method.KeepAlive).length, 1);
  await clock.advance(2_000);
  assert.equal(member.calls.filter((c) => c.method === Method.KeepAlive).length, 3);

  const closing = kv.close();
  await clock.advance(0);
  await closing;
  assert.equal(member.calls.at(-1)?.method, Method.CloseSession);
  await clock.advance(10_000);
  assert.equal(member.calls.filter((c) => c.method === Method.KeepAlive).length, 3, 'no keep-alive after close');
});

test('on an injected clock, retries back off and the deadline ends the call, in simulated time only', async () => {
  const clock = new ManualClock();
  let refusals = 0;
  const member = memoryMember(clock, {
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
