import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvariantChecker, InvariantViolationError, type LogView } from './invariants.js';

const view = (terms: number[], snapshotIndex = 0, snapshotTerm = 0): LogView => ({ snapshotIndex, snapshotTerm, terms });
const violates = (name: RegExp, fn: () => void) =>
  assert.throws(fn, (e: unknown) => e instanceof InvariantViolationError && name.test(e.message));

describe('simulator invariants', () => {
  it('election safety: two leaders in one term are caught, leaders of different terms are fine', () => {
    const c = new InvariantChecker();
    c.observeStatus('n1', true, 2, 0);
    c.observeStatus('n1', true, 2, 0);
    c.observeStatus('n2', true, 3, 0);
    violates(/election safety/, () => c.observeStatus('n3', true, 3, 0));
  });

  it('election safety: a leader must hold durable votes from a quorum in its own term', () => {
    const conf = { voters: ['n1', 'n2', 'n3'], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    const c = new InvariantChecker();
    c.observeDurableHardState('n1', { term: 4, vote: 'n1', commit: 0 });
    c.observeDurableHardState('n2', { term: 4, vote: 'n1', commit: 0 });
    c.observeStatus('n1', true, 4, 0, conf); // n1 + n2 of three: fine
    c.observeDurableHardState('n3', { term: 5, vote: 'n3', commit: 0 });
    c.observeDurableHardState('n2', { term: 5, vote: 'n1', commit: 0 }); // n2's vote went to n1 in term 5
    // n3 wins term 5 counting n2's grant from term 4 (the countStaleVotes bug): caught at once.
    violates(/without a quorum of votes/, () => c.observeStatus('n3', true, 5, 0, conf));
    // A grant whose vote was overtaken by a durable higher term before it was written still counts:
    // the voter can never vote in that term again.
    const e = new InvariantChecker();
    e.observeDurableHardState('n2', { term: 9, vote: 'n2', commit: 0 });
    e.observeGrant('n3', 'n2', 9);
    e.observeDurableHardState('n3', { term: 12, vote: 'n1', commit: 0 });
    e.observeStatus('n2', true, 9, 0, conf);
    // But a grant with nothing durable behind it does not.
    const f = new InvariantChecker();
    f.observeDurableHardState('n2', { term: 9, vote: 'n2', commit: 0 });
    f.observeGrant('n3', 'n2', 9);
    violates(/without a quorum of votes/, () => f.observeStatus('n2', true, 9, 0, conf));
    // A joint configuration needs a majority of both halves.
    const joint = { voters: ['n1', 'n4', 'n5'], learners: [], votersOutgoing: ['n1', 'n2', 'n3'], learnersNext: [], autoLeave: true };
    const d = new InvariantChecker();
    for (const id of ['n1', 'n2', 'n3']) d.observeDurableHardState(id, { term: 7, vote: 'n1', commit: 0 });
    violates(/without a quorum of votes/, () => d.observeStatus('n1', true, 7, 0, joint));
  });

  it('log matching: same index and term must mean same data and same history', () => {
    const c = new InvariantChecker();
    c.observeLogEntries('n1', view([1, 1, 2]), 1, [10, 11, 12]);
    c.observeLogEntries('n2', view([1, 1]), 1, [10, 11]);
    c.observeLogEntries('n2', view([1, 1, 2]), 3, [12]);
    violates(/log matching/, () => c.observeLogEntries('n3', view([1, 1, 2]), 1, [10, 11, 99]));
    const d = new InvariantChecker();
    d.observeLogEntries('n1', view([1, 1, 2]), 1, [10, 11, 12]);
    violates(/log matching/, () => d.observeLogEntries('n2', view([1, 2, 2]), 3, [12]));
  });

  it('log terms never decrease along a log', () => {
    const c = new InvariantChecker();
    violates(/log terms/, () => c.observeLogEntries('n1', view([2, 1]), 1, [1, 2]));
  });

  it('leader completeness: a later leader missing a committed entry is caught', () => {
    const c = new InvariantChecker();
    c.observeStatus('n1', true, 2, 0);
    c.observeLogEntries('n1', view([1, 2]), 1, [1, 2]);
    c.observeStatus('n1', true, 2, 2); // n1 commits 1..2 in term 2
    c.observeApply('n1', 1, 1, 1);
    c.observeApply('n1', 2, 2, 2);
    c.observeLeaderLog('n2', 3, view([1, 2, 3])); // has them: fine
    violates(/leader completeness/, () => c.observeLeaderLog('n3', 4, view([1])));
  });

  it('leader completeness is checked when a commit becomes known after the leader was seen', () => {
    const c = new InvariantChecker();
    c.observeLeaderLog('n3', 5, view([1, 3]));
    c.observeStatus('n1', true, 4, 2); // committed through 2 in term 4 ...
    c.observeApply('n1', 1, 1, 1);
    violates(/leader completeness/, () => c.observeApply('n1', 2, 4, 2)); // ... entry 2 has term 4; n3 (term 5) has term 3 there
  });

  it('state machine safety: different entries applied at one index are caught, gaps too', () => {
    const c = new InvariantChecker();
    c.observeApply('n1', 1, 1, 7);
    c.observeApply('n2', 1, 1, 7);
    violates(/state machine safety/, () => c.observeApply('n3', 1, 1, 8));
    violates(/applied prefixes agree/, () => c.observeApply('n1', 3, 1, 7));
  });

  it('replica states at one applied index must agree (snapshot installs included)', () => {
    const c = new InvariantChecker();
    c.observeState('n1', 10, 123, 'after applying');
    c.observeState('n2', 10, 123, 'installed from a leader snapshot');
    violates(/applied prefixes agree/, () => c.observeState('n3', 10, 124, 'restored from its snapshot'));
  });

  it('a command applied at two indexes is caught (exactly once)', () => {
    const c = new InvariantChecker();
    c.observeCommand('n1', '3:4', 9);
    c.observeCommand('n2', '3:4', 9);
    violates(/exactly once/, () => c.observeCommand('n1', '3:4', 12));
  });

  it('durable state: the term never goes back and the vote of a term never changes', () => {
    const c = new InvariantChecker();
    c.observeDurableHardState('n1', { term: 2, vote: 'n2', commit: 0 });
    c.observeDurableHardState('n1', { term: 2, vote: 'n2', commit: 3 });
    violates(/one vote per term/, () => c.observeDurableHardState('n1', { term: 2, vote: 'n3', commit: 3 }));
    violates(/durable term/, () => c.observeDurableHardState('n1', { term: 1, vote: null, commit: 3 }));
  });
});
