import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  connect,
  ConnectError,
  ConnectionClosedError,
  defineMessages,
  FrameTooLargeError,
  listen,
  s,
  SendQueueFullError,
  NetTimeoutError,
  type Connection,
} from '../../src/net/index.js';
import { addressFor, eventually, tempDir } from './helpers.js';

const messages = defineMessages({
  Ping: { id: 1, schema: s.object({ seq: s.uint(), note: s.optional(s.string()) }) },
  Blob: { id: 2, schema: s.object({ data: s.bytes() }) },
});

const dir = tempDir();
after(() => dir.remove());

/** A server that echoes every message back (push mode). */
async function echoServer(address: string, options: Parameters<typeof listen<typeof messages>>[1] | object = {}) {
  return listen(address, {
    messages,
    onConnection(connection) {
      connection.setMessageHandler((message) => connection.post(message));
    },
    ...options,
  });
}

for (const transport of ['tcp', 'unix', 'mem'] as const) {
  describe(`connection over ${transport}`, () => {
    test('send and receive typed messages, in order', async () => {
      const server = await echoServer(addressFor(transport, dir.path));
      const connection = await connect(server.address, { messages });
      for (let seq = 0; seq < 100; seq++) void connection.send({ type: 'Ping', body: { seq } });
      for (let seq = 0; seq < 100; seq++) {
        const message = await connection.receive({ timeoutMs: 10_000 });
        assert.deepEqual(message, { type: 'Ping', body: { seq } });
      }
      await connection.send({ type: 'Blob', body: { data: Buffer.from('bytes survive') } });
      const blob = await connection.receive();
      assert.equal(blob.type, 'Blob');
      if (blob.type === 'Blob') assert.equal(Buffer.from(blob.body.data).toString(), 'bytes survive');
      await connection.close();
      await server.close();
    });

    test('for await iterates until the peer closes gracefully', async () => {
      const server = await listen(addressFor(transport, dir.path), {
        messages,
        async onConnection(connection) {
          for (let seq = 0; seq < 5; seq++) connection.post({ type: 'Ping', body: { seq } });
          await connection.close();
        },
      });
      const connection = await connect(server.address, { messages });
      const seen: number[] = [];
      for await (const message of connection) if (message.type === 'Ping') seen.push(message.body.seq);
      assert.deepEqual(seen, [0, 1, 2, 3, 4]);
      await server.close();
    });

    test('a large message crosses intact', async () => {
      const server = await echoServer(addressFor(transport, dir.path));
      const connection = await connect(server.address, { messages });
      const data = Buffer.alloc(3 * 1024 * 1024);
      for (let i = 0; i < data.length; i += 4096) data[i] = i & 0xff;
      await connection.send({ type: 'Blob', body: { data } });
      const echoed = await connection.receive();
      assert.ok(echoed.type === 'Blob' && Buffer.from(echoed.body.data).equals(data));
      await connection.close();
      await server.close();
    });

    test('destroy rejects waiting receivers with ConnectionClosedError carrying the cause', async () => {
      const server = await echoServer(addressFor(transport, dir.path));
      const connection = await connect(server.address, { messages });
      const waiting = connection.receive();
      const reason = new Error('shutting down');
      connection.destroy(reason);
      await assert.rejects(waiting, (error: unknown) => error instanceof ConnectionClosedError && error.cause === reason);
      assert.throws(() => connection.post({ type: 'Ping', body: { seq: 1 } }), ConnectionClosedError);
      await server.close();
    });

    test('the server side sees the client go away', async () => {
      let serverSide: Connection<typeof messages> | undefined;
      const server = await listen(addressFor(transport, dir.path), { messages, onConnection: (c) => (serverSide = c) });
      const connection = await connect(server.address, { messages });
      await eventually(() => serverSide !== undefined, 'accepted');
      const closed = serverSide!.whenClosed();
      connection.destroy();
      await closed;
      assert.equal(server.connections.size, 0);
      await server.close();
    });
  });
}

test('receive times out with NetTimeoutError and the connection stays usable', async () => {
  const server = await echoServer(addressFor('tcp', dir.path));
  const connection = await connect(server.address, { messages });
  await assert.rejects(connection.receive({ timeoutMs: 20 }), NetTimeoutError);
  connection.post({ type: 'Ping', body: { seq: 9 } });
  assert.deepEqual(await connection.receive(), { type: 'Ping', body: { seq: 9 } });
  await connection.close();
  await server.close();
});

test('receive honours an AbortSignal', async () => {
  const server = await echoServer(addressFor('mem', dir.path));
  const connection = await connect(server.address, { messages });
  const controller = new AbortController();
  const waiting = connection.receive({ signal: controller.signal });
  controller.abort();
  await assert.rejects(waiting, { code: 'CONCORD_ERR_NET_ABORTED' });
  await connection.close();
  await server.close();
});

