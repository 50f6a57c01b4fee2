/**
 * Behaviour that rests on the RPC layer's cheaper bookkeeping: the pending-call
 * table (growth, answers in any order), timeouts from one shared timer, the
 * handler's signal made only when a handler asks for it, and the shared slabs
 * outgoing frames are encoded into.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NetAbortedError,
  connect,
  defineMethods,
  listen,
  RpcClient,
  RpcServer,
  s,
  NetTimeoutError,
  type CallContext,
} from '../../src/net/index.js';
import { viewBackingBytesMax } from '../../src/net/msgpack.js';
import { allocateOutChunk, slabChunkBytesMax, trimOutChunk } from '../../src/net/out-slab.js';
import { eventually, ManualClock } from './helpers.js';

const methods = defineMethods({
  echo: { id: 1, request: s.bytes(), response: s.bytes() },
  sleep: { id: 2, request: s.object({ ms: s.uint(), tag: s.uint() }), response: s.object({ tag: s.uint() }) },
  hang: { id: 3, request: s.object({}), response: s.object({}) },
  /** Waits for the test to release it, then reports whether its signal was aborted (looking at it only then). */
  lateLook: { id: 4, request: s.object({ tag: s.uint() }), response: s.object({ aborted: s.bool() }) },
});

interface Gate {
  readonly tag: number;
  readonly context: CallContext;
  release(): void;
}

async function start(options: { pendingCallsMax?: number; timeoutMs?: number } = {}) {
  const gates: Gate[] = [];
  const lateLooks: { tag: number; aborted: boolean }[] = [];
  const rpc = new RpcServer(methods, {
    echo: async (request) => request,
    sleep: (request) => new Promise((resolve) => setTimeout(() => resolve({ tag: request.tag }), request.ms)),
    hang: () => new Promise(() => {}),
    lateLook: async (request, context) => {
      await new Promise<void>((release) => gates.push({ tag: request.tag, context, release }));
      const aborted = context.signal.aborted; // The first look at the signal.
      lateLooks.push({ tag: request.tag, aborted });
      return { aborted };
    },
  });
  const server = await listen('tcp://127.0.0.1:0', { onConnection: (c) => rpc.serve(c) });
  const connection = await connect(server.address);
  const client = new RpcClient(connection, methods, options);
  return {
    client,
    connection,
    gates,
    lateLooks,
    async stop() {
      connection.destroy();
      await server.close();
    },
  };
}

test('hundreds of calls in flight, answered in scrambled order, each get their own answer', async () => {
  const { client, stop } = await start({ pendingCallsMax: 1000 });
  const count = 600; // Well past the table's first size: it grows while calls are pending.
  const delays = Array.from({ length: count }, (_, i) => (i * 7919) % 23);
  const answers = await Promise.all(delays.map((ms, tag) => client.call('sleep', { ms, tag })));
  assert.deepEqual(
    answers.map((a) => a.tag),
    delays.map((_, tag) => tag),
  );
  assert.equal(client.pendingCalls, 0);
  // Call ids keep being handed out around slots still held by slow calls.
  const slow = client.call('sleep', { ms: 50, tag: 1 });
  for (let i = 0; i < 200; i++) assert.equal(Buffer.from(await client.call('echo', Buffer.from([i]))).at(0), i);
  assert.deepEqual(await slow, { tag: 1 });
  await stop();
});

test('a short timeout made after a long one still fires first; the long one is answered', async () => {
  const { client, stop } = await start();
  const long = client.call('sleep', { ms: 80, tag: 7 }, { timeoutMs: 10_000 });
  const short = client.call('hang', {}, { timeoutMs: 20 });
  await assert.rejects(short, NetTimeoutError);
  assert.deepEqual(await long, { tag: 7 });
  assert.equal(client.pendingCalls, 0);
  await stop();
});

test("the client's default timeout applies, and answered calls never time out later", async () => {
  const { client, stop } = await start({ timeoutMs: 40 });
  for (let i = 0; i < 50; i++) await client.call('echo', Buffer.from([i]));
  await assert.rejects(client.call('hang', {}), (error: unknown) => {
    assert.ok(error instanceof NetTimeoutError);
    assert.match(error.message, /after 40 ms/);
    return true;
  });
  // Calls answered before their deadline stay answered: nothing else is rejected meanwhile.
  const answered = await Promise.all(Array.from({ length: 20 }, (_, tag) => client.call('sleep', { ms: 0, tag })));
  assert.equal(answered.length, 20);
  await assert.rejects(client.call('hang', {}, { timeoutMs: 0 }), NetTimeoutError);
  await assert.rejects(client.call('hang', {}, { timeoutMs: -5 }), NetTimeoutError);
  assert.equal(client.pendingCalls, 0);
  await stop();
});

