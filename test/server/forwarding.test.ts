/**
 * A follower forwarding a client request to the leader: what the client is
 * told when forwarding fails. Exactly-once depends on the difference: a
 * refusal before anything was sent is NotLeader (the write surely did not
 * apply), a link lost after the request left is LeaderChanged (it may have).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { listen, RpcServer, type Connection, type Handlers } from '../../src/net/index.js';
import { clientMethods, ErrorCode, type ClientMethods } from '../../src/protocol/index.js';
import { systemClock, systemRandom } from '../../src/common/system-clock.js';
import { PeerNetwork } from '../../src/server/peer-network.js';
import { peerMessages, type PeerMessages } from '../../src/server/peer-protocol.js';
import { StartingIdentity } from '../../src/server/member-status.js';
import { MessageType, type HeartbeatMessage } from '../../src/raft/index.js';

const silent = pino({ level: 'silent' });
let unique = 0;

function follower(leaderUrl: string, leader: string | null = 'n2'): PeerNetwork {
  const selfUrl = `mem://forwarding-n1-${process.pid}-${unique++}`;
  const peers = new PeerNetwork({
    identity: new StartingIdentity('n1', selfUrl, 'mem://client-n1', 'test'),
    cluster: { n1: selfUrl, n2: leaderUrl },
    helloIntervalMs: 60_000,
    frameBytesMax: 1 << 20,
    logger: silent,
    clock: systemClock,
    random: systemRandom,
  });
  peers.start({ receive: () => {}, leaderId: () => leader, logState: () => ({ term: 0, lastLogIndex: 0 }), currentTerm: () => 0 });
  return peers;
}

const put = { key: new Uint8Array([1]), value: new Uint8Array([2]), session: { sessionId: 1, seq: 1, ackedSeq: 0 } };

test('the link to the leader drops after the write was sent: LeaderChanged (outcome unknown), not NotLeader', async () => {
  const leaderUrl = `mem://forwarding-leader-${process.pid}-${unique++}`;
  let received = 0;
  let helloSeen!: () => void;
  const linked = new Promise<void>((resolve) => (helloSeen = resolve));
  const handlers = {
    'kv.put': (_request: unknown, context: { connection: Connection<any> }) => {
      received++;
      // The leader got the request (and may apply it); then the connection dies before any answer.
      setImmediate(() => context.connection.destroy());
      return new Promise(() => {});
    },
  } as unknown as Handlers<ClientMethods>;
  const rpc = new RpcServer(clientMethods, handlers, { logger: silent });
  const listener = await listen<PeerMessages>(leaderUrl, {
    messages: peerMessages,
    logger: silent,
    onConnection: (connection) => {
      connection.setMessageHandler((message) => {
        if (message.type === 'hello') helloSeen();
      });
      rpc.serve(connection);
    },
  });
  const peers = follower(leaderUrl);
  try {
    await linked;
    await assert.rejects(peers.forward('kv.put', put, performance.now() + 10_000), (error: { code?: string }) => error.code === ErrorCode.LeaderChanged);
    assert.equal(received, 1, 'the leader had the request');
  } finally {
    await peers.close();
    await listener.close();
  }
});

test('nothing sent (no leader known, or the leader unreachable): NotLeader', async () => {
  const nobody = `mem://forwarding-nobody-${process.pid}-${unique++}`;
  const unreachable = follower(nobody);
  const leaderless = follower(nobody, null);
  try {
    await assert.rejects(unreachable.forward('kv.put', put, performance.now() + 10_000), (error: { code?: string }) => error.code === ErrorCode.NotLeader);
    await assert.rejects(leaderless.forward('kv.put', put, performance.now() + 10_000), (error: { code?: string }) => error.code === ErrorCode.NotLeader);
  } finally {
    await unreachable.close();
    await leaderless.close();
  }
});

test('each Raft message a peer sends reaches the core exactly once, and is counted once', async () => {
  // Two members' PeerNetworks over an in-memory listener, as startServer wires them (attachIncoming).
  const n1Url = `mem://delivery-n1-${process.pid}-${unique++}`;
  const n2Url = `mem://delivery-n2-${process.pid}-${unique++}`;
  const cluster = { n1: n1Url, n2: n2Url };
  const common = { cluster, helloIntervalMs: 60_000, frameBytesMax: 1 << 20, logger: silent, clock: systemClock, random: systemRandom, clusterId: 'c1' };
  const delivered: number[] = [];
  let observed = 0;
  let arrived: () => void = () => {};
  const receiver = new PeerNetwork({
    ...common,
    identity: new StartingIdentity('n2', n2Url, 'mem://client-n2', 'test'),
    traffic: { sent: () => {}, received: () => observed++ },
  });
  receiver.start({
    receive: (message) => {
      delivered.push((message as HeartbeatMessage).commit);
      arrived();
    },
    leaderId: () => null,
    logState: () => ({ term: 1, lastLogIndex: 0 }),
    currentTerm: () => 1,
  });
  let admitted!: () => void;
  const admittedOnce = new Promise<void>((resolve) => (admitted = resolve));
  const listener = await listen<PeerMessages>(n2Url, { messages: peerMessages, logger: silent, onConnection: (connection) => receiver.attachIncoming(connection, admitted) });
  const sender = new PeerNetwork({ ...common, identity: new StartingIdentity('n1', n1Url, 'mem://client-n1', 'test') });
  sender.start({ receive: () => {}, leaderId: () => 'n1', logState: () => ({ term: 1, lastLogIndex: 0 }), currentTerm: () => 1 });
  try {
    await admittedOnce;
    const count = 5;
    const all = new Promise<void>((resolve) => (arrived = () => delivered.length >= count && resolve()));
    for (let commit = 1; commit <= count; commit++) {
      sender.send({ type: MessageType.Heartbeat, from: 'n1', to: 'n2', term: 1, commit, context: new Uint8Array(0) });
    }
    await all;
    // A marker after them on the same connection: any second copy of an earlier message would arrive before it.
    const marker = new Promise<void>((resolve) => (arrived = () => delivered.includes(count + 1) && resolve()));
    sender.send({ type: MessageType.Heartbeat, from: 'n1', to: 'n2', term: 1, commit: count + 1, context: new Uint8Array(0) });
    await marker;
    assert.deepEqual(delivered, [1, 2, 3, 4, 5, 6], 'in order, each once');
    assert.equal(observed, 6, 'the traffic observer sees each message once');
  } finally {
    await sender.close();
    await receiver.close();
    await listener.close();
  }
});
