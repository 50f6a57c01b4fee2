// Targeted campaigns run by `npm test` besides the default one: crashes, torn
// writes and failing disks with frequent small snapshots, election storms,
// lagging followers caught up under steady writes with a snapshot every few
// entries (snapshot starvation, docs/storage.md "Snapshot transfers"), and
// leases under faults and clock steps.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { formatFailure, runCampaign } from './campaign.js';
import { scenarioProfiles } from './scenario.js';

for (const [name, seeds] of [
  ['disk', 70],
  ['storm', 70],
  ['snapshots', 70],
  ['leases', 40],
] as const) {
  it(`the ${name} profile stays safe, live and linearizable for seeds 1..${seeds}`, async () => {
    let storageFailures = 0;
    let snapshots = 0;
    let leaderTerms = 0;
    let heldChunks = 0;
    let granted = 0;
    let expiryEntries = 0;
    let clockSteps = 0;
    const summary = await runCampaign({
      seedStart: 1,
      seeds,
      scenario: scenarioProfiles[name]!,
      onResult: (r) => {
        storageFailures += r.stats.storageFailures;
        snapshots += r.stats.snapshotsInstalled;
        leaderTerms += r.stats.leaderTerms;
        heldChunks += r.stats.heldSnapshotChunks;
        granted += r.stats.leases.granted;
        expiryEntries += r.stats.leases.expiryEntries;
        clockSteps += r.stats.clockSteps;
      },
    });
    if (summary.failure) assert.fail('\n' + formatFailure(summary.failure, ` --profile ${name}`));
    if (name === 'disk') {
      assert.ok(storageFailures > seeds / 2, `only ${storageFailures} disk failures in ${seeds} runs`);
      assert.ok(snapshots > seeds / 4, `only ${snapshots} snapshot installs in ${seeds} runs`);
    } else if (name === 'snapshots') {
      assert.ok(snapshots > seeds / 2, `only ${snapshots} snapshot installs in ${seeds} runs`);
      // Transfers that outlived their snapshot (a newer one was taken meanwhile) and finished with it.
      assert.ok(heldChunks > 0, `only ${heldChunks} chunks of replaced snapshots sent in ${seeds} runs`);
    } else if (name === 'leases') {
      assert.ok(granted > seeds, `only ${granted} leases granted in ${seeds} runs`);
      assert.ok(expiryEntries > seeds / 2, `only ${expiryEntries} expiry entries in ${seeds} runs`);
      assert.ok(clockSteps > seeds / 2, `only ${clockSteps} clock steps in ${seeds} runs`);
    } else {
      assert.ok(leaderTerms > 2 * seeds, `only ${leaderTerms} leader terms in ${seeds} storm runs`);
    }
  });
}

it('the txn profile (compare-and-sets, reads and exactly-once increments as transactions) stays safe, live and linearizable for seeds 1..30', async () => {
  const summary = await runCampaign({ seedStart: 1, seeds: 30, scenario: scenarioProfiles.txn! });
  if (summary.failure) assert.fail('\n' + formatFailure(summary.failure, ' --profile txn'));
});