test("deadlines run on the injected clock: a call times out when that clock passes its timeout, never before", async () => {
  const clock = new ManualClock();
  const clockMethods = defineMethods({
    echo: { id: 1, request: s.bytes(), response: s.bytes() },
    hang: { id: 3, request: s.object({}), response: s.object({}) },
  });
  const rpc = new RpcServer(clockMethods, { hang: () => new Promise(() => {}), echo: (request) => request });
  const server = await listen(`mem://rpc-clock-${process.pid}`, { onConnection: (c) => rpc.serve(c) });
  const connection = await connect(server.address, { clock });
  const client = new RpcClient(connection, clockMethods); // deadlines from the connection's clock
  // Timeouts far beyond the test's real duration: only the injected clock can make them fire.
  const settled: string[] = [];
  const short = client.call('hang', {}, { timeoutMs: 100_000 }).catch((error: unknown) => {
    assert.ok(error instanceof NetTimeoutError && /after 100000 ms/.test(error.message), String(error));
    settled.push('short');
  });
  const long = client.call('hang', {}, { timeoutMs: 300_000 }).catch((error: unknown) => {
    assert.ok(error instanceof NetTimeoutError, String(error));
    settled.push('long');
  });
  await clock.advance(99_999);
  assert.deepEqual(settled, []);
  assert.equal(client.pendingCalls, 2);
  await clock.advance(1);
  assert.deepEqual(settled, ['short']);
  assert.equal(client.pendingCalls, 1);
  assert.deepEqual(await client.call('echo', Buffer.from('x'), { timeoutMs: 5 }), Buffer.from('x')); // answered in time, on no clock tick
  await clock.advance(200_000);
  assert.deepEqual(settled, ['short', 'long']);
  assert.equal(client.pendingCalls, 0);
  await Promise.all([short, long]);
  // receive() uses the same clock.
  let receiveFailed: unknown;
  const received = connection.receive({ timeoutMs: 100_000 }).catch((error: unknown) => (receiveFailed = error));
  await clock.advance(100_000);
  assert.ok(receiveFailed instanceof NetTimeoutError);
  await received;
  connection.destroy();
  await server.close();
});

test('a handler that looks at its signal only after the caller aborted finds it aborted', async () => {
  const { client, gates, lateLooks, stop } = await start();
  const controller = new AbortController();
  const call = client.call('lateLook', { tag: 1 }, { signal: controller.signal });
  const other = client.call('lateLook', { tag: 2 });
  await eventually(() => gates.length === 2, 'both handlers started');
  controller.abort();
  await assert.rejects(call, NetAbortedError);
  // Frames are handled in order: once this answer is back, the server has seen the Cancel frame.
  await client.call('echo', Buffer.from('barrier'));
  for (const gate of gates) gate.release();
  assert.deepEqual(await other, { aborted: false });
  await eventually(() => lateLooks.length === 2, 'both handlers looked');
  assert.deepEqual(
    lateLooks.sort((a, b) => a.tag - b.tag),
    [
      { tag: 1, aborted: true },
      { tag: 2, aborted: false },
    ],
  );
  // The cancelled call's slot is free again: the connection keeps serving.
  assert.equal(Buffer.from(await client.call('echo', Buffer.from('after'))).toString(), 'after');
  await stop();
});

test('a handler that looks at its signal only after the connection closed finds it aborted', async () => {
  const { client, connection, gates, stop } = await start();
  void client.call('lateLook', { tag: 1 }).catch(() => undefined);
  await eventually(() => gates.length === 1, 'handler started');
  connection.destroy();
  const gate = gates[0]!;
  await eventually(() => gate.context.connection.state === 'closed', 'server side closed');
  gate.release();
  await eventually(() => gate.context.signal.aborted, 'signal aborted');
  await stop();
});

test('a handler that looks at its signal after answering finds it aborted (the call is over)', async () => {
  let context: CallContext | undefined;
  const rpc = new RpcServer(methods, {
    echo: (request, c) => {
      context = c;
      return request;
    },
    sleep: (r) => ({ tag: r.tag }),
    hang: () => ({}),
    lateLook: () => ({ aborted: false }),
  });
  const server = await listen('mem://late-look', { onConnection: (c) => rpc.serve(c) });
  const client = new RpcClient(await connect(server.address), methods);
  await client.call('echo', Buffer.from('x'));
  assert.equal(context!.signal.aborted, true);
  client.connection.destroy();
  await server.close();
});

