/** Unit tests of the pure pieces: quorum arithmetic, membership changes, in-flight window, MemoryStorage. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  applyConfChange,
  ConfChangeTransition,
  ConfChangeType,
  decodeConfChange,
  emptyConfState,
  encodeConfChange,
  InvalidConfChangeError,
  LogCompactedError,
  LogUnavailableError,
  MemoryStorage,
  SnapshotUnavailableError,
  type ConfState,
} from '../../src/raft/index.js';
import { jointCommitIndex, jointVote, majorityIndex, VoteResult } from '../../src/raft/quorum.js';
import { Inflights } from '../../src/raft/progress.js';
import { entry } from './helpers.js';

test('majorityIndex is the highest index held by a majority', () => {
  const cases: [number[], number][] = [
    [[5], 5],
    [[5, 3], 3],
    [[5, 3, 1], 3],
    [[1, 5, 3, 4], 3],
    [[7, 7, 2, 2, 2], 2],
    [[9, 8, 7, 1, 1], 7],
  ];
  for (const [matches, want] of cases) {
    const ids = matches.map((_, i) => `n${i}`);
    assert.equal(majorityIndex(ids, (id) => matches[Number(id.slice(1))]!), want, JSON.stringify(matches));
  }
  assert.equal(majorityIndex([], () => 0), Infinity);
});

test('majorityIndex agrees with a brute-force definition', () => {
  fc.assert(
    fc.property(fc.array(fc.nat(50), { minLength: 1, maxLength: 9 }), (matches) => {
      const ids = matches.map((_, i) => `n${i}`);
      const got = majorityIndex(ids, (id) => matches[Number(id.slice(1))]!);
      const quorum = Math.floor(matches.length / 2) + 1;
      const brute = Math.max(...matches.filter((m) => matches.filter((x) => x >= m).length >= quorum));
      return got === brute;
    }),
  );
});

test('joint decisions need a majority of both halves', () => {
  const conf: ConfState = { ...emptyConfState, voters: ['a', 'b', 'c'], votersOutgoing: ['c', 'd', 'e'] };
  const match: Record<string, number> = { a: 10, b: 10, c: 3, d: 2, e: 1 };
  assert.equal(jointCommitIndex(conf, (id) => match[id]!), 2);
  const votes = new Map([['a', true], ['b', true]]);
  assert.equal(jointVote(conf, votes), VoteResult.Pending);
  votes.set('d', false);
  votes.set('e', false);
  assert.equal(jointVote(conf, votes), VoteResult.Lost);
  const votes2 = new Map([['a', true], ['c', true], ['d', true]]);
  assert.equal(jointVote(conf, votes2), VoteResult.Won);
});

test('membership changes: simple, joint, leave, learners', () => {
  const base: ConfState = { ...emptyConfState, voters: ['a', 'b', 'c'] };
  const added = applyConfChange(base, { changes: [{ type: ConfChangeType.AddVoter, nodeId: 'd' }] });
  assert.deepEqual(added.voters, ['a', 'b', 'c', 'd']);
  assert.deepEqual(added.votersOutgoing, []);

  const joint = applyConfChange(base, { changes: [{ type: ConfChangeType.AddVoter, nodeId: 'd' }, { type: ConfChangeType.RemoveNode, nodeId: 'a' }] });
  assert.deepEqual(joint.voters, ['b', 'c', 'd']);
  assert.deepEqual(joint.votersOutgoing, ['a', 'b', 'c']);
  assert.equal(joint.autoLeave, true);
  assert.throws(() => applyConfChange(joint, { changes: [{ type: ConfChangeType.AddVoter, nodeId: 'x' }] }), InvalidConfChangeError);
  const left = applyConfChange(joint, { changes: [] });
  assert.deepEqual(left, { ...emptyConfState, voters: ['b', 'c', 'd'] });

  // Demoting a voter inside a joint configuration waits in learnersNext.
  const demote = applyConfChange(base, { changes: [{ type: ConfChangeType.AddLearner, nodeId: 'a' }, { type: ConfChangeType.AddVoter, nodeId: 'd' }], transition: ConfChangeTransition.JointExplicit });
  assert.deepEqual(demote.learnersNext, ['a']);
  assert.deepEqual(demote.learners, []);
  assert.equal(demote.autoLeave, false);
  assert.deepEqual(applyConfChange(demote, { changes: [] }).learners, ['a']);

  // Learner promotion is a simple change.
  const withLearner = applyConfChange(base, { changes: [{ type: ConfChangeType.AddLearner, nodeId: 'l' }] });
  assert.deepEqual(withLearner.learners, ['l']);
  const promoted = applyConfChange(withLearner, { changes: [{ type: ConfChangeType.AddVoter, nodeId: 'l' }] });
  assert.deepEqual(promoted.learners, []);
  assert.deepEqual(promoted.voters, ['a', 'b', 'c', 'l']);

  // Bootstrapping from nothing may add several voters.
  assert.deepEqual(applyConfChange(emptyConfState, { changes: ['x', 'y', 'z'].map((nodeId) => ({ type: ConfChangeType.AddVoter, nodeId })) }).voters, ['x', 'y', 'z']);
});

test('membership changes survive their log encoding', () => {
  const cc = { changes: [{ type: ConfChangeType.AddLearner, nodeId: 'n9' }], transition: ConfChangeTransition.JointImplicit };
  assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
});

test('every sequence of valid changes keeps voters and learners disjoint', () => {
  const ids = ['a', 'b', 'c', 'd', 'e'];
  const change = fc.record({ type: fc.constantFrom(...Object.values(ConfChangeType)), nodeId: fc.constantFrom(...ids) });
  const cc = fc.record({ changes: fc.array(change, { maxLength: 3 }), transition: fc.constantFrom(...Object.values(ConfChangeTransition)) });
  fc.assert(
    fc.property(fc.array(cc, { maxLength: 12 }), (ccs) => {
      let conf: ConfState = { ...emptyConfState, voters: ['a', 'b', 'c'] };
      for (const c of ccs) {
        try {
          conf = applyConfChange(conf, c);
        } catch (e) {
          if (!(e instanceof InvalidConfChangeError)) throw e;
        }
        const voters = new Set([...conf.voters, ...conf.votersOutgoing]);
        for (const l of conf.learners) if (voters.has(l)) return false;
        for (const l of conf.learnersNext) if (!conf.votersOutgoing.includes(l) || conf.voters.includes(l)) return false;
        if (conf.voters.length === 0) return false;
      }
      return true;
    }),
  );
});

test('the in-flight window is bounded and frees acknowledged messages', () => {
  const w = new Inflights(3);
  w.add(5);
  w.add(7);
  w.add(9);
  assert.equal(w.full(), true);
  assert.throws(() => w.add(11));
  w.freeLE(7);
  assert.equal(w.count, 1);
  w.add(11);
  w.add(13);
  assert.equal(w.full(), true);
  w.freeLE(100);
  assert.equal(w.count, 0);
});

test('MemoryStorage: append truncates a conflicting suffix; compaction and snapshots', () => {
  const s = MemoryStorage.bootstrap(['a']);
  s.append([entry(2, 1), entry(3, 1), entry(4, 2)]);
  assert.equal(s.lastIndex(), 4);
  s.append([entry(3, 3)]);
  assert.equal(s.lastIndex(), 3);
  assert.equal(s.term(3), 3);
  assert.throws(() => s.append([entry(9, 3)]), /gap/);
  assert.throws(() => s.term(4), LogUnavailableError);
  s.createSnapshot(2, { ...emptyConfState, voters: ['a'] }, new Uint8Array([1, 2, 3, 4, 5]));
  assert.equal(s.firstIndex(), 1, 'a snapshot alone does not discard the log');
  assert.throws(() => s.compact(3), /past the snapshot/);
  s.compact(2);
  assert.equal(s.firstIndex(), 3);
  assert.equal(s.term(2), 1, 'the snapshot index keeps its term');
  assert.throws(() => s.term(1), LogCompactedError);
  assert.throws(() => s.entries(2, 4, 100), LogCompactedError);
  assert.deepEqual(s.entries(3, 4, 100).map((e) => e.index), [3]);
  assert.deepEqual(s.initialState().confState.voters, ['a']);
  const c1 = s.snapshotChunk(2, 0, 2);
  assert.deepEqual([...c1.data], [1, 2]);
  assert.equal(c1.done, false);
  const c2 = s.snapshotChunk(2, 4, 2);
  assert.deepEqual([...c2.data], [5]);
  assert.equal(c2.done, true);
  assert.throws(() => s.snapshotChunk(1, 0, 2), SnapshotUnavailableError);
  s.applySnapshot({ index: 10, term: 4, conf: emptyConfState }, new Uint8Array());
  assert.equal(s.firstIndex(), 11);
  assert.equal(s.lastIndex(), 10);
});

test('MemoryStorage.entries respects maxBytes but returns at least one entry', () => {
  const s = new MemoryStorage();
  s.append([entry(1, 1, 'aaaa'), entry(2, 1, 'bbbb'), entry(3, 1, 'cccc')]);
  assert.equal(s.entries(1, 4, 0).length, 1);
  assert.equal(s.entries(1, 4, 8).length, 2);
  assert.equal(s.entries(1, 4, 100).length, 3);
});
