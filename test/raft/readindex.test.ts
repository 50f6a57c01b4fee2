/** Linearizable reads with ReadIndex (thesis §6.4), at the leader and forwarded from followers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, ProposalDroppedError, DropReason, type HeartbeatMessage } from '../../src/raft/index.js';
import { bytes, text, RaftNetwork } from '../../src/testing/raft-network.js';
import { drain, makeNode } from './helpers.js';

test('read index at the leader is released after a heartbeat quorum, at the commit index', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.propose(leader, 'x');
  const commit = net.node(leader).status().commit;
  net.delivered = [];
  net.node(leader).readIndex(bytes('r1'));
  net.settle();
  const rs = net.host(leader).readStates;
  assert.equal(rs.length, 1);
  assert.equal(text(rs[0]!.context), 'r1');
  assert.equal(rs[0]!.index, commit);
  assert.ok(net.delivered.some((m) => m.type === MessageType.Heartbeat && m.context.length > 0), 'confirmed by a heartbeat round');
});

test('read index forwarded from a follower comes back in its Ready', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.propose(leader, 'x');
  const follower = ['a', 'b', 'c'].find((id) => id !== leader)!;
  net.node(follower).readIndex(bytes('f1'));
  net.settle();
  const rs = net.host(follower).readStates;
  assert.equal(rs.length, 1);
  assert.equal(text(rs[0]!.context), 'f1');
  assert.equal(rs[0]!.index, net.node(leader).status().commit);
});

test('a leader cut off from the quorum serves no read', () => {
  const net = new RaftNetwork(['a', 'b', 'c'], { node: { checkQuorum: false } });
  net.settle();
  const leader = net.electLeader();
  net.isolate(leader);
  net.node(leader).readIndex(bytes('stale?'));
  net.tick(5);
  assert.equal(net.host(leader).readStates.length, 0);
});

test('read index waits until the new leader commits an entry of its term', () => {
  const { node, storage } = makeNode('a', { config: { preVote: false } });
  drain(node, storage);
  node.campaign();
  drain(node, storage);
  node.step({ type: MessageType.RequestVoteResponse, from: 'b', to: 'a', term: 2, granted: true });
  drain(node, storage);
  node.readIndex(bytes('early'));
  let r = drain(node, storage);
  assert.equal(r.messages.filter((m) => m.type === MessageType.Heartbeat).length, 0, 'no confirmation round yet');
  node.step({ type: MessageType.AppendEntriesResponse, from: 'b', to: 'a', term: 2, success: true, index: 2, conflictTerm: 0, conflictIndex: 0 });
  r = drain(node, storage);
  const hb = r.messages.filter((m) => m.type === MessageType.Heartbeat);
  assert.equal(hb.length, 2);
  const seq = (hb[0] as HeartbeatMessage).context;
  node.step({ type: MessageType.HeartbeatResponse, from: 'c', to: 'a', term: 2, context: seq });
  r = drain(node, storage);
  assert.deepEqual(r.readStates.map((s) => [s.index, text(s.context)]), [[2, 'early']]);
});

test('read index after a leader change never goes back before what was committed', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const first = net.electLeader();
  for (let i = 0; i < 5; i++) net.propose(first, `w${i}`);
  const committed = net.node(first).status().commit;
  net.isolate(first);
  net.tick(40);
  const second = net.leader();
  assert.ok(second !== null && second !== first);
  net.node(second).readIndex(bytes('after'));
  net.settle();
  const rs = net.host(second).readStates;
  assert.equal(rs.length, 1);
  assert.ok(rs[0]!.index >= committed, `read index ${rs[0]!.index} >= ${committed}`);
  assert.ok(net.host(second).appliedIndex >= rs[0]!.index, 'the state machine caught up to the read index');
});

test('many reads in one Ready share one heartbeat round', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.tick(2);
  for (let i = 0; i < 10; i++) net.node(leader).readIndex(bytes(`m${i}`));
  const r = net.node(leader).ready();
  assert.equal(r.messages.filter((m) => m.type === MessageType.Heartbeat).length, 2);
  net.host(leader).storage.append(r.entries);
  net.node(leader).advance(r);
  for (const m of r.messages) net.deliver(m);
  net.settle();
  assert.deepEqual(net.host(leader).readStates.map((s) => text(s.context)), Array.from({ length: 10 }, (_, i) => `m${i}`));
});

test('a single-node leader serves reads at once', () => {
  const net = new RaftNetwork(['a']);
  net.settle();
  net.electLeader();
  net.propose('a', 'x');
  net.node('a').readIndex(bytes('solo'));
  net.settle();
  assert.equal(net.host('a').readStates.length, 1);
});

test('read index without a known leader is dropped synchronously', () => {
  const { node } = makeNode('a');
  assert.throws(() => node.readIndex(bytes('x')), (e: unknown) => e instanceof ProposalDroppedError && e.reason === DropReason.NoLeader);
});

test('reads with the same context are still confirmed separately and in order', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.tick(2);
  net.node(leader).readIndex(bytes('same'));
  net.propose(leader, 'between');
  net.node(leader).readIndex(bytes('same'));
  net.settle();
  const rs = net.host(leader).readStates;
  assert.equal(rs.length, 2);
  assert.ok(rs[0]!.index < rs[1]!.index, 'the second read sees the write in between');
});

test('a stale acknowledgement (from before a read was registered) does not confirm it', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.tick(2);
  const node = net.node(leader);
  node.readIndex(bytes('first'));
  const r1 = node.ready();
  node.advance(r1);
  const hb1 = r1.messages.filter((m): m is HeartbeatMessage => m.type === MessageType.Heartbeat);
  node.readIndex(bytes('second'));
  // Followers answer only the first round.
  for (const m of hb1) node.step({ type: MessageType.HeartbeatResponse, from: m.to, to: leader, term: m.term, context: m.context });
  const r2 = node.ready();
  node.advance(r2);
  assert.deepEqual(r2.readStates.map((s) => text(s.context)), ['first']);
});
