/** Leadership transfer (thesis §3.10, TimeoutNow). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DropReason, MessageType, ProposalDroppedError, Role } from '../../src/raft/index.js';
import { bytes, RaftNetwork } from '../../src/testing/raft-network.js';

test('transfers leadership to an up-to-date follower', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.propose(leader, 'x');
  const target = ['a', 'b', 'c'].find((id) => id !== leader)!;
  const term = net.node(leader).status().term;
  net.node(leader).transferLeadership(target);
  net.settle();
  assert.equal(net.leader(), target);
  assert.equal(net.node(target).status().term, term + 1);
  assert.equal(net.node(leader).status().role, Role.Follower);
  net.propose(target, 'y');
  net.tick(2);
  for (const id of ['a', 'b', 'c']) assert.deepEqual(net.host(id).appliedData, ['x', 'y']);
});

test('transfer to a lagging follower first brings it up to date', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  const target = ['a', 'b', 'c'].find((id) => id !== leader)!;
  net.isolate(target);
  for (let i = 0; i < 20; i++) net.propose(leader, `v${i}`);
  net.recover();
  net.delivered = [];
  net.node(leader).transferLeadership(target);
  net.tick(10);
  assert.equal(net.leader(), target);
  const timeoutNow = net.delivered.findIndex((m) => m.type === MessageType.TimeoutNow);
  assert.ok(timeoutNow >= 0);
  assert.equal(net.host(target).storage.lastIndex() >= net.host(leader).storage.lastIndex() - 1, true);
});

test('proposals are dropped while a transfer is in progress', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  const target = ['a', 'b', 'c'].find((id) => id !== leader)!;
  net.isolate(target);
  net.node(leader).transferLeadership(target);
  assert.throws(() => net.node(leader).propose(bytes('no')), (e: unknown) => e instanceof ProposalDroppedError && e.reason === DropReason.TransferInProgress);
});

test('a transfer that cannot complete is abandoned after an election timeout', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  const target = ['a', 'b', 'c'].find((id) => id !== leader)!;
  net.isolate(target);
  net.node(leader).transferLeadership(target);
  assert.equal(net.node(leader).status().leadTransferee, target);
  net.tick(11);
  assert.equal(net.node(leader).status().leadTransferee, null);
  assert.equal(net.leader(), leader);
  net.propose(leader, 'accepted again');
});

test('a transfer requested at a follower is forwarded to the leader', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  const target = ['a', 'b', 'c'].find((id) => id !== leader)!;
  net.node(target).transferLeadership(target);
  net.settle();
  assert.equal(net.leader(), target);
});

test('a transfer overrides the lease: voters grant the transferee even while hearing from the leader', () => {
  const net = new RaftNetwork(['a', 'b', 'c'], { node: { checkQuorum: true, preVote: true } });
  net.settle();
  const leader = net.electLeader();
  net.tick(3);
  const target = ['a', 'b', 'c'].find((id) => id !== leader)!;
  net.node(leader).transferLeadership(target);
  net.settle();
  assert.equal(net.leader(), target);
});