test('outgoing chunks from the shared slab never overlap, and a trimmed tail is reused', () => {
  const a = allocateOutChunk(1000);
  a.fill(1);
  const aUsed = trimOutChunk(a, 100);
  assert.equal(aUsed.length, 100);
  const b = allocateOutChunk(500);
  b.fill(2);
  // b took the place a gave back, right after a's first 100 bytes.
  assert.equal(b.buffer, a.buffer);
  assert.equal(b.byteOffset, a.byteOffset + 100);
  assert.ok(aUsed.every((x) => x === 1));
  // Only the newest chunk can give its end back: a second trim of an older chunk changes nothing.
  const c = allocateOutChunk(300);
  trimOutChunk(b, 10);
  const d = allocateOutChunk(10);
  assert.ok(d.byteOffset >= c.byteOffset + c.length || d.buffer !== c.buffer);
  c.fill(3);
  d.fill(4);
  assert.ok(c.every((x) => x === 3));
  // Big chunks get memory of their own.
  const big = allocateOutChunk(slabChunkBytesMax + 1);
  assert.equal(big.byteOffset, 0);
  assert.equal(big.buffer.byteLength, slabChunkBytesMax + 1);
});

test('frames from many connections encoded in the same turn arrive intact', async () => {
  const rpc = new RpcServer(methods, {
    echo: async (request) => request,
    sleep: (r) => ({ tag: r.tag }),
    hang: () => ({}),
    lateLook: () => ({ aborted: false }),
  });
  const server = await listen('tcp://127.0.0.1:0', { onConnection: (c) => rpc.serve(c) });
  const clients = await Promise.all(Array.from({ length: 8 }, async () => new RpcClient(await connect(server.address), methods)));
  const payload = (i: number, k: number) => Buffer.alloc(50 + ((i * 31 + k * 17) % 3000), (i * 16 + k) & 0xff);
  const calls = clients.flatMap((client, i) => Array.from({ length: 40 }, (_, k) => client.call('echo', payload(i, k))));
  const answers = await Promise.all(calls);
  answers.forEach((answer, n) => assert.ok(Buffer.from(answer).equals(payload(Math.floor(n / 40), n % 40))));
  for (const client of clients) client.connection.destroy();
  await server.close();
});

test('received binary fields pin at most 8 KiB of memory, whatever the read size, and never overlap', async () => {
  const { client, stop } = await start({ pendingCallsMax: 1000 });
  for (const [count, size] of [
    [64, 64],
    [400, 100],
    [20, 3000],
    [3, 20_000],
  ] as const) {
    const payloads = Array.from({ length: count }, (_, i) => Buffer.alloc(size, i & 0xff));
    const answers = await Promise.all(payloads.map((p) => client.call('echo', p)));
    for (const [i, answer] of answers.entries()) {
      assert.ok(Buffer.from(answer).equals(payloads[i]!));
      // A view of a small read buffer, or a copy (in Node's 8 KiB pool, or its own memory when bigger).
      assert.ok(answer.buffer.byteLength <= Math.max(viewBackingBytesMax, answer.length), `${count} x ${size}: ${answer.buffer.byteLength}`);
    }
    // Writing to one answer touches no other.
    for (const [i, answer] of answers.entries()) answer.fill((i * 7 + 1) & 0xff);
    for (const [i, answer] of answers.entries()) assert.ok(answer.every((x) => x === ((i * 7 + 1) & 0xff)), `answer ${i}`);
  }
  await stop();
});

test('at most inflightRequestsMax handlers run per connection; reading resumes as they finish', async () => {
  const gates: (() => void)[] = [];
  let running = 0;
  let runningMax = 0;
  const rpc = new RpcServer(
    methods,
    {
      echo: (request) => request,
      sleep: async (request) => {
        running++;
        runningMax = Math.max(runningMax, running);
        await new Promise<void>((release) => gates.push(release));
        running--;
        return { tag: request.tag };
      },
      hang: () => ({}),
      lateLook: () => ({ aborted: false }),
    },
    { inflightRequestsMax: 4 },
  );
  const server = await listen('tcp://127.0.0.1:0', { onConnection: (c) => rpc.serve(c) });
  const client = new RpcClient(await connect(server.address), methods);
  const calls = Array.from({ length: 20 }, (_, tag) => client.call('sleep', { ms: 0, tag }));
  let answered = 0;
  void Promise.all(calls.map((c) => c.then(() => answered++)));
  await eventually(() => gates.length === 4, 'four handlers started');
  await new Promise((resolve) => setTimeout(resolve, 50)); // Time for more to start, were reading not paused.
  assert.equal(running, 4);
  for (let turns = 0; answered < 20; turns++) {
    assert.ok(turns < 100_000, 'calls stopped making progress');
    gates.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.deepEqual(
    (await Promise.all(calls)).map((a) => a.tag),
    Array.from({ length: 20 }, (_, tag) => tag),
  );
  assert.equal(runningMax, 4);
  client.connection.destroy();
  await server.close();
});
