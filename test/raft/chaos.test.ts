/** Runs the randomized safety check of chaos.ts over many seeds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSeed } from './chaos.js';

test('safety under an asynchronous host with loss, duplication, reordering, crashes, compaction and membership changes', () => {
  let applied = 0;
  let terms = 0;
  let snapshots = 0;
  for (let seed = 1; seed <= 120; seed++) {
    const r = runSeed(seed, 1500);
    applied += r.applied;
    terms += r.terms;
    snapshots += r.snapshots;
  }
  // The schedule must actually exercise the core, or passing means nothing.
  assert.ok(applied > 120 * 20, `${applied} entries applied`);
  assert.ok(terms > 120 * 2, `${terms} terms with a leader`);
  assert.ok(snapshots > 20, `${snapshots} snapshots installed`);
});

test('the chaos check catches a deliberately broken core (counting stale votes)', () => {
  let caught = 0;
  for (let seed = 1; seed <= 300 && caught === 0; seed++) {
    try {
      runSeed(seed, 1500, true);
    } catch (e) {
      if (e instanceof assert.AssertionError && /two leaders|applied/.test(e.message)) caught++;
      else throw e;
    }
  }
  assert.ok(caught > 0, 'an Election Safety violation was detected');
});
