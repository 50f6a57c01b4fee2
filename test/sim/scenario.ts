/**
 * A run's parameters, all derived from its seed: cluster size, how hostile
 * the network is, which faults are injected and how often, the client
 * workload, compaction, membership changes. Varying these per seed is what
 * makes a campaign cover calm runs and chaotic ones.
 */
import type { NetworkFaults } from './network.js';
import { Prng } from '../../src/common/rng.js';

export const FaultKind = {
  /** Split the cluster in two random groups (symmetric). */
  Partition: 'partition',
  /** Cut the current leader off from everyone. */
  IsolateLeader: 'isolate-leader',
  /** Leader can send but not receive (one-way): check-quorum must make it step down. */
  DeafLeader: 'deaf-leader',
  /** Cut one random directed link. */
  OneWayCut: 'one-way-cut',
  /** Isolate a minority of followers together. */
  SplitMinority: 'split-minority',
  /** Everything one node sends is delayed by up to a few election timeouts. */
  SlowNode: 'slow-node',
  Heal: 'heal',
  CrashRandom: 'crash-random',
  CrashLeader: 'crash-leader',
  /** Every node crashes at once (and restarts later): only persisted state survives. */
  CrashAll: 'crash-all',
  Restart: 'restart',
  TransferLeadership: 'transfer-leadership',
  Membership: 'membership',
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

export interface Scenario {
  readonly seed: number;
  readonly clusterSize: 3 | 5;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Core options: both settings of each are exercised. */
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Faults are injected during this phase; afterwards everything heals and liveness is checked. */
  readonly faultPhaseMs: number;
  readonly network: NetworkFaults;
  readonly fsyncDelayMinMs: number;
  readonly fsyncDelayMaxMs: number;
  /** On a crash, probability that the write in progress reached the disk anyway (it was just not acknowledged). */
  readonly crashKeepsInflightWriteRate: number;
  readonly faultIntervalMinMs: number;
  readonly faultIntervalMaxMs: number;
  /** Fault kinds drawn from (with repeats acting as weights). */
  readonly faultKinds: readonly FaultKind[];
  readonly clientCount: number;
  readonly keys: readonly string[];
  readonly clientTimeoutMs: number;
  /** Pause between a client's operations. */
  readonly clientThinkMinMs: number;
  readonly clientThinkMaxMs: number;
  /** Take a snapshot and compact the log every this many applied entries; 0: never. */
  readonly snapshotEveryEntries: number;
  /** Max bytes in one InstallSnapshot chunk (small, so snapshots take several chunks). */
  readonly snapshotChunkBytes: number;
  /** After healing: ticks within which a leader must be elected and a probe write commit. */
  readonly livenessTicksMax: number;
  /**
   * How the host applies committed entries: false, when the Ready carrying
   * them is durable; true, at once, and also while a Ready's fsync is in
   * flight (RaftNode.takeCommittedEntries), as the server does.
   */
  readonly applyBeforeDurable: boolean;
  /**
   * Whether a host sends the core's messages while a Ready's fsync is in
   * flight (RaftNode.takeMessages: a leader replicates new proposals before
   * its own disk is done with the last batch), as the server does under load.
   */
  readonly sendDuringPersist: boolean;
}

export function scenarioForSeed(seed: number): Scenario {
  const rng = new Prng(seed ^ 0x5ce7a210);
  const clusterSize = rng.chance(0.5) ? 3 : 5;
  const tickMs = 10;
  const calm = rng.chance(0.15);
  // An "election storm": latency close to a short election timeout, so elections are contested,
  // candidates time out with votes still in flight, and leaders come and go.
  const stormy = !calm && rng.chance(0.5);
  const electionTicks = stormy ? 4 : 10;
  const lossy = !calm && rng.chance(0.6);
  const network: NetworkFaults = {
    lossRate: lossy ? rng.pick([0.01, 0.05, 0.1, 0.2]) : 0,
    duplicateRate: calm ? 0 : stormy ? 0.1 : rng.pick([0, 0.02, 0.1]),
    delayMinMs: 1,
    // Some runs have a slow network (latency near the election timeout): contested elections.
    delayMaxMs: stormy ? 60 : rng.pick([2, 5, 10, 20, 40, 80]),
    stallRate: calm ? 0 : stormy ? 0.1 : rng.pick([0, 0.01, 0.05, 0.1]),
    stallMaxMs: stormy ? 150 : rng.pick([50, 150, 400]),
  };
  const allKinds: FaultKind[] = [
    FaultKind.Partition,
    FaultKind.IsolateLeader,
    FaultKind.DeafLeader,
    FaultKind.OneWayCut,
    FaultKind.SplitMinority,
    FaultKind.SlowNode,
    FaultKind.CrashRandom,
    FaultKind.CrashLeader,
    FaultKind.CrashAll,
    FaultKind.TransferLeadership,
    FaultKind.Membership,
  ];
  // Each run enables a random subset, so some runs hammer one kind of fault.
  let kinds = calm ? [] : allKinds.filter(() => rng.chance(0.5));
  if (!calm && kinds.length === 0) kinds = [rng.pick(allKinds)];
  const faultKinds: FaultKind[] = [...kinds];
  // Leader-directed faults and slow nodes cause the most elections, and a membership change
  // takes several steps (add learner, promote, remove): weigh them up.
  for (const k of kinds) {
    if (k === FaultKind.CrashLeader || k === FaultKind.IsolateLeader || k === FaultKind.SlowNode || k === FaultKind.Membership) faultKinds.push(k);
  }
  if (kinds.length > 0) {
    // Healing and restarting must keep pace with breaking.
    faultKinds.push(FaultKind.Heal, FaultKind.Heal, FaultKind.Restart, FaultKind.Restart);
  }
  const keyCount = rng.between(1, 3);
  return {
    seed,
    clusterSize,
    tickMs,
    electionTicks,
    heartbeatTicks: 1,
    preVote: rng.chance(stormy ? 0.3 : 0.75),
    checkQuorum: rng.chance(0.75),
    faultPhaseMs: rng.between(100, 300) * tickMs,
    network,
    fsyncDelayMinMs: 0,
    fsyncDelayMaxMs: rng.pick([1, 3, 8, 15]),
    crashKeepsInflightWriteRate: rng.pick([0, 0.5]),
    faultIntervalMinMs: 3 * tickMs,
    faultIntervalMaxMs: rng.pick([10, 30, 60]) * tickMs,
    faultKinds,
    clientCount: rng.between(2, 5),
    keys: ['x', 'y', 'z'].slice(0, keyCount),
    clientTimeoutMs: rng.pick([15, 30, 60]) * tickMs,
    clientThinkMinMs: rng.pick([5, 10, 20]),
    clientThinkMaxMs: rng.pick([30, 60, 100]),
    snapshotEveryEntries: rng.pick([0, 5, 10, 25, 50]),
    snapshotChunkBytes: rng.pick([32, 128, 1024]),
    livenessTicksMax: 200,
    // Its own stream, so that adding this choice left every other draw of a seed as it was.
    applyBeforeDurable: new Prng(seed ^ 0x0a9971ed).chance(0.5),
    sendDuringPersist: new Prng(seed ^ 0x5e9d0a11).chance(0.5),
  };
}

/**
 * Named variations of the seed's scenario, for targeted campaigns
 * (`npm run sim -- --profile NAME`). A failure found under a profile replays
 * with the same `--profile`.
 */
export const scenarioProfiles: Readonly<Record<string, (s: Scenario) => Scenario>> = {
  default: (s) => s,
  /** Membership changes, crashes and frequent snapshots with small chunks. */
  membership: (s) => ({
    ...s,
    faultKinds: [
      FaultKind.Membership,
      FaultKind.Membership,
      FaultKind.Membership,
      FaultKind.CrashRandom,
      FaultKind.CrashLeader,
      FaultKind.Restart,
      FaultKind.Restart,
      FaultKind.Heal,
      FaultKind.Partition,
      FaultKind.TransferLeadership,
      FaultKind.IsolateLeader,
    ],
    snapshotEveryEntries: 5,
    snapshotChunkBytes: 32,
    faultIntervalMaxMs: 20 * s.tickMs,
  }),
  /**
   * Every run an election storm: short election timeout, latency close to it,
   * duplicates, stalls; pre-vote on in one run of three.
   */
  storm: (s) => ({
    ...s,
    electionTicks: 4,
    preVote: s.seed % 3 === 0,
    network: { ...s.network, delayMaxMs: 60, stallRate: 0.1, stallMaxMs: 150, duplicateRate: 0.1 },
  }),
};
