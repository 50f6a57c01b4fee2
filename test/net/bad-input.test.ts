/**
 * Bad input: each kind closes that one connection with a clear, typed error,
 * logged once with the remote address, and the server keeps serving others.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { Packr } from 'msgpackr';
import {
  connect,
  DecodeError,
  defineMessages,
  defineMethods,
  FrameTooLargeError,
  IdleTimeoutError,
  listen,
  RpcClient,
  RpcServer,
  s,
  UnknownMessageError,
  type Connection,
} from '../../src/net/index.js';
import { blockedBytesMax } from '../../src/net/frame-writer.js';
import { captureLogger, eventually, tempDir } from './helpers.js';

const messages = defineMessages({
  Put: { id: 1, schema: s.object({ key: s.string(), value: s.bytes() }) },
});
const methods = defineMethods({
  echo: { id: 1, request: s.bytes(), response: s.bytes() },
  big: { id: 2, request: s.object({ bytes: s.uint() }), response: s.bytes() },
});
const packr = new Packr({ useRecords: false });

/** A server with one-way messages and RPC, a capturing logger, and the errors its connections closed with. */
async function startServer(options: { idleTimeoutMs?: number; frameBytesMax?: number; address?: string } = {}) {
  const logger = captureLogger();
  const closedWith: Error[] = [];
  const rpc = new RpcServer(methods, { echo: (r) => r, big: (r) => Buffer.alloc(r.bytes) }, { logger });
  const server = await listen(options.address ?? 'tcp://127.0.0.1:0', {
    messages,
    logger,
    frameBytesMax: options.frameBytesMax ?? 1024 * 1024,
    idleTimeoutMs: options.idleTimeoutMs,
    onConnection(connection) {
      rpc.serve(connection);
      connection.setMessageHandler(() => {});
      connection.onClose((error) => {
        if (error) closedWith.push(error);
      });
    },
  });
  const port = Number(server.address.split(':').pop());
  return { server, logger, closedWith, port };
}

/** Open a raw socket, write `bytes`, and wait for the server to close it. */
async function sendRaw(port: number, bytes: Buffer): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise((resolve) => socket.once('connect', resolve));
  const local = `tcp://127.0.0.1:${socket.localPort}`;
  socket.on('error', () => {}); // A reset is one way the server may close it.
  socket.write(bytes);
  socket.resume();
  await new Promise((resolve) => socket.once('close', resolve));
  return local;
}

function frame(kind: number, header: number[], body: Buffer): Buffer {
  const head = Buffer.from([kind, ...header]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(head.length + body.length, 0);
  return Buffer.concat([length, head, body]);
}

/** The server still answers a well-behaved client. */
async function stillServes(address: string): Promise<void> {
  const client = new RpcClient(await connect(address), methods);
  assert.equal(Buffer.from(await client.call('echo', Buffer.from('ok'), { timeoutMs: 10_000 })).toString(), 'ok');
  client.connection.destroy();
}

async function expectRejected(
  bytes: Buffer,
  errorClass: new (...args: never[]) => Error,
  check: (error: Error) => void = () => {},
): Promise<void> {
  const { server, logger, closedWith, port } = await startServer();
  const bystander = await connect(server.address, { messages });
  const remote = await sendRaw(port, bytes);
  await eventually(() => closedWith.length === 1, 'the bad connection closed');
  const error = closedWith[0]!;
  assert.ok(error instanceof errorClass, `${error.name}: ${error.message}`);
  check(error);
  const warnings = logger.entries.filter((e) => e.level === 'warn');
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.equal(warnings[0]!.obj.remoteAddress, remote);
  assert.equal((warnings[0]!.obj.err as { code: string }).code, (error as Error & { code: string }).code);
  assert.equal(bystander.state, 'open');
  await stillServes(server.address);
  bystander.destroy();
  await server.close();
}

test('garbage bytes: DecodeError, connection closed, logged once', async () => {
  // A plausible length followed by nonsense: an unknown frame kind.
  await expectRejected(Buffer.from([0, 0, 0, 5, 0xee, 0xff, 0x00, 0x13, 0x37]), DecodeError, (error) =>
    assert.match(error.message, /unknown frame kind 238/),
  );
});

test('random garbage (HTTP request) is rejected without harming others', async () => {
  // "GET " read as a length prefix is 1195725856 bytes, over frameBytesMax.
  await expectRejected(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), FrameTooLargeError);
});

test('a length prefix over frameBytesMax: FrameTooLargeError before the body is read', async () => {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(1024 * 1024 + 1, 0);
  await expectRejected(prefix, FrameTooLargeError, (error) => assert.equal((error as FrameTooLargeError).frameBytes, 1024 * 1024 + 1));
});

test('an unknown message id: UnknownMessageError', async () => {
  await expectRejected(frame(0, [0x01, 0x2c], packr.pack({ key: 'k' })), UnknownMessageError, (error) =>
    assert.equal((error as UnknownMessageError).messageId, 300),
  );
});

