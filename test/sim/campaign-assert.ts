/**
 * Shared body of the campaign test files: run a range of seeds, fail with
 * the full report (seed, replay command, trace tail) on the first failure,
 * and check that the range really exercised the faults it is meant to
 * (a campaign in which nothing ever crashes proves little).
 */
import assert from 'node:assert/strict';
import { formatFailure, runCampaign } from './campaign.js';
import type { SimStats } from './cluster.js';

export interface CampaignCoverage {
  runs: number;
  crashes: number;
  leaderTermsMax: number;
  snapshotsInstalled: number;
  storageFailures: number;
  clockSteps: number;
  tornCrashes: number;
  increments: number;
  transfers: number;
  unknownOutcomes: number;
  okOperations: number;
  fiveNodeRuns: number;
}

export async function assertSeedsPass(seedStart: number, seeds: number): Promise<CampaignCoverage> {
  const coverage: CampaignCoverage = {
    runs: 0,
    crashes: 0,
    leaderTermsMax: 0,
    snapshotsInstalled: 0,
    storageFailures: 0,
    clockSteps: 0,
    tornCrashes: 0,
    increments: 0,
    transfers: 0,
    unknownOutcomes: 0,
    okOperations: 0,
    fiveNodeRuns: 0,
  };
  const add = (s: SimStats) => {
    coverage.runs++;
    coverage.crashes += s.crashes;
    coverage.leaderTermsMax = Math.max(coverage.leaderTermsMax, s.leaderTerms);
    coverage.snapshotsInstalled += s.snapshotsInstalled;
    coverage.storageFailures += s.storageFailures;
    coverage.clockSteps += s.clockSteps;
    coverage.tornCrashes += s.tornCrashes;
    coverage.increments += s.increments.acked;
    coverage.transfers += s.leadershipTransfers;
    coverage.unknownOutcomes += s.operations.unknown;
    coverage.okOperations += s.operations.ok;
    if (s.clusterSize === 5) coverage.fiveNodeRuns++;
  };
  const summary = await runCampaign({ seedStart, seeds, onResult: (r) => add(r.stats) });
  if (summary.failure) assert.fail('\n' + formatFailure(summary.failure));
  assert.equal(summary.seedsRun, seeds);
  // The schedules must be varied: every kind of trouble shows up somewhere in the range.
  assert.ok(coverage.crashes > seeds / 10, `too few crashes: ${JSON.stringify(coverage)}`);
  assert.ok(coverage.leaderTermsMax >= 5, `no run with many leader changes: ${JSON.stringify(coverage)}`);
  assert.ok(coverage.snapshotsInstalled > 0, `no snapshot was ever installed: ${JSON.stringify(coverage)}`);
  assert.ok(coverage.storageFailures > 0, `no disk failure: ${JSON.stringify(coverage)}`);
  assert.ok(coverage.clockSteps > 0, `no clock step: ${JSON.stringify(coverage)}`);
  assert.ok(coverage.tornCrashes > 0, `no torn write: ${JSON.stringify(coverage)}`);
  assert.ok(coverage.increments > 0, `no acknowledged increment: ${JSON.stringify(coverage)}`);
  assert.ok(coverage.transfers > 0, `no leadership transfer: ${JSON.stringify(coverage)}`);
  assert.ok(coverage.unknownOutcomes > 0, `no operation with an unknown outcome: ${JSON.stringify(coverage)}`);
  assert.ok(coverage.fiveNodeRuns > 0 && coverage.fiveNodeRuns < seeds, `cluster sizes not varied: ${JSON.stringify(coverage)}`);
  return coverage;
}
