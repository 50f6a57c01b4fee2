/** Membership changes: single-server changes (thesis §4.1), joint consensus (§4.3), learners, recovery after restart. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfChangeTransition,
  ConfChangeType,
  DropReason,
  InvalidConfChangeError,
  MemoryStorage,
  MessageType,
  ProposalDroppedError,
  RaftNode,
  Role,
} from '../../src/raft/index.js';
import { bytes, RaftNetwork } from '../../src/testing/raft-network.js';

const addVoter = (nodeId: string) => ({ type: ConfChangeType.AddVoter, nodeId });
const addLearner = (nodeId: string) => ({ type: ConfChangeType.AddLearner, nodeId });
const remove = (nodeId: string) => ({ type: ConfChangeType.RemoveNode, nodeId });

test('adds a voter one at a time; the new node learns the whole configuration by replication', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.propose(leader, 'before');
  net.addHost('d', new MemoryStorage());
  net.node(leader).proposeConfChange({ changes: [addVoter('d')] });
  net.tick(5);
  for (const id of ['a', 'b', 'c', 'd']) assert.deepEqual(net.node(id).status().conf.voters, ['a', 'b', 'c', 'd'], id);
  assert.deepEqual(net.host('d').appliedData, ['before']);
  net.propose(leader, 'after');
  net.tick(2);
  assert.deepEqual(net.host('d').appliedData, ['before', 'after']);
  // Four voters: losing two of them stops progress, losing one does not.
  const others = ['a', 'b', 'c', 'd'].filter((id) => id !== leader);
  net.isolate(others[0]!);
  net.propose(leader, 'three of four');
  assert.deepEqual(net.host(leader).appliedData.at(-1), 'three of four');
});

test('removes a voter; a removed leader steps down once the change is committed', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.node(leader).proposeConfChange({ changes: [remove(leader)] });
  net.settle();
  net.tick(1);
  assert.notEqual(net.node(leader).status().role, Role.Leader);
  net.tick(40);
  const next = net.leader();
  assert.ok(next !== null && next !== leader);
  assert.deepEqual(net.node(next).status().conf.voters, ['a', 'b', 'c'].filter((id) => id !== leader));
  net.propose(next, 'two voters');
  for (const id of ['a', 'b', 'c'].filter((x) => x !== leader)) assert.deepEqual(net.host(id).appliedData, ['two voters']);
  net.tick(50);
  assert.notEqual(net.node(leader).status().role, Role.Candidate, 'a removed node does not campaign');
});

test('a simple change of more than one voter is refused (thesis §4.1); auto makes it joint', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  assert.throws(
    () => net.node(leader).proposeConfChange({ changes: [addVoter('d'), addVoter('e')], transition: ConfChangeTransition.Simple }),
    InvalidConfChangeError,
  );
  assert.throws(() => net.node(leader).proposeConfChange({ changes: [remove('a'), remove('b'), remove('c')] }), InvalidConfChangeError, 'removing every voter');
  assert.throws(() => net.node(leader).proposeConfChange({ changes: [] }), InvalidConfChangeError, 'leaving a joint configuration that does not exist');
  net.node(leader).proposeConfChange({ changes: [addVoter('d'), addVoter('e')] });
});

test('only one membership change may be pending at a time', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.tick(1);
  const others = ['a', 'b', 'c'].filter((id) => id !== leader);
  net.isolate(others[0]!);
  net.isolate(others[1]!);
  net.node(leader).proposeConfChange({ changes: [addLearner('x')] });
  assert.throws(
    () => net.node(leader).proposeConfChange({ changes: [addLearner('y')] }),
    (e: unknown) => e instanceof ProposalDroppedError && e.reason === DropReason.ConfChangePending,
  );
});

test('joint consensus replaces two voters at once and leaves the joint configuration automatically', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  const [x, y] = ['a', 'b', 'c'].filter((id) => id !== leader) as [string, string];
  net.addHost('d', new MemoryStorage());
  net.addHost('e', new MemoryStorage());
  net.node(leader).proposeConfChange({ changes: [addVoter('d'), addVoter('e'), remove(x), remove(y)] });
  net.tick(10);
  const history = net.host(leader).confHistory;
  const joint = history.find((c) => c.votersOutgoing.length > 0);
  assert.ok(joint !== undefined, 'went through C_old,new');
  assert.deepEqual(joint.votersOutgoing, ['a', 'b', 'c']);
  assert.deepEqual(joint.voters, [leader, 'd', 'e'].sort());
  assert.equal(joint.autoLeave, true);
  const conf = net.node(leader).status().conf;
  assert.deepEqual(conf.votersOutgoing, [], 'left the joint configuration');
  assert.deepEqual(conf.voters, [leader, 'd', 'e'].sort());
  net.propose(leader, 'new config');
  assert.deepEqual(net.host('d').appliedData, ['new config']);
  assert.deepEqual(net.host('e').appliedData, ['new config']);
});

test('in a joint configuration, commit needs a majority of both halves', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.addHost('d', new MemoryStorage());
  net.addHost('e', new MemoryStorage());
  net.addHost('f', new MemoryStorage());
  const old = ['a', 'b', 'c'].filter((id) => id !== leader);
  // Explicit: stay joint until told to leave.
  net.node(leader).proposeConfChange({ changes: [remove(old[0]!), remove(old[1]!), addVoter('d'), addVoter('e'), addVoter('f')], transition: ConfChangeTransition.JointExplicit });
  net.tick(5);
  const conf = net.node(leader).status().conf;
  assert.equal(conf.votersOutgoing.length, 3);
  assert.equal(conf.autoLeave, false);
  // Majority of the new half (leader, d, e of 4) but not of the old half (leader alone of 3): no commit.
  net.isolate(old[0]!);
  net.isolate(old[1]!);
  const node = net.node(leader);
  const commit = node.status().commit;
  node.propose(bytes('needs both'));
  net.settle();
  assert.equal(node.status().commit, commit);
  // With one old voter back, both halves have a majority.
  net.recover();
  net.isolate('f');
  net.tick(8);
  assert.ok(node.status().commit > commit);
  // Leave explicitly.
  node.proposeConfChange({ changes: [] });
  net.tick(3);
  assert.deepEqual(node.status().conf.votersOutgoing, []);
});

test('a learner catches up without voting and is then promoted', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  for (let i = 0; i < 5; i++) net.propose(leader, `v${i}`);
  net.addHost('l', new MemoryStorage());
  net.delivered = [];
  net.node(leader).proposeConfChange({ changes: [addLearner('l')] });
  net.tick(5);
  assert.deepEqual(net.node(leader).status().conf.learners, ['l']);
  assert.equal(net.host('l').appliedData.length, 5, 'the learner receives the log');
  assert.equal(net.node(leader).status().progress!['l']!.isLearner, true);
  // A learner never campaigns and is never asked for votes.
  net.tick(50);
  assert.equal(net.node('l').status().role, Role.Follower);
  assert.equal(net.delivered.some((m) => (m.type === MessageType.RequestVote || m.type === MessageType.RequestPreVote) && (m.to === 'l' || m.from === 'l')), false);
  // Learners do not count for commit: with two voters cut off nothing commits even though the learner acks.
  const voters = ['a', 'b', 'c'].filter((id) => id !== leader);
  net.isolate(voters[0]!);
  net.isolate(voters[1]!);
  const commit = net.node(leader).status().commit;
  net.node(leader).propose(bytes('learner alone'));
  net.settle();
  assert.equal(net.node(leader).status().commit, commit);
  net.recover();
  net.tick(8);
  // Promote.
  const l2 = net.leader()!;
  net.node(l2).proposeConfChange({ changes: [addVoter('l')] });
  net.tick(5);
  assert.deepEqual(net.node(l2).status().conf.voters, ['a', 'b', 'c', 'l']);
  assert.deepEqual(net.node(l2).status().conf.learners, []);
  assert.equal(net.node(l2).status().progress!['l']!.isLearner, false);
});

test('the configuration is recovered after a restart from the snapshot and the changes after it', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.addHost('d', new MemoryStorage());
  net.node(leader).proposeConfChange({ changes: [addLearner('d')] });
  net.tick(3);
  // Snapshot everywhere (the learner is in the snapshot's configuration), then promote d by a log entry.
  for (const id of ['a', 'b', 'c', 'd']) net.host(id).compact();
  net.node(leader).proposeConfChange({ changes: [addVoter('d')] });
  net.tick(3);
  for (const id of ['a', 'b', 'c', 'd']) {
    assert.deepEqual(net.host(id).storage.snapshotMetadata().conf.learners, ['d']);
    net.crash(id);
    net.restart(id);
    // Before re-applying anything, the node knows the snapshot's configuration ...
    assert.deepEqual(net.node(id).status().conf.learners, ['d'], id);
  }
  net.settle();
  // ... and the change after it takes effect again as it is re-applied.
  for (const id of ['a', 'b', 'c', 'd']) assert.deepEqual(net.node(id).status().conf.voters, ['a', 'b', 'c', 'd'], id);
  const l = net.electLeader();
  net.propose(l, 'after restart');
  assert.deepEqual(net.host('d').appliedData.at(-1), 'after restart');
});

test('a restart with the applied index given recovers the configuration from the log alone', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.node(leader).proposeConfChange({ changes: [addLearner('z')] });
  net.tick(3);
  const h = net.host(leader);
  const applied = h.appliedIndex;
  const restarted = new RaftNode({ id: leader, storage: h.storage, electionTimeoutTicks: 10, heartbeatIntervalTicks: 1, rng: { nextInt: () => 0 }, applied });
  assert.deepEqual(restarted.status().conf.learners, ['z']);
  assert.equal(restarted.status().applied, applied);
});
