// Targeted campaigns run by `npm test` besides the default one: membership
// changes with frequent small snapshots (where F1, a stalled snapshot transfer,
// was found), and election storms.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { formatFailure, runCampaign } from './campaign.js';
import { scenarioProfiles } from './scenario.js';

for (const [name, seeds] of [
  ['membership', 250],
  ['storm', 250],
] as const) {
  it(`the ${name} profile stays safe, live and linearizable for seeds 1..${seeds}`, () => {
    let confChanges = 0;
    let snapshots = 0;
    let leaderTerms = 0;
    const summary = runCampaign({
      seedStart: 1,
      seeds,
      scenario: scenarioProfiles[name]!,
      onResult: (r) => {
        confChanges += r.stats.confChangesProposed;
        snapshots += r.stats.snapshotsInstalled;
        leaderTerms += r.stats.leaderTerms;
      },
    });
    if (summary.failure) assert.fail('\n' + formatFailure(summary.failure, ` --profile ${name}`));
    if (name === 'membership') {
      assert.ok(confChanges > seeds, `only ${confChanges} membership changes in ${seeds} runs`);
      assert.ok(snapshots > seeds, `only ${snapshots} snapshot installs in ${seeds} runs`);
    } else {
      assert.ok(leaderTerms > 2 * seeds, `only ${leaderTerms} leader terms in ${seeds} storm runs`);
    }
  });
}