test('a truncated body: DecodeError naming the message', async () => {
  const body = packr.pack({ key: 'k', value: Buffer.alloc(10) });
  await expectRejected(frame(0, [0x00, 0x01], body.subarray(0, body.length - 4)), DecodeError, (error) => {
    assert.equal((error as DecodeError).messageName, 'Put');
    assert.match(error.message, /^Put: malformed MessagePack body/);
  });
});

test('a body of the wrong shape: DecodeError naming message and field', async () => {
  await expectRejected(frame(0, [0x00, 0x01], packr.pack({ key: 'k', value: 'not bytes' })), DecodeError, (error) => {
    assert.equal((error as DecodeError).messageName, 'Put');
    assert.equal((error as DecodeError).path, 'value');
    assert.equal(error.message, 'Put.value: expected bytes, found string "not bytes"');
  });
});

test('an RPC request of the wrong shape: the caller is told why, then the connection closes', async () => {
  const { server, logger, closedWith } = await startServer();
  const liar = defineMethods({ big: { id: 2, request: s.object({ bytes: s.string() }), response: s.bytes() } });
  const client = new RpcClient(await connect(server.address), liar);
  await assert.rejects(client.call('big', { bytes: 'many' }), {
    name: 'RemoteError',
    code: 'CONCORD_ERR_DECODE',
    message: 'big request.bytes: expected unsigned integer, found string "many"',
  });
  await eventually(() => closedWith.length === 1, 'closed');
  assert.ok(closedWith[0] instanceof DecodeError);
  assert.equal(logger.entries.filter((e) => e.level === 'warn').length, 1);
  await stillServes(server.address);
  await server.close();
});

test('half a frame, then silence: IdleTimeoutError closes the connection', async () => {
  const { server, logger, closedWith, port } = await startServer({ idleTimeoutMs: 200 });
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.on('error', () => {});
  const local = `tcp://127.0.0.1:${socket.localPort}`;
  const half = frame(0, [0x00, 0x01], packr.pack({ key: 'k', value: Buffer.alloc(100) }));
  socket.write(half.subarray(0, 50));
  await new Promise((resolve) => socket.once('close', resolve));
  assert.equal(closedWith.length, 1);
  assert.ok(closedWith[0] instanceof IdleTimeoutError);
  const warnings = logger.entries.filter((e) => e.level === 'warn');
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.obj.remoteAddress, local);
  assert.equal(warnings[0]!.obj.partialFrameBytes, 46); // The 50 bytes sent minus the 4-byte length prefix.
  await stillServes(server.address);
  await server.close();
});

/** How many connections this test may open: both ends live in this process. */
function connectionBudget(wanted: number): number {
  const limit = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
  return Number.isFinite(limit) ? Math.max(50, Math.min(wanted, Math.floor((limit - 256) / 2))) : 400;
}

test('thousands of connections that send requests and never read: server memory stays bounded', async () => {
  // Unix sockets: the kernel buffers a bounded ~200 KiB per connection, and
  // accepting thousands does not run into TCP memory pressure on loopback.
  const dir = tempDir();
  const { server } = await startServer({ address: `unix://${dir.path}/flood.sock` });
  const path = `${dir.path}/flood.sock`;
  const connectionsWanted = connectionBudget(2000);
  const answerBytes = 8 * 1024;
  const requestsPerConnection = 128; // 1 MiB of answers each: more than the kernel and our backlog bound hold.
  const request = Buffer.concat(
    Array.from({ length: requestsPerConnection }, (_, callId) => {
      const body = packr.pack({ bytes: answerBytes });
      const head = Buffer.alloc(4 + 7);
      head.writeUInt32BE(7 + body.length, 0);
      head[4] = 1; // Request
      head.writeUInt32BE(callId, 5);
      head.writeUInt16BE(2, 9); // method "big"
      return Buffer.concat([head, body]);
    }),
  );
  const sockets: net.Socket[] = [];
  try {
    for (let i = 0; i < connectionsWanted; i++) {
      const socket = net.connect({ path });
      socket.on('error', () => {});
      socket.pause(); // Never read.
      socket.write(request);
      sockets.push(socket);
      if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    await eventually(() => server.connections.size === connectionsWanted, 'all connections accepted', 60_000);
    const connections = [...server.connections] as Connection<typeof messages>[];
    // Every connection ends up paused: the server stops reading requests whose answers it cannot deliver.
    await eventually(() => connections.every((c) => c.receivingPaused), 'every connection paused', 60_000);
    // Per connection, the answers waiting in memory stay near the backlog bound
    // (one answer may cross it), never the 1 MiB each client asked for.
    const perConnectionMax = blockedBytesMax + answerBytes + 64;
    for (const c of connections) assert.ok(c.sendQueuedBytes <= perConnectionMax, String(c.sendQueuedBytes));
    const queuedBytes = connections.reduce((sum, c) => sum + c.sendQueuedBytes, 0);
    assert.ok(queuedBytes <= connectionsWanted * perConnectionMax);
    // And everyone else is still served.
    await stillServes(server.address);
  } finally {
    for (const socket of sockets) socket.destroy();
    await server.close();
    dir.remove();
  }
});
