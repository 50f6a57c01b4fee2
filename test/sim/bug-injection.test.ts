// Proof that the simulator finds real safety bugs in the production member:
// - the core's test-only flag that counts votes answering an earlier term's
//   election (breaking Election Safety, paper §5.2);
// - a disk that acknowledges fdatasync without syncing (sim-disk.ts
//   `testingOnlyUnsafe.skipDatasync`): the storage acknowledges, and the host
//   sends votes and acknowledgements, before anything is durable;
// - a host that lets each newer snapshot restart a transfer at offset 0
//   (RaftHost `testingOnlyUnsafe.restartSnapshotTransfers`, the snapshot
//   starvation bug), under the snapshots profile: a lagging follower never
//   catches up while clients keep writing.
// A campaign must catch each within a few hundred seeds, report the seed and
// the replay command, and replay it exactly; the same seed without the bug passes.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { formatFailure, replayCommand, runCampaign } from './campaign.js';
import { FailureKind, TraceMode, runSimulation } from './cluster.js';
import { scenarioProfiles, type Scenario } from './scenario.js';

const cases = [
  {
    name: 'a core that counts stale votes',
    seedsMax: 300,
    flag: ' --count-stale-votes',
    bug: { countStaleVotes: true },
    kinds: [FailureKind.Invariant] as string[],
    message: /election safety|leader completeness|log matching|state machine safety/,
  },
  {
    name: 'a disk that acknowledges fdatasync without syncing',
    seedsMax: 300,
    flag: ' --skip-datasync',
    bug: { skipDatasync: true },
    // Seen as a durable term going back, lost acknowledged writes, or a member refusing to start on
    // the half-written files its lying disk left (a corrupt snapshot or log).
    kinds: [FailureKind.Invariant, FailureKind.Linearizability, FailureKind.ExactlyOnce, FailureKind.Exception] as string[],
    message: /durable term|one vote per term|election safety|leader completeness|log matching|state machine safety|linearizable|counter|corrupt/,
  },
  {
    name: 'a host whose snapshot transfers restart with each newer snapshot (snapshot starvation)',
    seedsMax: 60,
    flag: ' --restart-snapshot-transfers --profile snapshots',
    bug: { restartSnapshotTransfers: true },
    scenario: scenarioProfiles['snapshots'],
    kinds: [FailureKind.Liveness] as string[],
    message: /not applied on/,
  },
] as { name: string; seedsMax: number; flag: string; bug: object; scenario?: (s: Scenario) => Scenario; kinds: string[]; message: RegExp }[];

for (const c of cases) {
  it(`catches ${c.name} within ${c.seedsMax} seeds, and replays the failure exactly`, async () => {
    const profile = c.scenario ? { scenario: c.scenario } : {};
    const summary = await runCampaign({ seedStart: 1, seeds: c.seedsMax, ...c.bug, ...profile });
    assert.ok(summary.failure, `the injected bug went unnoticed for ${c.seedsMax} seeds`);
    const failure = summary.failure;
    const report = formatFailure(failure, c.flag);
    assert.ok(c.kinds.includes(failure.failure?.kind ?? ''), report);
    assert.match(failure.failure?.message ?? '', c.message);

    assert.match(report, new RegExp(`seed ${failure.seed}\\b`));
    assert.ok(report.includes(replayCommand(failure.seed, c.flag)));
    assert.ok(report.includes(`npm run sim -- --seed ${failure.seed}${c.flag}`));
    assert.ok(failure.traceTail.length > 10, 'the report carries a trace tail');

    // The replay command's run: same failure, same trace.
    const replay = await runSimulation({ seed: failure.seed, ...c.bug, ...profile, trace: TraceMode.Tail });
    assert.equal(replay.ok, false);
    assert.deepEqual(replay.failure, failure.failure);
    assert.equal(replay.traceDigest, failure.traceDigest);

    // And the same seed without the bug is fine: the failure is the bug's doing.
    const healthy = await runSimulation({ seed: failure.seed, ...profile, trace: TraceMode.Off });
    assert.ok(healthy.ok, healthy.failure?.message);
  });
}
