// Proof that the simulator finds real safety bugs: the core has a test-only
// flag that counts votes answering an earlier term's election (breaking
// Election Safety, paper §5.2). A campaign must catch it within a few hundred
// seeds, report the seed and the replay command, and replay it exactly.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { formatFailure, replayCommand, runCampaign } from './campaign.js';
import { FailureKind, TraceMode, runSimulation } from './cluster.js';

const seedsMax = 300;
const flag = ' --count-stale-votes';

it(`catches a core that counts stale votes within ${seedsMax} seeds, and replays the failure exactly`, async () => {
  const summary = await runCampaign({ seedStart: 1, seeds: seedsMax, countStaleVotes: true });
  assert.ok(summary.failure, `the injected bug went unnoticed for ${seedsMax} seeds`);
  const failure = summary.failure;
  assert.equal(failure.failure?.kind, FailureKind.Invariant, formatFailure(failure, flag));
  assert.match(failure.failure?.message ?? '', /election safety|leader completeness|log matching|state machine safety/);

  const report = formatFailure(failure, flag);
  assert.match(report, new RegExp(`seed ${failure.seed}\\b`));
  assert.ok(report.includes(replayCommand(failure.seed, flag)));
  assert.ok(report.includes(`npm run sim -- --seed ${failure.seed} --count-stale-votes`));
  assert.ok(failure.traceTail.length > 10, 'the report carries a trace tail');

  // The replay command's run: same failure, same trace.
  const replay = await runSimulation({ seed: failure.seed, countStaleVotes: true, trace: TraceMode.Tail });
  assert.equal(replay.ok, false);
  assert.deepEqual(replay.failure, failure.failure);
  assert.equal(replay.traceDigest, failure.traceDigest);

  // And the same seed with the correct core is fine: the failure is the bug's doing.
  const healthy = await runSimulation({ seed: failure.seed, trace: TraceMode.Off });
  assert.ok(healthy.ok, healthy.failure?.message);
});