test('messages sent in one turn leave in one write (one syscall)', async () => {
  const server = await echoServer(addressFor('tcp', dir.path));
  const connection = await connect(server.address, { messages });
  // Count the stream's calls down to the handle: each _write or _writev is one (v)write syscall.
  const socket = (connection as unknown as { socket: Record<string, (...args: unknown[]) => unknown> }).socket;
  let syscalls = 0;
  for (const name of ['_write', '_writev'] as const) {
    const original = socket[name]!;
    socket[name] = function (this: unknown, ...args: unknown[]) {
      syscalls++;
      return original.apply(this, args);
    };
  }
  for (let seq = 0; seq < 500; seq++) connection.post({ type: 'Ping', body: { seq, note: 'coalesced' } });
  await connection.send({ type: 'Ping', body: { seq: 500 } });
  assert.equal(syscalls, 1);
  for (let seq = 0; seq < 500; seq++) assert.deepEqual(await connection.receive(), { type: 'Ping', body: { seq, note: 'coalesced' } });
  assert.deepEqual(await connection.receive(), { type: 'Ping', body: { seq: 500 } });
  await connection.close();
  await server.close();
});

test('an outgoing frame over frameBytesMax is refused with FrameTooLargeError', async () => {
  const server = await echoServer(addressFor('mem', dir.path));
  const connection = await connect(server.address, { messages, frameBytesMax: 1024 });
  await assert.rejects(connection.send({ type: 'Blob', body: { data: Buffer.alloc(2048) } }), FrameTooLargeError);
  await connection.send({ type: 'Blob', body: { data: Buffer.alloc(100) } });
  await connection.close();
  await server.close();
});

test('a peer that does not read: sends queue up to sendQueueBytesMax, then SendQueueFullError', async () => {
  let serverSide: Connection<typeof messages> | undefined;
  const server = await listen(addressFor('tcp', dir.path), {
    messages,
    onConnection(connection) {
      serverSide = connection;
      connection.pauseReceiving(); // The server never reads.
    },
  });
  const frameBytesMax = 64 * 1024;
  const sendQueueBytesMax = 1024 * 1024;
  const connection = await connect(server.address, { messages, frameBytesMax, sendQueueBytesMax });
  await eventually(() => serverSide !== undefined, 'accepted');
  const data = Buffer.alloc(60 * 1024);
  let full: unknown;
  // Bounded: kernel buffers hold at most a few MB on loopback; 100,000 frames would be 6 GB.
  for (let i = 0; i < 100_000 && full === undefined; i++) {
    try {
      connection.post({ type: 'Blob', body: { data } });
    } catch (error) {
      full = error;
    }
    if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(full instanceof SendQueueFullError, String(full));
  assert.ok(connection.sendQueuedBytes <= sendQueueBytesMax);
  connection.destroy();
  await server.close();
});

test('a client that does not read: the receive queue bound pauses the socket', async () => {
  const server = await listen(addressFor('tcp', dir.path), {
    messages,
    onConnection(connection) {
      // Flood the client, respecting our own backpressure.
      void (async () => {
        for (let seq = 0; seq < 20_000 && connection.state === 'open'; seq++) {
          await connection.send({ type: 'Ping', body: { seq } }).catch(() => {});
        }
      })();
    },
  });
  const receiveQueueMessagesMax = 100;
  const connection = await connect(server.address, { messages, receiveQueueMessagesMax });
  await eventually(() => connection.receivingPaused, 'the client paused reading');
  const queued = connection.receiveQueuedMessages;
  // At most the bound plus what one read chunk held (64 KiB of ~8-byte frames).
  assert.ok(queued >= receiveQueueMessagesMax && queued < receiveQueueMessagesMax + 10_000, String(queued));
  // Reading drains the queue and resumes.
  let seq = 0;
  while (seq < 20_000) {
    const message = await connection.receive({ timeoutMs: 10_000 });
    assert.deepEqual(message, { type: 'Ping', body: { seq: seq++ } });
  }
  await connection.close();
  await server.close();
});

test('connecting to nothing is ConnectError', async () => {
  await assert.rejects(connect('tcp://127.0.0.1:1'), ConnectError);
  await assert.rejects(connect(`unix://${dir.path}/nobody.sock`), ConnectError);
  await assert.rejects(connect('mem://nobody-here'), ConnectError);
});

test('listen on a unix path left behind by a dead process replaces it', async () => {
  const path = `${dir.path}/stale.sock`;
  const first = await echoServer(`unix://${path}`);
  // Simulate a crash: the socket file stays but nobody listens.
  const { createServer } = await import('node:net');
  await first.close();
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(path, resolve));
  holder.close(); // node leaves no file behind on close, so create a stale one by hand:
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path, '');
  const second = await echoServer(`unix://${path}`);
  const connection = await connect(second.address, { messages });
  connection.post({ type: 'Ping', body: { seq: 1 } });
  assert.deepEqual(await connection.receive(), { type: 'Ping', body: { seq: 1 } });
  await connection.close();
  await second.close();
});
