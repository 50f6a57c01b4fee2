/**
 * Table tests named after the rules of the Raft paper (Figure 2 and §5) and
 * the durability rules of the Ready contract, driving one node by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, Role, type AppendEntriesResponseMessage, type VoteResponseMessage } from '../../src/raft/index.js';
import { allMessages, appendMsg, drain, logTerms, makeNode } from './helpers.js';

const noPreVote = { preVote: false, checkQuorum: false };

test('rejects append entries from a stale term', () => {
  const { node, storage } = makeNode('b', { term: 5, terms: [2, 3] });
  drain(node, storage);
  node.step(appendMsg('a', 'b', 4, 3, 3, [4], 3));
  const r = drain(node, storage);
  const resp = r.messagesAfterPersist.find((m) => m.type === MessageType.AppendEntriesResponse) as AppendEntriesResponseMessage;
  assert.equal(resp.success, false);
  assert.equal(resp.term, 5, 'the reply carries the newer term so the stale leader steps down');
  assert.deepEqual(logTerms(storage), [1, 2, 3]);
  assert.equal(node.status().term, 5);
});

test('rejects append entries whose previous entry does not match (log matching)', () => {
  const { node, storage } = makeNode('b', { term: 3, terms: [2, 2] });
  drain(node, storage);
  node.step(appendMsg('a', 'b', 3, 3, 3, [3], 0));
  const r = drain(node, storage);
  const resp = r.messagesAfterPersist[0] as AppendEntriesResponseMessage;
  assert.equal(resp.success, false);
  assert.equal(resp.index, 3, 'the rejected prevLogIndex');
  assert.equal(resp.conflictTerm, 2, 'fast backtracking: the conflicting term ...');
  assert.equal(resp.conflictIndex, 2, '... and the first index holding it');
  assert.deepEqual(logTerms(storage), [1, 2, 2]);
});

test('rejects append entries past the end of the log with its length as the hint', () => {
  const { node, storage } = makeNode('b', { term: 3, terms: [2] });
  drain(node, storage);
  node.step(appendMsg('a', 'b', 3, 7, 3, [3], 0));
  const resp = drain(node, storage).messagesAfterPersist[0] as AppendEntriesResponseMessage;
  assert.equal(resp.success, false);
  assert.equal(resp.conflictTerm, 0);
  assert.equal(resp.conflictIndex, 3);
});

test('deletes a conflicting entry and all that follow it, then appends', () => {
  const { node, storage } = makeNode('b', { term: 3, terms: [2, 2, 2] });
  drain(node, storage);
  node.step(appendMsg('a', 'b', 3, 2, 2, [3, 3], 1));
  const r = drain(node, storage);
  assert.equal(r.entries[0]!.index, 3, 'the Ready starts at the conflict so the host truncates there');
  assert.deepEqual(logTerms(storage), [1, 2, 3, 3]);
  assert.equal((r.messagesAfterPersist[0] as AppendEntriesResponseMessage).index, 4);
});

test('appends only entries not already in the log (duplicate appends change nothing)', () => {
  const { node, storage } = makeNode('b', { term: 2, terms: [2, 2, 2] });
  drain(node, storage);
  node.step(appendMsg('a', 'b', 2, 1, 1, [2], 1));
  const r = drain(node, storage);
  assert.equal(r.entries.length, 0, 'a stale, shorter append must not truncate the matching suffix');
  assert.deepEqual(logTerms(storage), [1, 2, 2, 2]);
  const resp = r.messagesAfterPersist[0] as AppendEntriesResponseMessage;
  assert.equal(resp.success, true);
  assert.equal(resp.index, 2);
});

test('sets commit index to min(leaderCommit, index of last new entry)', () => {
  const { node, storage } = makeNode('b', { term: 2, terms: [2, 2, 2] });
  drain(node, storage);
  node.step(appendMsg('a', 'b', 2, 1, 1, [2], 4));
  drain(node, storage);
  assert.equal(node.status().commit, 2, 'entries after the last new one may differ from the leader');
  node.step(appendMsg('a', 'b', 2, 2, 2, [2, 2], 3));
  drain(node, storage);
  assert.equal(node.status().commit, 3);
});

test('grants at most one vote per term', () => {
  const { node, storage } = makeNode('c', { term: 1, config: noPreVote });
  drain(node, storage);
  node.step({ type: MessageType.RequestVote, from: 'a', to: 'c', term: 2, lastLogIndex: 1, lastLogTerm: 1, transfer: false });
  node.step({ type: MessageType.RequestVote, from: 'b', to: 'c', term: 2, lastLogIndex: 1, lastLogTerm: 1, transfer: false });
  node.step({ type: MessageType.RequestVote, from: 'a', to: 'c', term: 2, lastLogIndex: 1, lastLogTerm: 1, transfer: false });
  const r = drain(node, storage);
  const grants = (r.messagesAfterPersist as VoteResponseMessage[]).map((m) => [m.to, m.granted]);
  assert.deepEqual(grants, [['a', true], ['b', false], ['a', true]], 're-granting to the same candidate is idempotent');
  assert.equal(r.hardState?.vote, 'a');
  assert.equal(storage.hardStateNow().vote, 'a');
});

test('grants a vote only to a candidate whose log is at least as up-to-date (§5.4.1)', () => {
  const cases = [
    { name: 'lower last term', lastLogIndex: 9, lastLogTerm: 2, granted: false },
    { name: 'same last term, shorter log', lastLogIndex: 3, lastLogTerm: 3, granted: false },
    { name: 'same last term, same length', lastLogIndex: 4, lastLogTerm: 3, granted: true },
    { name: 'higher last term, shorter log', lastLogIndex: 2, lastLogTerm: 4, granted: true },
  ];
  for (const c of cases) {
    const { node, storage } = makeNode('c', { term: 3, terms: [2, 3, 3], config: noPreVote });
    drain(node, storage);
    node.step({ type: MessageType.RequestVote, from: 'a', to: 'c', term: 5, lastLogIndex: c.lastLogIndex, lastLogTerm: c.lastLogTerm, transfer: false });
    const resp = drain(node, storage).messagesAfterPersist[0] as VoteResponseMessage;
    assert.equal(resp.granted, c.granted, c.name);
    assert.equal(node.status().term, 5, `${c.name}: the higher term is adopted either way`);
  }
});

test('rejects vote requests from a stale term', () => {
  const { node, storage } = makeNode('c', { term: 4, config: noPreVote });
  drain(node, storage);
  node.step({ type: MessageType.RequestVote, from: 'a', to: 'c', term: 3, lastLogIndex: 10, lastLogTerm: 3, transfer: false });
  const r = drain(node, storage);
  assert.equal(allMessages(r).some((m) => m.type === MessageType.RequestVoteResponse && m.granted), false);
  assert.equal(node.status().vote, null);
});

test('any server adopts a higher term it sees and forgets its vote', () => {
  const { node, storage } = makeNode('c', { term: 2, vote: 'a', config: noPreVote });
  drain(node, storage);
  node.step({ type: MessageType.Heartbeat, from: 'b', to: 'c', term: 7, commit: 0, context: new Uint8Array() });
  const r = drain(node, storage);
  assert.deepEqual(r.hardState, { term: 7, vote: null, commit: 1 });
  assert.equal(node.status().leader, 'b');
});

test('candidate steps down on discovering a higher term', () => {
  const { node, storage } = makeNode('a', { config: noPreVote });
  drain(node, storage);
  node.campaign();
  drain(node, storage);
  assert.equal(node.status().role, Role.Candidate);
  node.step({ type: MessageType.RequestVoteResponse, from: 'b', to: 'a', term: 9, granted: false });
  assert.equal(node.status().role, Role.Follower);
  assert.equal(node.status().term, 9);
});

test('candidate becomes follower on append entries from a leader of its own term', () => {
  const { node, storage } = makeNode('a', { config: noPreVote });
  drain(node, storage);
  node.campaign();
  drain(node, storage);
  const term = node.status().term;
  node.step(appendMsg('b', 'a', term, 1, 1, [], 1));
  assert.equal(node.status().role, Role.Follower);
  assert.equal(node.status().leader, 'b');
});

test('leader steps down on discovering a higher term', () => {
  const { node, storage } = makeNode('a', { voters: ['a'], config: noPreVote });
  drain(node, storage);
  node.campaign();
  drain(node, storage);
  drain(node, storage);
  assert.equal(node.status().role, Role.Leader);
  node.step({ type: MessageType.AppendEntriesResponse, from: 'b', to: 'a', term: 99, success: false, index: 0, conflictTerm: 0, conflictIndex: 0 });
  assert.equal(node.status().role, Role.Follower);
  assert.equal(node.status().term, 99);
});

test('leader never overwrites its own log (Leader Append-Only)', () => {
  const { node, storage } = makeNode('a', { terms: [1, 1], config: noPreVote });
  drain(node, storage);
  node.campaign();
  drain(node, storage);
  const term = node.status().term;
  node.step({ type: MessageType.RequestVoteResponse, from: 'b', to: 'a', term, granted: true });
  assert.equal(node.status().role, Role.Leader);
  drain(node, storage);
  const before = logTerms(storage);
  // A message claiming to be from another leader of the same term is ignored (it cannot exist).
  node.step(appendMsg('c', 'a', term, 1, 1, [term, term, term, term], 5));
  const r = drain(node, storage);
  assert.equal(r.entries.length, 0);
  assert.deepEqual(logTerms(storage), before);
  assert.equal(node.status().role, Role.Leader);
});

test('a new leader appends an empty entry of its term', () => {
  const { node, storage } = makeNode('a', { voters: ['a'], terms: [1], config: noPreVote });
  drain(node, storage);
  node.campaign();
  drain(node, storage);
  const r = drain(node, storage);
  assert.equal(node.status().role, Role.Leader);
  assert.equal(r.entries.length, 1);
  assert.equal(r.entries[0]!.term, node.status().term);
  assert.equal(r.entries[0]!.data.length, 0);
});

test('a leader commits entries of earlier terms only by committing one of its own term (§5.4.2)', () => {
  // Figure 8: an entry of term 2 is on a majority, but the leader of term 4 must not count it.
  const { node, storage } = makeNode('a', { terms: [2], term: 3, config: noPreVote });
  drain(node, storage);
  node.campaign();
  drain(node, storage);
  node.step({ type: MessageType.RequestVoteResponse, from: 'b', to: 'a', term: 4, granted: true });
  assert.equal(node.status().role, Role.Leader);
  drain(node, storage); // the leader's empty entry (index 3, term 4) is now durable
  node.step({ type: MessageType.AppendEntriesResponse, from: 'b', to: 'a', term: 4, success: true, index: 2, conflictTerm: 0, conflictIndex: 0 });
  assert.equal(node.status().commit, 1, 'index 2 (term 2) is on a majority but not committed by counting');
  node.step({ type: MessageType.AppendEntriesResponse, from: 'b', to: 'a', term: 4, success: true, index: 3, conflictTerm: 0, conflictIndex: 0 });
  assert.equal(node.status().commit, 3, 'committing the term-4 entry commits index 2 with it');
});

test('a leader counts its own log towards commit only once it is durable', () => {
  const { node, storage } = makeNode('a', { config: noPreVote });
  drain(node, storage);
  node.campaign();
  drain(node, storage);
  node.step({ type: MessageType.RequestVoteResponse, from: 'b', to: 'a', term: 2, granted: true });
  drain(node, storage);
  node.step({ type: MessageType.AppendEntriesResponse, from: 'b', to: 'a', term: 2, success: true, index: 2, conflictTerm: 0, conflictIndex: 0 });
  assert.equal(node.status().commit, 2);
  node.propose(new TextEncoder().encode('x'));
  const r = node.ready(); // index 3 handed out, not yet durable
  assert.equal(r.entries[0]!.index, 3);
  node.step({ type: MessageType.AppendEntriesResponse, from: 'c', to: 'a', term: 2, success: false, index: 3, conflictTerm: 0, conflictIndex: 3 });
  assert.equal(node.status().commit, 2, 'only the leader holds index 3 and it is not durable');
  storage.append(r.entries);
  node.advance(r);
  assert.equal(node.status().commit, 2, 'leader alone is not a majority');
  node.step({ type: MessageType.AppendEntriesResponse, from: 'c', to: 'a', term: 2, success: true, index: 3, conflictTerm: 0, conflictIndex: 0 });
  assert.equal(node.status().commit, 3);
});

test('a single-node leader commits only after advance() reports its entries durable', () => {
  const { node, storage } = makeNode('a', { voters: ['a'], config: noPreVote });
  drain(node, storage);
  node.campaign();
  drain(node, storage);
  drain(node, storage);
  const commit = node.status().commit;
  node.propose(new TextEncoder().encode('x'));
  const r = node.ready();
  assert.equal(node.status().commit, commit);
  storage.append(r.entries);
  node.advance(r);
  assert.equal(node.status().commit, commit + 1);
  assert.deepEqual(drain(node, storage).committedEntries.map((e) => e.index), [commit + 1]);
});

test('a follower acknowledges appends and grants votes only after persisting (messagesAfterPersist)', () => {
  const { node, storage } = makeNode('b', { config: noPreVote });
  drain(node, storage);
  node.step({ type: MessageType.RequestVote, from: 'a', to: 'b', term: 2, lastLogIndex: 1, lastLogTerm: 1, transfer: false });
  const r1 = drain(node, storage);
  assert.equal(r1.messages.length, 0);
  assert.equal(r1.messagesAfterPersist.length, 1);
  assert.deepEqual(r1.hardState, { term: 2, vote: 'a', commit: 1 }, 'the vote is in the same Ready as the grant');
  node.step(appendMsg('a', 'b', 2, 1, 1, [2], 1));
  const r2 = drain(node, storage);
  assert.equal(r2.messages.length, 0);
  assert.equal(r2.entries.length, 1, 'the acknowledged entry is persisted by the same Ready');
  assert.equal(r2.messagesAfterPersist[0]!.type, MessageType.AppendEntriesResponse);
});

test('a candidate counts its own vote only once its term and vote are durable', () => {
  const { node, storage } = makeNode('a', { voters: ['a'], config: noPreVote });
  drain(node, storage);
  node.campaign();
  assert.equal(node.status().role, Role.Candidate);
  const r = node.ready();
  assert.equal(r.hardState?.vote, 'a');
  assert.equal(node.status().role, Role.Candidate, 'not leader while the vote is not durable');
  storage.setHardState(r.hardState!);
  node.advance(r);
  assert.equal(node.status().role, Role.Leader);
});

test('ready() may not be called again before advance()', () => {
  const { node, storage } = makeNode('a');
  const r = node.ready();
  assert.equal(node.hasReady(), false, 'nothing can be taken while a Ready is in flight');
  assert.throws(() => node.ready(), /advance/);
  storage.append(r.entries);
  node.advance(r);
  assert.equal(node.hasReady(), false);
});

test('election timeout is randomized between T and 2T ticks (§5.2)', () => {
  const seen = new Set<number>();
  for (let seed = 0; seed < 30; seed++) {
    const { node, storage } = makeNode('a', { config: { ...noPreVote, rng: { nextInt: (n: number) => (seed * 7) % n } } });
    drain(node, storage);
    let ticks = 0;
    while (node.status().role === Role.Follower) {
      node.tick();
      ticks++;
      assert.ok(ticks < 20, 'campaigned within 2T');
    }
    assert.ok(ticks >= 10, `waited at least T (waited ${ticks})`);
    seen.add(ticks);
  }
  assert.ok(seen.size > 3, 'timeouts vary');
});

test('a heartbeat commits only up to what the leader knows this follower holds', () => {
  const { node, storage } = makeNode('b', { term: 2, terms: [2, 2] });
  drain(node, storage);
  node.step({ type: MessageType.Heartbeat, from: 'a', to: 'b', term: 2, commit: 2, context: new Uint8Array() });
  const r = drain(node, storage);
  assert.equal(node.status().commit, 2);
  assert.equal(r.messagesAfterPersist[0]!.type, MessageType.HeartbeatResponse);
});
