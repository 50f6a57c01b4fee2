/** Log replication features: catch-up, fast backtracking, flow control, batching, retransmission. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, ProgressState, Role, type AppendEntriesMessage, type AppendEntriesResponseMessage } from '../../src/raft/index.js';
import { bytes, RaftNetwork } from '../../src/testing/raft-network.js';

test('a follower that missed entries catches up once reconnected', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  const lagger = ['a', 'b', 'c'].find((id) => id !== leader)!;
  net.isolate(lagger);
  for (let i = 0; i < 30; i++) net.propose(leader, `v${i}`);
  net.recover();
  net.tick(5);
  assert.deepEqual(net.host(lagger).appliedData, net.host(leader).appliedData);
  assert.equal(net.host(lagger).appliedData.length, 30);
});

test('fast backtracking repairs a long conflicting log in a few round trips (§5.3)', () => {
  const ids = ['a', 'b', 'c'];
  const net = new RaftNetwork(ids);
  net.settle();
  const old = net.electLeader();
  // The old leader appends 100 entries nobody else receives.
  net.isolate(old);
  for (let i = 0; i < 100; i++) net.node(old).propose(bytes(`lost${i}`));
  net.settle();
  // The others elect a new leader and write 100 entries of their own.
  net.tick(40);
  const leader = net.leader();
  assert.ok(leader !== null && leader !== old);
  for (let i = 0; i < 100; i++) net.node(leader).propose(bytes(`kept${i}`));
  net.settle();
  net.delivered = [];
  net.recover();
  net.tick(5);
  const rejections = net.delivered.filter((m) => m.type === MessageType.AppendEntriesResponse && m.from === old && !m.success);
  assert.ok(rejections.length <= 3, `repaired with ${rejections.length} rejections`);
  assert.deepEqual(net.host(old).appliedData, net.host(leader).appliedData);
  assert.equal(net.host(old).appliedData.filter((s) => s.startsWith('lost')).length, 0);
});

test('flow control: appends in flight to one follower stay within inflightAppendsMax and appendBytesMax', () => {
  const net = new RaftNetwork(['a', 'b', 'c'], { node: { inflightAppendsMax: 3, appendBytesMax: 25 } });
  net.settle();
  const leader = net.electLeader();
  net.tick(2);
  const node = net.node(leader);
  for (let i = 0; i < 40; i++) node.propose(bytes(`0123456789-${i}`.padEnd(12, '.')));
  const r = node.ready();
  const appends = r.messages.filter((m): m is AppendEntriesMessage => m.type === MessageType.AppendEntries);
  const byFollower = new Map<string, AppendEntriesMessage[]>();
  for (const m of appends) byFollower.set(m.to, [...(byFollower.get(m.to) ?? []), m]);
  assert.equal(byFollower.size, 2);
  for (const [to, msgs] of byFollower) {
    assert.equal(msgs.length, 3, `${to}: exactly inflightAppendsMax messages`);
    for (const m of msgs) {
      const size = m.entries.reduce((n, e) => n + e.data.length, 0);
      assert.ok(m.entries.length >= 1);
      assert.ok(size <= 25 || m.entries.length === 1, `message of ${size} bytes`);
    }
    assert.equal(node.status().progress![to]!.paused, true);
  }
  net.host(leader).storage.append(r.entries);
  node.advance(r);
  // Acknowledgements open the window again; everything commits in the end.
  for (const m of r.messages) net.deliver(m);
  net.settle();
  net.tick(3);
  for (const id of ['a', 'b', 'c']) assert.equal(net.host(id).appliedData.length, 40);
});

test('proposal batching: many proposals go out in one append message per follower', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.tick(2);
  const node = net.node(leader);
  for (let i = 0; i < 100; i++) node.propose(bytes(`p${i}`));
  const r = node.ready();
  const appends = r.messages.filter((m): m is AppendEntriesMessage => m.type === MessageType.AppendEntries);
  assert.equal(appends.length, 2);
  for (const m of appends) assert.equal(m.entries.length, 100);
  assert.equal(r.entries.length, 100, 'and one batch to persist');
  net.host(leader).storage.append(r.entries);
  node.advance(r);
});

test('probe state: one append at a time until the follower answers, then pipelining', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  const lagger = ['a', 'b', 'c'].find((id) => id !== leader)!;
  net.isolate(lagger);
  for (let i = 0; i < 5; i++) net.propose(leader, `x${i}`);
  net.tick(30);
  // No answers: the pipeline is stuck in replicate state until the transport reports the peer unreachable.
  assert.equal(net.node(leader).status().progress![lagger]!.state, ProgressState.Replicate);
  net.node(leader).reportUnreachable(lagger);
  assert.equal(net.node(leader).status().progress![lagger]!.state, ProgressState.Probe);
  const node = net.node(leader);
  for (let i = 0; i < 3; i++) node.propose(bytes(`y${i}`));
  const r1 = node.ready();
  net.host(leader).storage.append(r1.entries);
  node.advance(r1);
  assert.ok(r1.messages.filter((m) => m.type === MessageType.AppendEntries && m.to === lagger).length <= 1);
  node.propose(bytes('z'));
  const r2 = node.ready();
  net.host(leader).storage.append(r2.entries);
  node.advance(r2);
  assert.equal(r2.messages.filter((m) => m.type === MessageType.AppendEntries && m.to === lagger).length, 0, 'paused while a probe is outstanding');
  net.recover();
  net.tick(8);
  assert.equal(net.node(leader).status().progress![lagger]!.state, ProgressState.Replicate);
  assert.equal(net.host(lagger).appliedData.length, 9);
});

test('a lost append is sent again (stalled pipeline falls back to probing)', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.tick(2);
  const victim = ['a', 'b', 'c'].find((id) => id !== leader)!;
  // Lose every append to the victim for a while; heartbeats still flow.
  net.dropIf = (m) => m.type === MessageType.AppendEntries && m.to === victim;
  net.propose(leader, 'lost-once');
  net.dropIf = null;
  assert.deepEqual(net.host(victim).appliedData, []);
  assert.equal(net.node(leader).status().progress![victim]!.state, ProgressState.Replicate);
  net.tick(12);
  assert.deepEqual(net.host(victim).appliedData, ['lost-once']);
});

test('a follower rejecting with a conflict is answered from the hinted index, not one by one', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  const lagger = ['a', 'b', 'c'].find((id) => id !== leader)!;
  net.isolate(lagger);
  for (let i = 0; i < 50; i++) net.node(leader).propose(bytes(`e${i}`));
  net.settle();
  net.delivered = [];
  net.recover();
  net.tick(8);
  const rejects = net.delivered.filter((m): m is AppendEntriesResponseMessage => m.type === MessageType.AppendEntriesResponse && !m.success);
  assert.ok(rejects.length <= 1, `${rejects.length} rejections for a follower that is merely behind`);
  assert.equal(net.host(lagger).appliedData.length, 50);
});

test('a follower restarted after a crash keeps what it acknowledged', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  for (let i = 0; i < 10; i++) net.propose(leader, `d${i}`);
  const f = ['a', 'b', 'c'].find((id) => id !== leader)!;
  const before = net.host(f).storage.lastIndex();
  net.crash(f);
  net.restart(f);
  assert.equal(net.node(f).status().lastIndex, before);
  assert.equal(net.node(f).status().role, Role.Follower);
  net.tick(3);
  assert.equal(net.host(f).appliedData.length, 10);
});

test('a new commit index costs no message of its own: it rides on the next append, or on the next heartbeat', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.tick(2);
  const [f1, f2] = ['a', 'b', 'c'].filter((id) => id !== leader) as [string, string];
  const lh = net.host(leader);
  const isAppend = (m: { type: string }): m is AppendEntriesMessage => m.type === MessageType.AppendEntries;
  const applied = (id: string) => net.host(id).appliedData;
  net.delivered = [];

  // A commits once both followers acknowledge it; the leader applies it, and sends nothing more.
  net.node(leader).propose(bytes('A'));
  const batchA = lh.handleReady().filter(isAppend);
  assert.equal(batchA.length, 2);
  for (const m of batchA) net.deliver(m);
  for (const id of [f1, f2]) for (const m of net.host(id).handleReady()) net.deliver(m);
  const indexA = batchA[0]!.entries[0]!.index;
  assert.equal(net.node(leader).status().commit, indexA);
  assert.deepEqual(lh.handleReady().filter(isAppend), [], 'no empty append just for the commit index');
  assert.deepEqual(applied(leader), ['A']);
  assert.deepEqual([applied(f1), applied(f2)], [[], []], 'the followers do not know yet');

  // Under load: the next batch's append carries A's commit, and the followers apply A with it.
  net.node(leader).propose(bytes('B'));
  const batchB = lh.handleReady().filter(isAppend);
  assert.deepEqual(batchB.map((m) => [m.entries.length, m.leaderCommit]), [[1, indexA], [1, indexA]]);
  for (const m of batchB) net.deliver(m);
  for (const id of [f1, f2]) for (const m of net.host(id).handleReady()) net.deliver(m);
  assert.deepEqual([applied(f1), applied(f2)], [['A'], ['A']]);

  // Idle: B's commit reaches the followers with the next heartbeat (one tick here).
  assert.deepEqual(lh.handleReady().filter(isAppend), []);
  net.settle();
  assert.deepEqual([applied(f1), applied(f2)], [['A'], ['A']]);
  net.tick(1);
  assert.deepEqual([applied(f1), applied(f2)], [['A', 'B'], ['A', 'B']]);
  assert.ok(
    net.delivered.every((m) => !isAppend(m) || m.entries.length > 0),
    'no append without entries was sent to these up-to-date followers',
  );
});

test('commitNotify: a new commit index goes to the followers at once in one empty append each, once per advance', () => {
  const net = new RaftNetwork(['a', 'b', 'c'], { node: { commitNotify: true } });
  net.settle();
  const leader = net.electLeader();
  net.tick(2);
  net.settle();
  const followers = ['a', 'b', 'c'].filter((id) => id !== leader);
  const lh = net.host(leader);
  const isAppend = (m: { type: string }): m is AppendEntriesMessage => m.type === MessageType.AppendEntries;
  const applied = (id: string) => net.host(id).appliedData;

  net.node(leader).propose(bytes('A'));
  const batchA = lh.handleReady().filter(isAppend);
  for (const m of batchA) net.deliver(m);
  for (const id of followers) for (const m of net.host(id).handleReady()) net.deliver(m);
  const indexA = batchA[0]!.entries[0]!.index;
  const notices = lh.handleReady().filter(isAppend);
  assert.deepEqual(notices.map((m) => [m.entries.length, m.leaderCommit]), [[0, indexA], [0, indexA]], 'one empty append per follower with the new commit');
  for (const m of notices) net.deliver(m);
  for (const id of followers) for (const m of net.host(id).handleReady()) net.deliver(m);
  assert.deepEqual(followers.map(applied), [['A'], ['A']], 'the followers apply A without waiting for a heartbeat');
  // Their answers change nothing: the commit is not sent again.
  assert.deepEqual(lh.handleReady().filter(isAppend), []);
});

test('takeDuringPersist: a leader replicates proposals while its Ready is persisted; followers alone can commit them', () => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.settle();
  const leader = net.electLeader();
  net.tick(2);
  const node = net.node(leader);
  const isAppend = (m: { type: string }): m is AppendEntriesMessage => m.type === MessageType.AppendEntries;

  node.propose(bytes('first'));
  const inFlight = node.ready(); // its fsync is "in flight": no advance yet
  node.propose(bytes('second'));
  assert.equal(node.hasReady(), false, 'ready() is not called again before advance()');
  const early = node.takeDuringPersist().messages.filter(isAppend);
  assert.equal(early.length, 2, 'one append per follower, now');
  const secondIndex = early[0]!.entries.at(-1)!.index;
  assert.deepEqual(early.map((m) => m.entries.map((e) => new TextDecoder().decode(e.data))), [['second'], ['second']]);
  assert.deepEqual(node.takeDuringPersist().messages, [], 'nothing twice');

  // The followers get both batches and acknowledge them: that is a majority without the leader's disk.
  for (const m of [...inFlight.messages, ...early]) net.deliver(m);
  for (const id of ['a', 'b', 'c'].filter((x) => x !== leader)) for (const m of net.host(id).handleReady()) net.deliver(m);
  assert.equal(node.status().commit, secondIndex);
  assert.ok(node.status().persistedIndex < secondIndex, 'committed before the leader persisted it');

  // The next Ready persists it here, and everyone applies both.
  net.host(leader).storage.append(inFlight.entries);
  node.advance(inFlight);
  const next = node.ready();
  assert.deepEqual(next.entries.map((e) => e.index), [secondIndex]);
  net.host(leader).storage.append(next.entries);
  node.advance(next);
  net.tick(3);
  assert.ok(node.status().persistedIndex >= secondIndex);
  for (const id of ['a', 'b', 'c'].filter((x) => x !== leader)) assert.deepEqual(net.host(id).appliedData, ['first', 'second']);
});
