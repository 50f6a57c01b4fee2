/** Proposals: where they are accepted, how drops are reported, batching bounds, and the test-only unsafe flag. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DropReason, MessageType, ProposalDroppedError, Role } from '../../src/raft/index.js';
import { bytes, RaftNetwork } from '../../src/testing/raft-network.js';
import { drain, makeNode } from './helpers.js';

const dropped = (reason: string) => (e: unknown) => e instanceof ProposalDroppedError && e.reason === reason && e.code === 'CONCORD_ERR_PROPOSAL_DROPPED';

test('a proposal without a known leader is dropped synchronously', () => {
  const { node } = makeNode('a');
  assert.throws(() => node.propose(bytes('x')), dropped(DropReason.NoLeader));
});

test('a proposal at a follower is dropped with a hint naming the leader', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  const follower = ['a', 'b', 'c'].find((id) => id !== leader)!;
  assert.throws(
    () => net.node(follower).propose(bytes('x')),
    (e: unknown) => dropped(DropReason.NotLeader)(e) && (e as ProposalDroppedError).leaderHint === leader,
  );
});

test('proposals are dropped while too many bytes are uncommitted, and accepted again once they commit', () => {
  const net = new RaftNetwork(['a', 'b', 'c'], { node: { uncommittedEntriesBytesMax: 100 } });
  net.settle();
  const leader = net.electLeader();
  net.tick(1);
  const others = ['a', 'b', 'c'].filter((id) => id !== leader);
  for (const o of others) net.isolate(o);
  const node = net.node(leader);
  let accepted = 0;
  assert.throws(() => {
    for (let i = 0; i < 100; i++) {
      node.propose(new Uint8Array(30));
      accepted++;
    }
  }, dropped(DropReason.UncommittedBytesLimit));
  assert.ok(accepted >= 3 && accepted <= 4, `${accepted} accepted`);
  net.recover();
  net.tick(8);
  node.propose(new Uint8Array(30));
});

test('an accepted proposal that a leader change overwrites is recognisable by its term', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const old = net.electLeader();
  net.tick(1);
  net.isolate(old);
  const lost = net.node(old).propose(bytes('lost'));
  net.settle();
  net.tick(40);
  const leader = net.leader()!;
  assert.notEqual(leader, old);
  net.propose(leader, 'kept');
  net.recover();
  net.tick(5);
  const appliedAtIndex = net.host(old).applied.find((e) => e.index === lost.index)!;
  assert.notEqual(appliedAtIndex.term, lost.term, 'a different entry was committed at that index');
  assert.deepEqual(net.host(old).appliedData, ['kept']);
});

test('committed entries are handed out once, in order, and only after they commit', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  for (let i = 0; i < 20; i++) net.node(leader).propose(bytes(`c${i}`));
  net.settle();
  net.tick(2);
  for (const id of ['a', 'b', 'c']) {
    const indexes = net.host(id).applied.map((e) => e.index);
    assert.deepEqual(indexes, Array.from({ length: indexes.length }, (_, i) => i + 1));
    assert.deepEqual(net.host(id).appliedData, Array.from({ length: 20 }, (_, i) => `c${i}`));
  }
  for (const r of net.host(leader).readies) {
    for (const e of r.committedEntries) assert.ok(e.index <= (r.hardState?.commit ?? Infinity));
  }
});

test('testingOnlyUnsafe.countStaleVotes counts a grant from an earlier term (and the default does not)', () => {
  for (const unsafe of [false, true]) {
    const { node, storage } = makeNode('a', { config: { preVote: false, checkQuorum: false, testingOnlyUnsafe: { countStaleVotes: unsafe } } });
    drain(node, storage);
    node.campaign(); // term 2
    drain(node, storage);
    node.campaign(); // term 3
    drain(node, storage);
    assert.equal(node.status().term, 3);
    // A late grant for the term-2 election arrives.
    node.step({ type: MessageType.RequestVoteResponse, from: 'b', to: 'a', term: 2, granted: true });
    assert.equal(node.status().role, unsafe ? Role.Leader : Role.Candidate, `unsafe=${unsafe}`);
  }
});
