/**
 * Bounds no client can exhaust (issue 12 §3): the handshake timeout, the
 * minimum receive rate for a frame in progress, the process budget for
 * partial frames, the connection cap, logged once per burst; and a flood of
 * 1,000 trickling and 10,000 idle connections from another process that the
 * timeouts close while memory stays within the budget and a normal client is
 * served throughout. Memory, not time, is what is asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  connect,
  defaultConnectionsMax,
  defineMethods,
  fdSoftLimit,
  FrameTooSlowError,
  HandshakeTimeoutError,
  InboundBudget,
  InboundBudgetExceededError,
  listen,
  RpcClient,
  RpcServer,
  s,
  type Connection,
} from '../../src/net/index.js';
import { captureLogger, eventually } from './helpers.js';

const methods = defineMethods({ echo: { id: 1, request: s.bytes(), response: s.bytes() } });

async function server(options: { budget: InboundBudget; handshakeTimeoutMs: number; rateMin: number; graceMs: number; connectionsMax?: number }) {
  const logger = captureLogger();
  const closedWith: (Error | undefined)[] = [];
  const rpc = new RpcServer(methods, { echo: (r) => r }, { logger });
  const listener = await listen('tcp://127.0.0.1:0', {
    logger,
    frameBytesMax: 16 * 1024 * 1024,
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    receiveRateMinBytesPerSec: options.rateMin,
    receiveRateGraceMs: options.graceMs,
    inboundBudget: options.budget,
    connectionsMax: options.connectionsMax,
    onConnection: (c: Connection) => {
      rpc.serve(c);
      c.onClose((error) => closedWith.push(error));
    },
  });
  const port = Number(listener.address.split(':').pop());
  return { listener, logger, closedWith, port };
}

function rawSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.on('error', reject);
  });
}
const closed = (socket: net.Socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
function framePrefix(bytes: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(bytes);
  return b;
}

test('fd limit: the default connection cap leaves room for storage', () => {
  assert.ok(fdSoftLimit() > 0);
  assert.equal(defaultConnectionsMax(20_000, 256), 9872);
  assert.equal(defaultConnectionsMax(100, 256), 16);
});

test('handshake timeout, minimum rate and partial-frame budget each close the offending connection; others are served', { timeout: 30_000 }, async () => {
  const budget = new InboundBudget(1024 * 1024);
  const { listener, logger, closedWith, port } = await server({ budget, handshakeTimeoutMs: 1500, rateMin: 10 * 1024, graceMs: 300 });
  const client = await connect(listener.address);
  const rpc = new RpcClient(client, methods, { timeoutMs: 5000 });
  try {
    assert.deepEqual([...(await rpc.call('echo', Buffer.from('hi')))], [...Buffer.from('hi')]);
    // Idle: never completes a frame.
    const idle = await rawSocket(port);
    // Trickling: a 1 MiB frame at about 200 B/s.
    const trickler = await rawSocket(port);
    trickler.write(Buffer.concat([framePrefix(1024 * 1024), Buffer.alloc(100)]));
    const drip = setInterval(() => trickler.writable && trickler.write(Buffer.alloc(10)), 50);
    // Budget: five connections each send 300 KiB of a 1 MiB frame at once (1.5 MiB > the 1 MiB budget).
    const hogs = await Promise.all([0, 1, 2, 3, 4].map(() => rawSocket(port)));
    for (const hog of hogs) hog.write(Buffer.concat([framePrefix(1024 * 1024), Buffer.alloc(300 * 1024)]));
    await Promise.all([closed(idle), closed(trickler), ...hogs.map(closed)]);
    clearInterval(drip);
    assert.ok(budget.used <= budget.partialFrameBytesMax);
    await eventually(() => budget.used === 0, 'budget released when the connections closed');
    assert.ok(closedWith.some((e) => e instanceof HandshakeTimeoutError), 'idle closed by the handshake timeout');
    assert.ok(closedWith.some((e) => e instanceof FrameTooSlowError), 'trickler closed by the rate bound');
    assert.ok(closedWith.some((e) => e instanceof InboundBudgetExceededError), 'a hog closed by the budget');
    // The normal client was not touched (it completed a frame: established; nothing partial).
    assert.deepEqual([...(await rpc.call('echo', Buffer.from('still')))], [...Buffer.from('still')]);
    // Logged once per burst, not once per connection.
    const budgetLines = logger.entries.filter((e) => /process budget/.test(e.msg));
    assert.ok(budgetLines.length >= 1 && budgetLines.length < hogs.length, `budget logged ${budgetLines.length} times`);
  } finally {
    client.destroy();
    await listener.close();
  }
});

test('connectionsMax: further connections are refused and logged once per burst', { timeout: 30_000 }, async () => {
  const { listener, logger, port } = await server({ budget: new InboundBudget(), handshakeTimeoutMs: 0, rateMin: 0, graceMs: 0, connectionsMax: 3 });
  try {
    const kept = await Promise.all([0, 1, 2].map(() => rawSocket(port)));
    await eventually(() => listener.connections.size === 3, 'three held');
    const refused = await Promise.all([0, 1, 2, 3].map(() => rawSocket(port)));
    await Promise.all(refused.map(closed));
    assert.equal(listener.connections.size, 3);
    assert.equal(logger.entries.filter((e) => /connectionsMax reached/.test(e.msg)).length, 1);
    for (const socket of kept) socket.destroy();
  } finally {
    await listener.close();
  }
});

const idleCount = 10_000;
const trickleCount = 1_000;

test(`${trickleCount} trickling and ${idleCount} idle connections: closed by the timeouts, memory within the budget, a normal client served`, { timeout: 240_000 }, async (t) => {
  // The server side holds one descriptor per connection here (the agent process holds the other ends).
  if (fdSoftLimit() < idleCount + trickleCount + 512) {
    t.skip(`soft fd limit ${fdSoftLimit()} is below ${idleCount + trickleCount + 512}; raise ulimit -n to run this test`);
    return;
  }
  const budgetBytes = 16 * 1024 * 1024;
  const budget = new InboundBudget(budgetBytes);
  const burstBytes = 128 * 1024; // 1,000 x 128 KiB = 125 MiB offered, eight times the budget
  const { listener, logger, closedWith, port } = await server({
    budget,
    // Trickling connections are judged by their rate first (2 s), idle ones by the handshake timeout (6 s).
    handshakeTimeoutMs: 6000,
    rateMin: 16 * 1024,
    graceMs: 2000,
    connectionsMax: idleCount + trickleCount + 100,
  });
  const client = await connect(listener.address);
  const rpc = new RpcClient(client, methods, { timeoutMs: 30_000 });
  // Live memory, not garbage not yet collected: sample after a full collection.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const baseline = process.memoryUsage();
  let peakArrayBuffers = baseline.arrayBuffers;
  let peakRss = baseline.rss;
  let peakBudget = 0;
  let served = 0;
  let serving = true;
  const sample = setInterval(() => {
    const m = process.memoryUsage();
    peakArrayBuffers = Math.max(peakArrayBuffers, m.arrayBuffers);
    peakRss = Math.max(peakRss, m.rss);
    peakBudget = Math.max(peakBudget, budget.used);
  }, 250);
  const normal = (async () => {
    while (serving) {
      const answer = await rpc.call('echo', Buffer.from(`n${served}`));
      assert.equal(Buffer.from(answer).toString(), `n${served}`);
      served++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    const agentPath = fileURLToPath(new URL('./flood-agent.js', import.meta.url));
    const agent = spawn(process.execPath, [agentPath, '127.0.0.1', String(port), String(idleCount), String(trickleCount), String(burstBytes)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    agent.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => agent.on('exit', resolve));
    assert.equal(code, 0);
    const report = JSON.parse(out.trim().split('\n').pop()!) as { opened: number; closedByServer: number; failedToOpen: number };
    serving = false;
    await normal;
    assert.equal(report.failedToOpen, 0, 'every connection was accepted');
    assert.equal(report.closedByServer, idleCount + trickleCount, 'the server closed every flood connection');
    await eventually(() => listener.connections.size === 1, 'only the normal client left', 30_000);
    assert.ok(served > 0, 'the normal client was served during the flood');
    assert.deepEqual([...(await rpc.call('echo', Buffer.from('after')))], [...Buffer.from('after')]);
    // Memory: partial frames never held more than the budget; live Buffers grew by at most the budget plus
    // what one read per connection may hold (64 KiB chunks, before accounting) and slack for the runtime.
    assert.ok(peakBudget <= budgetBytes, `budget peak ${peakBudget}`);
    // Garbage from dropped connections is not held; after a collection the live Buffers are back near the baseline.
    const grewArrayBuffers = peakArrayBuffers - baseline.arrayBuffers;
    // Two collections a turn apart: closed sockets release their last read buffers from a callback.
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const retainedArrayBuffers = process.memoryUsage().arrayBuffers - baseline.arrayBuffers;
    assert.ok(retainedArrayBuffers < budgetBytes, `live Buffers retained ${retainedArrayBuffers} bytes after the flood`);
    const grewRss = peakRss - baseline.rss;
    t.diagnostic(`peak: budget ${peakBudget} B, Buffers (incl. garbage) +${grewArrayBuffers} B, retained +${retainedArrayBuffers} B, RSS +${grewRss} B; normal calls served ${served}`);
    assert.ok(grewRss < 512 * 1024 * 1024, `RSS grew by ${grewRss} bytes`);
    assert.equal(budget.used, 0);
    const kinds = new Set(closedWith.map((e) => e?.constructor.name));
    assert.ok(kinds.has('HandshakeTimeoutError'), [...kinds].join());
    assert.ok(kinds.has('FrameTooSlowError') || kinds.has('InboundBudgetExceededError'), [...kinds].join());
    // One line per burst, not one per connection.
    const boundLines = logger.entries.filter((e) => /handshake|too slowly|process budget/.test(e.msg));
    assert.ok(boundLines.length < 100, `${boundLines.length} log lines for ${idleCount + trickleCount} closures`);
  } finally {
    clearInterval(sample);
    serving = false;
    client.destroy();
    await listener.close();
  }
});
