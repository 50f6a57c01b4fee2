/**
 * Automatic compaction (etcd's --auto-compaction-mode/-retention): the flags'
 * parsing, and what the leader proposes in each mode against a real state
 * machine; a follower proposes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AutoCompactor, parseAutoCompaction, type AutoCompaction } from '../../src/server/auto-compactor.js';
import { InvalidConfigError } from '../../src/server/config.js';
import { proposalHeadroomBytes } from '../../src/server/proposal-tracker.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { Driver } from '../kv/helpers.js';

test('the flags: etcd spellings, 0 is off, bad values name the flag', () => {
  assert.equal(parseAutoCompaction('periodic', '0'), null);
  assert.deepEqual(parseAutoCompaction('periodic', '1h'), { mode: 'periodic', retentionMs: 3_600_000 });
  assert.deepEqual(parseAutoCompaction('periodic', '2'), { mode: 'periodic', retentionMs: 7_200_000 }, 'a bare number is hours, as in etcd');
  assert.deepEqual(parseAutoCompaction('periodic', '90s'), { mode: 'periodic', retentionMs: 90_000 });
  assert.deepEqual(parseAutoCompaction('revision', '1000'), { mode: 'revision', revisions: 1000 });
  assert.throws(() => parseAutoCompaction('hourly', '1'), (e: Error) => e instanceof InvalidConfigError && /--auto-compaction-mode/.test(e.message));
  assert.throws(() => parseAutoCompaction('revision', '1h'), (e: Error) => e instanceof InvalidConfigError && /--auto-compaction-retention/.test(e.message));
  assert.throws(() => parseAutoCompaction('periodic', 'soon'), InvalidConfigError);
});

function compactorOver(policy: AutoCompaction, leader = true) {
  const d = new Driver();
  const clock = new ManualClock();
  const compactor = new AutoCompactor(
    policy,
    {
      isLeader: () => leader,
      // A proposal's command follows proposalHeadroomBytes of room for the envelope.
      propose: async (payload) => d.applyBytes(payload.subarray(proposalHeadroomBytes)),
    },
    d.sm,
    clock,
    100,
    1000,
  );
  return { d, compactor };
}

test('revision mode keeps the newest N revisions, compacting in steps of a tenth of N', async () => {
  const { d, compactor } = compactorOver({ mode: 'revision', revisions: 100 });
  for (let i = 0; i < 105; i++) d.put('k', `${i}`);
  await compactor.check();
  assert.equal(d.sm.compactRevision, 0, 'only 5 revisions past the retention: less than a step');
  for (let i = 0; i < 10; i++) d.put('k', `${i}`);
  await compactor.check();
  assert.equal(d.sm.compactRevision, 15);
  assert.equal(d.sm.history.size, 100);
  assert.equal(compactor.proposed, 1);
});

test('periodic mode compacts to the newest revision older than the retention, by entry time', async () => {
  const { d, compactor } = compactorOver({ mode: 'periodic', retentionMs: 60_000 });
  for (let i = 0; i < 5; i++) {
    d.put('k', `${i}`);
    d.nowMs += 30_000;
  }
  // Revisions 1..5 at t, t+30s, ..., t+120s and 6 at t+150s (the state machine's clock): 1..4 are >= 60 s old.
  d.put('k', 'last');
  await compactor.check();
  assert.equal(d.sm.compactRevision, 4);
});

test('a follower proposes no compaction', async () => {
  const { d, compactor } = compactorOver({ mode: 'revision', revisions: 10 }, false);
  for (let i = 0; i < 50; i++) d.put('k', `${i}`);
  await compactor.check();
  assert.equal(d.sm.compactRevision, 0);
});
