import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ConcordError } from '../../src/common/errors.js';
import {
  NetAbortedError,
  connect,
  ConnectionClosedError,
  defineMessages,
  defineMethods,
  listen,
  RemoteError,
  RpcClient,
  RpcServer,
  s,
  NetTimeoutError,
  TooManyPendingCallsError,
  type Connection,
  type Handlers,
} from '../../src/net/index.js';
import { addressFor, captureLogger, eventually, tempDir } from './helpers.js';

const methods = defineMethods({
  echo: { id: 1, request: s.bytes(), response: s.bytes() },
  sleep: { id: 2, request: s.object({ ms: s.uint(), tag: s.uint() }), response: s.object({ tag: s.uint() }) },
  fail: { id: 3, request: s.object({ kind: s.oneOf('concord', 'bug') }), response: s.object({}) },
  hang: { id: 4, request: s.object({}), response: s.object({}) },
});

class NotLeaderError extends ConcordError {
  readonly details: { leaderHint: string };
  constructor(leaderHint: string) {
    super('CONCORD_ERR_NOT_LEADER', 'not the leader');
    this.details = { leaderHint };
  }
}

const dir = tempDir();
after(() => dir.remove());

async function start(transport: 'tcp' | 'unix' | 'mem', extra: Partial<Handlers<typeof methods>> = {}) {
  const hangSignals: AbortSignal[] = [];
  const logger = captureLogger();
  const handlers: Handlers<typeof methods> = {
    echo: async (request) => request,
    sleep: (request) => new Promise((resolve) => setTimeout(() => resolve({ tag: request.tag }), request.ms)),
    fail: (request) => {
      if (request.kind === 'concord') throw new NotLeaderError('n2');
      throw new RangeError('index out of range');
    },
    hang: (_request, context) =>
      new Promise((_resolve, reject) => {
        hangSignals.push(context.signal);
        context.signal.addEventListener('abort', () => reject(context.signal.reason));
      }),
    ...extra,
  };
  const rpc = new RpcServer(methods, handlers, { logger });
  const server = await listen(addressFor(transport, dir.path), { onConnection: (c) => rpc.serve(c), logger });
  const connection = await connect(server.address);
  const client = new RpcClient(connection, methods, { pendingCallsMax: 8 });
  return {
    server,
    client,
    connection,
    hangSignals,
    logger,
    async stop() {
      connection.destroy();
      await server.close();
    },
  };
}

for (const transport of ['tcp', 'unix', 'mem'] as const) {
  test(`call and answer over ${transport}`, async () => {
    const { client, stop } = await start(transport);
    const answer = await client.call('echo', Buffer.from('ping'));
    assert.equal(Buffer.from(answer).toString(), 'ping');
    await stop();
  });
}

test('pipelined calls are answered out of order and matched by id', async () => {
  const { client, stop } = await start('tcp');
  const order: number[] = [];
  const calls = [50, 30, 10, 0].map((ms, tag) =>
    client.call('sleep', { ms, tag }).then((answer) => {
      order.push(answer.tag);
      return answer.tag;
    }),
  );
  assert.deepEqual(await Promise.all(calls), [0, 1, 2, 3]);
  assert.deepEqual(order, [3, 2, 1, 0]);
  await stop();
});

test("a handler's ConcordError reaches the caller as RemoteError with code, message and details", async () => {
  const { client, stop } = await start('tcp');
  await assert.rejects(client.call('fail', { kind: 'concord' }), (error: unknown) => {
    assert.ok(error instanceof RemoteError);
    assert.equal(error.code, 'CONCORD_ERR_NOT_LEADER');
    assert.equal(error.message, 'not the leader');
    assert.deepEqual(error.details, { leaderHint: 'n2' });
    assert.equal(error.method, 'fail');
    return true;
  });
  await stop();
});

test('any other handler error is CONCORD_ERR_INTERNAL for the caller and logged on the server', async () => {
  const { client, logger, stop } = await start('tcp');
  await assert.rejects(client.call('fail', { kind: 'bug' }), { name: 'RemoteError', code: 'CONCORD_ERR_INTERNAL', message: 'index out of range' });
  assert.equal(logger.entries.filter((e) => e.msg.includes('non-Concord')).length, 1);
  // The connection still works.
  assert.equal(Buffer.from(await client.call('echo', Buffer.from('x'))).toString(), 'x');
  await stop();
});

test('timeoutMs rejects with NetTimeoutError and aborts the handler through its signal', async () => {
  const { client, hangSignals, stop } = await start('tcp');
  await assert.rejects(client.call('hang', {}, { timeoutMs: 30 }), NetTimeoutError);
  await eventually(() => hangSignals.length === 1 && hangSignals[0]!.aborted, 'handler signal aborted');
  assert.equal(client.pendingCalls, 0);
  await stop();
});

