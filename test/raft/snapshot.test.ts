/** Log compaction and InstallSnapshot in chunks (thesis chapter 5, Figure 5.3). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyConfState, MessageType, type InstallSnapshotMessage, type Message } from '../../src/raft/index.js';
import { RaftNetwork } from '../../src/testing/raft-network.js';
import { drain, makeNode } from './helpers.js';

const chunkBytes = 16;

function laggingCluster(): { net: RaftNetwork; leader: string; lagger: string } {
  const net = new RaftNetwork(['a', 'b', 'c'], { node: { snapshotChunkBytesMax: chunkBytes } });
  net.settle();
  const leader = net.electLeader();
  const lagger = ['a', 'b', 'c'].find((id) => id !== leader)!;
  net.isolate(lagger);
  for (let i = 0; i < 20; i++) net.propose(leader, `value-${i}`);
  net.tick(1);
  net.host(leader).compact();
  assert.ok(net.host(leader).storage.firstIndex() > 2, 'the leader compacted its log');
  return { net, leader, lagger };
}

const chunksTo = (msgs: Message[], to: string): InstallSnapshotMessage[] =>
  msgs.filter((m): m is InstallSnapshotMessage => m.type === MessageType.InstallSnapshot && m.to === to);

test('a follower too far behind catches up by a snapshot sent in chunks, one at a time', () => {
  const { net, leader, lagger } = laggingCluster();
  net.delivered = [];
  net.recover();
  net.tick(10);
  const chunks = chunksTo(net.delivered, lagger);
  assert.ok(chunks.length > 3, `${chunks.length} chunks`);
  let expected = 0;
  let outstanding = 0;
  for (const m of net.delivered) {
    if (m.type === MessageType.InstallSnapshot && m.to === lagger) {
      assert.equal(m.offset, expected, 'chunks arrive in order, without gaps');
      assert.ok(m.data.length <= chunkBytes);
      expected += m.data.length;
      outstanding++;
      assert.ok(outstanding <= 1, 'one chunk in flight');
    }
    if (m.type === MessageType.InstallSnapshotResponse && m.from === lagger) outstanding--;
  }
  assert.equal(chunks[chunks.length - 1]!.done, true);
  assert.equal(net.host(lagger).storage.snapshotMetadata().index, net.host(leader).storage.snapshotMetadata().index);
  assert.deepEqual(net.host(lagger).appliedData, net.host(leader).appliedData);
  // And replication continues normally afterwards.
  net.propose(leader, 'after');
  net.tick(2);
  assert.deepEqual(net.host(lagger).appliedData.at(-1), 'after');
});

test('a lost chunk is sent again', () => {
  const { net, leader, lagger } = laggingCluster();
  let dropped = 0;
  net.dropIf = (m) => m.type === MessageType.InstallSnapshot && m.offset === chunkBytes * 2 && dropped++ === 0;
  const dropIf = net.dropIf;
  net.recover();
  net.dropIf = dropIf;
  net.tick(30);
  assert.equal(dropped > 1, true, 'the chunk was sent again after being lost');
  assert.deepEqual(net.host(lagger).appliedData, net.host(leader).appliedData);
});

test('partial snapshot progress is reset when the follower restarts', () => {
  const { net, leader, lagger } = laggingCluster();
  let seen = 0;
  let crashNow = false;
  net.recover();
  net.dropIf = (m) => {
    if (m.type === MessageType.InstallSnapshot && m.to === lagger && ++seen === 3) {
      crashNow = true;
      return true;
    }
    return false;
  };
  net.delivered = [];
  for (let i = 0; i < 10 && !crashNow; i++) net.tick(1);
  assert.ok(crashNow);
  net.crash(lagger);
  net.restart(lagger);
  net.dropIf = null;
  net.tick(30);
  const offsets = chunksTo(net.delivered, lagger).map((m) => m.offset);
  assert.equal(offsets.filter((o) => o === 0).length, 2, `started over from offset 0: ${offsets.join(',')}`);
  assert.deepEqual(net.host(lagger).appliedData, net.host(leader).appliedData);
});

test('a host that cannot serve the snapshot being sent any more (MemoryStorage keeps only the latest): the transfer starts over with the newer one', () => {
  const { net, leader, lagger } = laggingCluster();
  const first = net.host(leader).storage.snapshotMetadata().index;
  // Hold the follower's acknowledgements so that the transfer stalls after one chunk.
  net.recover();
  net.dropIf = (m) => m.type === MessageType.InstallSnapshotResponse && m.from === lagger;
  net.tick(1);
  for (let i = 0; i < 5; i++) net.propose(leader, `more-${i}`);
  net.tick(1);
  net.host(leader).compact();
  const second = net.host(leader).storage.snapshotMetadata().index;
  assert.ok(second > first);
  net.delivered = [];
  net.dropIf = null;
  net.tick(30);
  const chunks = chunksTo(net.delivered, lagger);
  assert.ok(chunks.some((m) => m.snapshot.index === second && m.offset === 0), 'the newer snapshot is sent from the start');
  assert.equal(net.host(lagger).storage.snapshotMetadata().index, second);
  assert.deepEqual(net.host(lagger).appliedData, net.host(leader).appliedData);
});

test('a restarted node recovers its state from the snapshot and the log after it', () => {
  const { net, leader, lagger } = laggingCluster();
  net.recover();
  net.tick(10);
  net.propose(leader, 'tail');
  net.crash(lagger);
  net.restart(lagger);
  net.tick(3);
  assert.deepEqual(net.host(lagger).appliedData, net.host(leader).appliedData);
  assert.equal(net.node(lagger).status().conf.voters.length, 3, 'membership recovered from the snapshot');
});

test('a chunk is handed to the host in the same Ready whose messagesAfterPersist acknowledges it', () => {
  const { node, storage } = makeNode('b', { term: 3 });
  drain(node, storage);
  const snapshot = { index: 50, term: 3, conf: { ...emptyConfState, voters: ['a', 'b', 'c'] } };
  node.step({ type: MessageType.InstallSnapshot, from: 'a', to: 'b', term: 3, snapshot, offset: 0, data: new Uint8Array([1, 2, 3]), done: false });
  const r1 = node.ready();
  assert.deepEqual(r1.snapshotChunks.map((c) => [c.index, c.offset, c.data.length, c.done]), [[50, 0, 3, false]]);
  assert.equal(r1.messages.length, 0);
  assert.deepEqual(r1.messagesAfterPersist.map((m) => m.type === MessageType.InstallSnapshotResponse && [m.nextOffset, m.done]), [[3, false]]);
  assert.equal(r1.snapshot, undefined);
  node.advance(r1);
  // A duplicate of the first chunk is acknowledged without being written again.
  node.step({ type: MessageType.InstallSnapshot, from: 'a', to: 'b', term: 3, snapshot, offset: 0, data: new Uint8Array([1, 2, 3]), done: false });
  const r2 = node.ready();
  assert.equal(r2.snapshotChunks.length, 0);
  node.advance(r2);
  node.step({ type: MessageType.InstallSnapshot, from: 'a', to: 'b', term: 3, snapshot, offset: 3, data: new Uint8Array([4]), done: true });
  const r3 = node.ready();
  assert.equal(r3.snapshotChunks.length, 1);
  assert.deepEqual(r3.snapshot, snapshot);
  assert.equal(r3.hardState?.commit, 50);
  assert.deepEqual(r3.messagesAfterPersist.map((m) => m.type === MessageType.InstallSnapshotResponse && m.done), [true]);
  storage.applySnapshot(r3.snapshot!, new Uint8Array([1, 2, 3, 4]));
  node.advance(r3);
  assert.equal(node.status().applied, 50);
  assert.equal(node.status().lastIndex, 50);
});

test('a follower whose log already holds the snapshot point keeps its log and only commits', () => {
  const { node, storage } = makeNode('b', { term: 2, terms: [2, 2, 2, 2] });
  drain(node, storage);
  const snapshot = { index: 3, term: 2, conf: { ...emptyConfState, voters: ['a', 'b', 'c'] } };
  node.step({ type: MessageType.InstallSnapshot, from: 'a', to: 'b', term: 2, snapshot, offset: 0, data: new Uint8Array([9]), done: true });
  const r = drain(node, storage);
  assert.equal(r.snapshot, undefined);
  assert.equal(node.status().commit, 3);
  assert.equal(node.status().lastIndex, 5, 'entries after the snapshot point are kept');
});

test('a late answer about an older snapshot does not abort the snapshot in flight (sim finding F1)', () => {
  const { net, leader, lagger } = laggingCluster();
  // First catch-up: remember the follower's final answer.
  net.recover();
  net.tick(10);
  const staleDone = net.delivered.filter((m) => m.type === MessageType.InstallSnapshotResponse && m.from === lagger && m.done).at(-1);
  assert.ok(staleDone !== undefined);
  // The follower falls behind again, past a newer snapshot.
  net.isolate(lagger);
  for (let i = 0; i < 20; i++) net.propose(leader, `again-${i}`);
  net.tick(1);
  net.host(leader).compact();
  // Hold the follower's answers so that the leader stays in snapshot state, then replay the stale one.
  net.recover();
  net.dropIf = (m) => m.type === MessageType.InstallSnapshotResponse && m.from === lagger;
  net.tick(1);
  const node = net.node(leader);
  assert.equal(node.status().progress![lagger]!.state, 'snapshot');
  node.step(staleDone);
  const pr = node.status().progress![lagger]!;
  assert.equal(pr.state, 'snapshot', 'still sending the newer snapshot');
  assert.ok(pr.next <= pr.match + 1 || pr.state === 'snapshot');
  net.dropIf = null;
  net.tick(40);
  assert.deepEqual(net.host(lagger).appliedData, net.host(leader).appliedData);
});

test('a leader reports the snapshots it is sending and the followers it is catching up, for the host to keep (snapshotTransfers)', () => {
  const { net, leader, lagger } = laggingCluster();
  const node = net.node(leader);
  assert.deepEqual(node.snapshotTransfers(), { sending: [], followerCatchingUp: false }, 'nothing while the follower is unreachable and unprobed');
  const first = net.host(leader).storage.snapshotMetadata().index;
  // Hold the follower's acknowledgements so that the transfer stays in flight.
  net.recover();
  net.dropIf = (m) => m.type === MessageType.InstallSnapshotResponse && m.from === lagger;
  for (let i = 0; i < 20 && node.status().progress![lagger]!.state !== 'snapshot'; i++) net.tick(1);
  assert.equal(node.status().progress![lagger]!.state, 'snapshot');
  assert.deepEqual(node.snapshotTransfers(), { sending: [first], followerCatchingUp: true });
  assert.deepEqual(net.node(lagger).snapshotTransfers(), { sending: [], followerCatchingUp: false }, 'a follower sends none');
  net.dropIf = null;
  net.tick(30);
  assert.deepEqual(net.host(lagger).appliedData, net.host(leader).appliedData);
  assert.deepEqual(node.snapshotTransfers(), { sending: [], followerCatchingUp: false }, 'released once the follower caught up');
});
