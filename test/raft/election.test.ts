/** Leader election features: basic elections, pre-vote (thesis §9.6), check-quorum (§6.2), the leader lease on votes (§4.2.3). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, Role } from '../../src/raft/index.js';
import { RaftNetwork } from '../../src/testing/raft-network.js';

test('elects exactly one leader in 3- and 5-node clusters', () => {
  for (const ids of [['a', 'b', 'c'], ['a', 'b', 'c', 'd', 'e']]) {
    for (let seed = 1; seed <= 5; seed++) {
      const net = new RaftNetwork(ids, { seed });
      net.settle();
      const leader = net.electLeader();
      net.tick(3);
      const leaders = ids.filter((id) => net.node(id).status().role === Role.Leader);
      assert.deepEqual(leaders, [leader]);
      for (const id of ids) assert.equal(net.node(id).status().leader, leader, `${id} knows the leader`);
    }
  }
});

test('a minority partition cannot elect a leader', () => {
  const net = new RaftNetwork(['a', 'b', 'c', 'd', 'e']);
  net.settle();
  const leader = net.electLeader();
  const minority = ['a', 'b', 'c', 'd', 'e'].filter((id) => id !== leader).slice(0, 2);
  for (const m of minority) net.isolate(m);
  net.tick(100);
  for (const m of minority) assert.notEqual(net.node(m).status().role, Role.Leader);
  assert.equal(net.node(leader).status().role, Role.Leader);
});

function disruptionScenario(preVote: boolean, checkQuorum: boolean): { termBefore: number; termAfter: number; leaderBefore: string; leaderAfter: string | null } {
  const net = new RaftNetwork(['a', 'b', 'c'], { node: { preVote, checkQuorum } });
  net.settle();
  const leaderBefore = net.electLeader();
  const rejoiner = ['a', 'b', 'c'].find((id) => id !== leaderBefore)!;
  net.isolate(rejoiner);
  net.tick(50);
  net.propose(leaderBefore, 'while-partitioned');
  const termBefore = net.node(leaderBefore).status().term;
  net.recover();
  net.tick(30);
  return { termBefore, termAfter: net.node(leaderBefore).status().term, leaderBefore, leaderAfter: net.leader() };
}

test('pre-vote prevents disruption by a rejoining partitioned node', () => {
  const r = disruptionScenario(true, true);
  assert.equal(r.termAfter, r.termBefore, 'the term did not move');
  assert.equal(r.leaderAfter, r.leaderBefore, 'the leader kept its role');
});

test('without pre-vote and check-quorum a rejoining node does disrupt (the scenario is sensitive)', () => {
  const r = disruptionScenario(false, false);
  assert.ok(r.termAfter > r.termBefore, 'the partitioned node forced a new term');
});

test('a partitioned pre-candidate does not increase its term', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  const other = ['a', 'b', 'c'].find((id) => id !== leader)!;
  const term = net.node(other).status().term;
  net.isolate(other);
  net.tick(100);
  assert.equal(net.node(other).status().term, term);
  assert.equal(net.node(other).status().role, Role.PreCandidate);
});

test('check-quorum: a leader that cannot hear from a quorum steps down', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.isolate(leader);
  net.tick(25);
  assert.equal(net.node(leader).status().role, Role.Follower);
  net.recover();
  const newLeader = net.electLeader();
  assert.ok(newLeader !== null);
});

test('check-quorum: a leader that hears from a quorum stays leader', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  const other = ['a', 'b', 'c'].find((id) => id !== leader)!;
  net.isolate(other);
  net.tick(50);
  assert.equal(net.node(leader).status().role, Role.Leader);
});

test('without check-quorum an isolated leader keeps believing it leads', () => {
  const net = new RaftNetwork(['a', 'b', 'c'], { node: { checkQuorum: false } });
  net.settle();
  const leader = net.electLeader();
  net.isolate(leader);
  net.tick(50);
  assert.equal(net.node(leader).status().role, Role.Leader);
});

test('with check-quorum, a follower ignores vote requests while it hears from its leader (§4.2.3)', () => {
  const net = new RaftNetwork(['a', 'b', 'c'], { node: { preVote: false } });
  net.settle();
  const leader = net.electLeader();
  const [x, y] = ['a', 'b', 'c'].filter((id) => id !== leader) as [string, string];
  const term = net.node(y).status().term;
  net.node(y).step({ type: MessageType.RequestVote, from: x, to: y, term: term + 1, lastLogIndex: 100, lastLogTerm: term, transfer: false });
  net.settle();
  assert.equal(net.node(y).status().term, term, 'term unchanged');
  assert.equal(net.node(y).status().vote, net.node(y).status().vote);
  assert.equal(net.node(leader).status().role, Role.Leader);
});

test('a leader is re-elected after the old one crashes, and the log survives', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.propose(leader, 'one');
  net.crash(leader);
  net.tick(40);
  const next = net.leader();
  assert.ok(next !== null && next !== leader);
  net.propose(next, 'two');
  net.restart(leader);
  net.tick(5);
  for (const id of ['a', 'b', 'c']) assert.deepEqual(net.host(id).appliedData, ['one', 'two'], id);
});