test('an AbortSignal cancels a call, before or during', async () => {
  const { client, hangSignals, stop } = await start('tcp');
  const before = new AbortController();
  before.abort();
  await assert.rejects(client.call('hang', {}, { signal: before.signal }), NetAbortedError);
  const during = new AbortController();
  const call = client.call('hang', {}, { signal: during.signal });
  await eventually(() => hangSignals.length === 1, 'handler started');
  during.abort();
  await assert.rejects(call, NetAbortedError);
  await eventually(() => hangSignals[0]!.aborted, 'handler signal aborted');
  await stop();
});

test('more than pendingCallsMax waiting calls is TooManyPendingCallsError', async () => {
  const { client, stop } = await start('tcp');
  const waiting = Array.from({ length: 8 }, () => client.call('hang', {}).then(() => undefined, (error: unknown) => error));
  await assert.rejects(client.call('echo', Buffer.alloc(1)), TooManyPendingCallsError);
  await stop();
  for (const outcome of await Promise.all(waiting)) assert.ok(outcome instanceof ConnectionClosedError);
});

test('a lost connection rejects every pending call with ConnectionClosedError', async () => {
  let serverSide: Connection | undefined;
  const rpc = new RpcServer(methods, {
    echo: (r) => r,
    sleep: () => new Promise(() => {}),
    fail: () => ({}),
    hang: () => new Promise(() => {}),
  });
  const server = await listen('tcp://127.0.0.1:0', {
    onConnection(connection) {
      serverSide = connection;
      rpc.serve(connection);
    },
  });
  const client = new RpcClient(await connect(server.address), methods);
  const calls = [client.call('hang', {}), client.call('sleep', { ms: 1, tag: 1 }), client.call('hang', {})];
  await eventually(() => serverSide !== undefined, 'accepted');
  serverSide!.destroy(); // The server goes away abruptly.
  for (const call of calls) await assert.rejects(call, ConnectionClosedError);
  await assert.rejects(client.call('echo', Buffer.alloc(1)), ConnectionClosedError);
  await server.close();
});

test('an unknown method gets CONCORD_ERR_UNKNOWN_METHOD and the connection stays open', async () => {
  const { server, stop } = await start('tcp');
  const newer = defineMethods({ ...methods.byName && {}, brandNew: { id: 99, request: s.object({}), response: s.object({}) } });
  const connection = await connect(server.address);
  const client = new RpcClient(connection, newer);
  await assert.rejects(client.call('brandNew', {}), { name: 'RemoteError', code: 'CONCORD_ERR_UNKNOWN_METHOD' });
  assert.equal(connection.state, 'open');
  connection.destroy();
  await stop();
});

test('one connection carries one-way messages and RPC in both directions', async () => {
  const messages = defineMessages({ Note: { id: 1, schema: s.object({ text: s.string() }) } });
  const notes: string[] = [];
  const rpc = new RpcServer(methods, {
    echo: (r) => r,
    sleep: (r) => ({ tag: r.tag }),
    fail: () => ({}),
    hang: () => ({}),
  });
  let serverClient: RpcClient<typeof methods> | undefined;
  const server = await listen('mem://both-ways', {
    messages,
    onConnection(connection) {
      rpc.serve(connection);
      serverClient = new RpcClient(connection, methods);
      connection.setMessageHandler((m) => notes.push(m.body.text));
    },
  });
  const connection = await connect(server.address, { messages });
  rpc.serve(connection);
  const client = new RpcClient(connection, methods);
  connection.post({ type: 'Note', body: { text: 'hello' } });
  assert.deepEqual(await client.call('sleep', { ms: 0, tag: 5 }), { tag: 5 });
  await eventually(() => serverClient !== undefined && notes.length === 1, 'note delivered');
  assert.deepEqual(await serverClient!.call('sleep', { ms: 0, tag: 6 }), { tag: 6 });
  await connection.close();
  await server.close();
});

test('an answer over frameBytesMax becomes a RemoteError for that call only', async () => {
  const rpc = new RpcServer(methods, {
    echo: (r) => Buffer.concat([r, r]),
    sleep: (r) => ({ tag: r.tag }),
    fail: () => ({}),
    hang: () => ({}),
  });
  const server = await listen('tcp://127.0.0.1:0', { frameBytesMax: 4096, onConnection: (c) => rpc.serve(c) });
  const client = new RpcClient(await connect(server.address), methods);
  await assert.rejects(client.call('echo', Buffer.alloc(3000)), { name: 'RemoteError', code: 'CONCORD_ERR_FRAME_TOO_LARGE' });
  assert.deepEqual(await client.call('sleep', { ms: 0, tag: 1 }), { tag: 1 });
  client.connection.destroy();
  await server.close();
});
