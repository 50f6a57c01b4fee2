import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConnectionClosedError,
  defineMessages,
  defineMethods,
  listen,
  PeerLink,
  PeerLinkState,
  RpcServer,
  s,
  type Listener,
} from '../../src/net/index.js';
import type { RandomSource } from '../../src/common/rng.js';
import { eventually, ManualClock } from './helpers.js';

const messages = defineMessages({
  Append: { id: 1, schema: s.object({ term: s.uint(), index: s.uint() }) },
  AppendAck: { id: 2, schema: s.object({ index: s.uint() }) },
});
const methods = defineMethods({ status: { id: 1, request: s.object({}), response: s.object({ ok: s.bool() }) } });

/** A peer that records appends and acknowledges each on the same connection. */
async function peer(address: string, received: number[]): Promise<Listener<typeof messages>> {
  const rpc = new RpcServer(methods, { status: () => ({ ok: true }) });
  return listen(address, {
    messages,
    onConnection(connection) {
      rpc.serve(connection);
      connection.setMessageHandler((message) => {
        if (message.type !== 'Append') return;
        received.push(message.body.index);
        connection.post({ type: 'AppendAck', body: { index: message.body.index } });
      });
    },
  });
}

test('a link connects, sends one-way, receives replies, calls, and reports its states', async () => {
  const received: number[] = [];
  const acks: number[] = [];
  const server = await peer('tcp://127.0.0.1:0', received);
  const states: string[] = [];
  const link = new PeerLink(server.address, {
    messages,
    methods,
    onStateChange: (state) => states.push(state),
    onMessage: (message) => {
      if (message.type === 'AppendAck') acks.push(message.body.index);
    },
  });
  assert.equal(link.state, PeerLinkState.Connecting);
  await eventually(() => link.state === PeerLinkState.Connected, 'connected');
  for (let index = 1; index <= 100; index++) assert.equal(link.send({ type: 'Append', body: { term: 1, index } }), true);
  await eventually(() => acks.length === 100, 'acks');
  assert.deepEqual(received, Array.from({ length: 100 }, (_, i) => i + 1));
  assert.deepEqual(await link.call('status', {}), { ok: true });
  await link.close();
  assert.deepEqual(states, ['connected', 'closed']);
  assert.equal(link.send({ type: 'Append', body: { term: 1, index: 101 } }), false);
  await server.close();
});

test('drop mode: while the peer is down, send() returns false at once; the link reconnects with backoff', async () => {
  const received: number[] = [];
  const address = 'mem://peer-drop';
  const states: string[] = [];
  const link = new PeerLink(address, { messages, backoffInitialMs: 5, backoffMaxMs: 20 });
  link.on('state', (state) => states.push(state));
  await eventually(() => link.stats.connects === 0 && states.includes('backoff'), 'backing off');
  assert.equal(link.send({ type: 'Append', body: { term: 1, index: 1 } }), false);
  assert.equal(link.stats.droppedMessages, 1);
  await assert.rejects(link.call('status' as never, {} as never), ConnectionClosedError);
  const server = await peer(address, received);
  await eventually(() => link.state === PeerLinkState.Connected, 'reconnected');
  link.send({ type: 'Append', body: { term: 1, index: 2 } });
  await eventually(() => received.length === 1, 'delivered');
  assert.deepEqual(received, [2]);
  // The peer goes away: the link notices and backs off again, then comes back.
  for (const connection of server.connections) connection.destroy();
  await server.close();
  await eventually(() => link.state === PeerLinkState.Backoff || link.state === PeerLinkState.Connecting, 'lost');
  const again = await peer(address, received);
  await eventually(() => link.state === PeerLinkState.Connected, 'reconnected again');
  assert.equal(link.stats.connects, 2);
  await link.close();
  await again.close();
});

test('queue mode: messages wait (up to queueMessagesMax) and are delivered in order on connect', async () => {
  const received: number[] = [];
  const address = 'mem://peer-queue';
  const link = new PeerLink(address, {
    messages,
    whenDisconnected: 'queue',
    queueMessagesMax: 3,
    backoffInitialMs: 5,
    backoffMaxMs: 10,
  });
  await eventually(() => link.state === PeerLinkState.Backoff, 'backing off');
  const accepted = [1, 2, 3, 4, 5].map((index) => link.send({ type: 'Append', body: { term: 2, index } }));
  assert.deepEqual(accepted, [true, true, true, false, false]);
  assert.deepEqual(link.stats, { sentMessages: 0, droppedMessages: 2, queuedMessages: 3, connects: 0 });
  const server = await peer(address, received);
  await eventually(() => received.length === 3, 'queued messages delivered');
  assert.deepEqual(received, [1, 2, 3]);
  await link.close();
  await server.close();
});

/** A RandomSource that returns the given floats in turn. */
function scripted(floats: number[]): RandomSource {
  return { nextFloat: () => floats.shift()!, nextInt: () => 0 };
}

test('reconnects wait a full-jitter backoff: drawn from the injected randomness, timed by the injected clock', async () => {
  const clock = new ManualClock();
  const almostOne = 1 - 2 ** -32;
  const link = new PeerLink('mem://peer-nobody-listens', {
    messages,
    clock,
    random: scripted([0.5, 0.25, almostOne, almostOne, 0.1, 0.5]),
    backoffInitialMs: 10,
    backoffMaxMs: 40,
  });
  // Ceilings 10, 20, 40, 40 (capped), 40; each wait is the draw times the ceiling.
  const waits: number[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    await eventually(() => link.state === PeerLinkState.Backoff && clock.pendingDelaysMs.length === 1, `backoff ${attempt}`);
    waits.push(clock.pendingDelaysMs[0]!);
    // Short of the wait nothing happens; at the wait the link tries again.
    if (waits[attempt]! > 1) {
      await clock.advance(waits[attempt]! - 1);
      assert.equal(link.state, PeerLinkState.Backoff);
    }
    await clock.advance(1);
    await eventually(() => link.state !== PeerLinkState.Backoff || clock.pendingDelaysMs.length === 1, `attempt ${attempt + 1}`);
  }
  assert.deepEqual(waits.map(Math.round), [5, 5, 40, 40, 4]);
  assert.equal(link.stats.connects, 0);
  await link.close();
  assert.deepEqual(clock.pendingDelaysMs, []); // close cancels the pending reconnect
});
