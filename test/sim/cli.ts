/**
 * `npm run sim -- [options]`: run the deterministic cluster simulator.
 *
 *   --seed N              run one seed (replays a failure exactly)
 *   --seed N --trace      ... and print its full trace
 *   --seeds K             run a campaign of K seeds (from --seed-start, default 1)
 *   --seed-start S        first seed of a campaign
 *   --count-stale-votes   run the core with its deliberately unsafe vote counting
 *   --skip-datasync       members' disks acknowledge fdatasync without syncing (a planted bug)
 *   --restart-snapshot-transfers  a newer snapshot restarts a transfer at offset 0 (a planted bug: starvation)
 *   --profile NAME        a scenario variation (default, disk, sessions, storm, snapshots, txn, leases)
 *   --json                one JSON object per seed instead of text
 *
 * Exits non-zero on the first failure, printing the seed, the command that
 * replays it and the tail of its trace.
 */
import { Command, InvalidArgumentError } from 'commander';
import { formatFailure, runCampaign } from './campaign.js';
import { TraceMode, runSimulation } from './cluster.js';
import { scenarioProfiles } from './scenario.js';

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

const program = new Command()
  .name('sim')
  .description('Deterministic whole-cluster simulator running the production Concord member and client')
  .option('--seed <n>', 'run one seed', integer)
  .option('--seeds <k>', 'run a campaign of k seeds', integer)
  .option('--seed-start <s>', 'first seed of a campaign', integer, 1)
  .option('--trace', 'print the full trace of the run (with --seed)', false)
  .option('--count-stale-votes', 'inject the core bug that counts stale votes', false)
  .option('--skip-datasync', "inject a disk that acknowledges fdatasync without syncing", false)
  .option('--restart-snapshot-transfers', 'inject a host whose snapshot transfers restart with each newer snapshot', false)
  .option('--profile <name>', `scenario variation: ${Object.keys(scenarioProfiles).join(', ')}`, 'default')
  .option('--json', 'print one JSON object per seed', false)
  .parse();

const opts = program.opts<{
  seed?: number;
  seeds?: number;
  seedStart: number;
  trace: boolean;
  countStaleVotes: boolean;
  skipDatasync: boolean;
  restartSnapshotTransfers: boolean;
  profile: string;
  json: boolean;
}>();

const profile = scenarioProfiles[opts.profile];
if (profile === undefined) {
  process.stderr.write(`unknown profile ${opts.profile} (known: ${Object.keys(scenarioProfiles).join(', ')})\n`);
  process.exit(2);
}
const extraFlags =
  (opts.countStaleVotes ? ' --count-stale-votes' : '') +
  (opts.skipDatasync ? ' --skip-datasync' : '') +
  (opts.restartSnapshotTransfers ? ' --restart-snapshot-transfers' : '') + (opts.profile !== 'default' ? ` --profile ${opts.profile}` : '');

if (opts.seed !== undefined && opts.seeds === undefined) {
  const result = await runSimulation({
    seed: opts.seed,
    trace: opts.trace ? TraceMode.Full : TraceMode.Tail,
    countStaleVotes: opts.countStaleVotes,
    skipDatasync: opts.skipDatasync,
    restartSnapshotTransfers: opts.restartSnapshotTransfers,
    scenario: profile,
  });
  if (opts.trace && result.fullTrace) for (const line of result.fullTrace) process.stdout.write(line + '\n');
  if (opts.json) {
    process.stdout.write(JSON.stringify({ seed: result.seed, ok: result.ok, failure: result.failure ?? null, digest: result.traceDigest, stats: result.stats }) + '\n');
  } else if (result.ok) {
    const st = result.stats;
    process.stdout.write(
      `seed ${result.seed}: ok  (${st.clusterSize} nodes, ${st.simulatedMs} ms simulated, ${st.events} events, ` +
        `${st.operations.ok} ops ok / ${st.operations.unknown} unknown, ${st.increments.acked} increments acked / ${st.increments.unresolved} unresolved, ${st.leaderTerms} leader terms, ` +
        `${st.crashes} crashes, ${st.snapshotsInstalled} snapshot installs, liveness ${st.healToLivenessMs} ms after heal; trace ${result.traceDigest})\n`,
    );
  } else {
    process.stdout.write(formatFailure(result, extraFlags) + '\n');
  }
  process.exit(result.ok ? 0 : 1);
} else {
  const count = opts.seeds ?? 100;
  const start = opts.seed ?? opts.seedStart;
  const summary = await runCampaign({
    seedStart: start,
    seeds: count,
    countStaleVotes: opts.countStaleVotes,
    skipDatasync: opts.skipDatasync,
    restartSnapshotTransfers: opts.restartSnapshotTransfers,
    scenario: profile,
    onProgress: (done, elapsedMs) => {
      if (opts.json) return;
      const rate = (done / Math.max(1, elapsedMs)) * 1000;
      process.stderr.write(`\r${done}/${count} seeds (up to ${start + done - 1}), ${rate.toFixed(0)} seeds/s   `);
    },
    onResult: (r) => {
      if (opts.json) process.stdout.write(JSON.stringify({ seed: r.seed, ok: r.ok, failure: r.failure ?? null, stats: r.stats }) + '\n');
    },
  });
  if (!opts.json) process.stderr.write('\n');
  if (summary.failure) {
    process.stdout.write(formatFailure(summary.failure, extraFlags) + '\n');
    process.exit(1);
  }
  if (!opts.json) process.stdout.write(`${summary.seedsRun} seeds from ${start}: all ok (${(summary.elapsedMs / 1000).toFixed(1)} s)\n`);
}
