// Targeted campaigns run by `npm test` besides the default one: crashes, torn
// writes and failing disks with frequent small snapshots, and election storms.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { formatFailure, runCampaign } from './campaign.js';
import { scenarioProfiles } from './scenario.js';

for (const [name, seeds] of [
  ['disk', 100],
  ['storm', 100],
] as const) {
  it(`the ${name} profile stays safe, live and linearizable for seeds 1..${seeds}`, async () => {
    let storageFailures = 0;
    let snapshots = 0;
    let leaderTerms = 0;
    const summary = await runCampaign({
      seedStart: 1,
      seeds,
      scenario: scenarioProfiles[name]!,
      onResult: (r) => {
        storageFailures += r.stats.storageFailures;
        snapshots += r.stats.snapshotsInstalled;
        leaderTerms += r.stats.leaderTerms;
      },
    });
    if (summary.failure) assert.fail('\n' + formatFailure(summary.failure, ` --profile ${name}`));
    if (name === 'disk') {
      assert.ok(storageFailures > seeds / 2, `only ${storageFailures} disk failures in ${seeds} runs`);
      assert.ok(snapshots > seeds / 4, `only ${snapshots} snapshot installs in ${seeds} runs`);
    } else {
      assert.ok(leaderTerms > 2 * seeds, `only ${leaderTerms} leader terms in ${seeds} storm runs`);
    }
  });
}

it('the txn profile (compare-and-sets, reads and exactly-once increments as transactions) stays safe, live and linearizable for seeds 1..30', async () => {
  const summary = await runCampaign({ seedStart: 1, seeds: 30, scenario: scenarioProfiles.txn! });
  if (summary.failure) assert.fail('\n' + formatFailure(summary.failure, ' --profile txn'));
});
