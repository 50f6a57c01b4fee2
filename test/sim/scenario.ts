/**
 * A run's parameters, all derived from its seed: cluster size, how hostile
 * the network is, which faults are injected and how often, the client
 * workload, compaction. Varying these per seed is what
 * makes a campaign cover calm runs and chaotic ones.
 */
import type { NetworkFaults } from './network.js';
import type { SimDiskFaults } from './sim-disk.js';
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
  /** Everything one member sends is delayed by up to a few election timeouts. */
  SlowNode: 'slow-node',
  Heal: 'heal',
  /** Crash a member: unsynced writes are lost (in some runs torn: a prefix survives, cut at any byte). */
  CrashRandom: 'crash-random',
  CrashLeader: 'crash-leader',
  /** Every member crashes at once (and restarts later): only durable state survives. */
  CrashAll: 'crash-all',
  Restart: 'restart',
  TransferLeadership: 'transfer-leadership',
  /** The next fdatasync of a member (the leader, or any) fails with EIO or ENOSPC: the member stops as the server does. */
  DiskFailure: 'disk-failure',
  /** A member's fdatasyncs take much longer for a while (a latency spike). */
  SlowDisk: 'slow-disk',
  /** A member (often the leader) shuts down gracefully, as `concord server` does on SIGTERM, and stays down until restarted. */
  GracefulRestart: 'graceful-restart',
  /** The leader's wall clock steps forward or back (NTP, an operator): entries carry its time. */
  ClockStep: 'clock-step',
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

export interface Scenario {
  readonly seed: number;
  readonly clusterSize: 3 | 5;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Core options (production: both on). */
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Faults are injected during this phase; afterwards everything heals and liveness is checked. */
  readonly faultPhaseMs: number;
  readonly network: NetworkFaults;
  /** fdatasync latency and spikes (sim-disk.ts). */
  readonly disk: SimDiskFaults;
  /** On a crash, probability that the disk tears (a prefix of the unsynced writes survives, the last cut short). */
  readonly crashTearRate: number;
  readonly faultIntervalMinMs: number;
  readonly faultIntervalMaxMs: number;
  /** Fault kinds drawn from (with repeats acting as weights). */
  readonly faultKinds: readonly FaultKind[];
  /** Largest leader clock step, either way. */
  readonly clockStepMaxMs: number;
  readonly registerClients: number;
  readonly keys: readonly string[];
  readonly counterClients: number;
  readonly counterKeys: readonly string[];
  /** Clients that grant leases, attach keys, keep some alive, revoke some and let the rest expire (workloads.ts). */
  readonly leaseClients: number;
  /** Members stamp entries with the production entry clock (sim-member.ts MemberConfig.entryClock). */
  readonly entryClock: boolean;
  /**
   * Clients also use transactions: compare-and-set as a txn (version
   * compare, put, else get), reads as read-only txns, increments as txns
   * retried through the session. Off by default (no random draws, so the
   * other profiles' seeds replay unchanged); the txn profile turns it on.
   */
  readonly txn: boolean;
  /** Each client call's deadline (timeoutMs), retries included. */
  readonly clientTimeoutMs: number;
  /** The members' requestTimeoutMs. */
  readonly requestTimeoutMs: number;
  /** Pause between a client's operations. */
  readonly clientThinkMinMs: number;
  readonly clientThinkMaxMs: number;
  /** Take a snapshot and compact the log every this many applied entries; 0: never. */
  readonly snapshotEveryEntries: number;
  /** Max bytes in one InstallSnapshot chunk (small, so snapshots take several chunks). */
  readonly snapshotChunkBytes: number;
  /** How far a leader postpones its snapshot while a follower catches up (RaftHost snapshotCatchUpEntries). */
  readonly snapshotCatchUpEntries: number;
  /** After healing: ticks within which a leader must be elected and a probe write commit. */
  readonly livenessTicksMax: number;
  /**
   * Clients keep writing after the heal until liveness is met (instead of
   * going quiet): a lagging member must catch up under steady writes, which
   * with frequent snapshots means a snapshot transfer racing newer snapshots.
   */
  readonly writesAfterHeal: boolean;
}

export function scenarioForSeed(seed: number): Scenario {
  const rng = new Prng(seed ^ 0x5ce7a210);
  const clusterSize = rng.chance(0.5) ? 3 : 5;
  const tickMs = 10;
  const calm = rng.chance(0.1);
  // An "election storm": latency close to a short election timeout, so elections are contested,
  // candidates time out with votes still in flight, and leaders come and go.
  const stormy = !calm && rng.chance(0.3);
  const electionTicks = stormy ? 4 : 10;
  const lossy = !calm && rng.chance(0.5);
  const network: NetworkFaults = {
    lossRate: lossy ? rng.pick([0.01, 0.03, 0.1]) : 0,
    duplicateRate: calm ? 0 : stormy ? 0.1 : rng.pick([0, 0.02, 0.1]),
    delayMinMs: 1,
    delayMaxMs: stormy ? 60 : rng.pick([2, 5, 10, 20, 40]),
    stallRate: calm ? 0 : stormy ? 0.1 : rng.pick([0, 0.01, 0.05]),
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
    FaultKind.DiskFailure,
    FaultKind.SlowDisk,
    FaultKind.ClockStep,
    FaultKind.GracefulRestart,
  ];
  // Each run enables a random subset, so some runs hammer one kind of fault.
  let kinds = calm ? [] : allKinds.filter(() => rng.chance(0.5));
  if (!calm && kinds.length === 0) kinds = [rng.pick(allKinds)];
  const faultKinds: FaultKind[] = [...kinds];
  for (const k of kinds) {
    if (k === FaultKind.CrashLeader || k === FaultKind.IsolateLeader || k === FaultKind.SlowNode) faultKinds.push(k);
  }
  if (kinds.length > 0) faultKinds.push(FaultKind.Heal, FaultKind.Heal, FaultKind.Restart, FaultKind.Restart);
  const keyCount = rng.between(1, 3);
  const clientTimeoutMs = rng.pick([50, 100, 200]) * tickMs;
  return {
    seed,
    clusterSize,
    tickMs,
    electionTicks,
    heartbeatTicks: 1,
    preVote: rng.chance(0.75),
    checkQuorum: rng.chance(0.75),
    faultPhaseMs: rng.between(120, 300) * tickMs,
    network,
    disk: {
      syncDelayMinMs: 0,
      syncDelayMaxMs: rng.pick([1, 3, 8]),
      spikeRate: calm ? 0 : rng.pick([0, 0.01, 0.05]),
      spikeMaxMs: rng.pick([50, 200]),
    },
    crashTearRate: rng.pick([0, 0.5, 1]),
    faultIntervalMinMs: 3 * tickMs,
    faultIntervalMaxMs: rng.pick([10, 30, 60]) * tickMs,
    faultKinds,
    clockStepMaxMs: rng.pick([1_000, 30_000, 120_000]),
    registerClients: rng.between(1, 4),
    keys: ['x', 'y', 'z'].slice(0, keyCount),
    counterClients: rng.between(1, 3),
    // Not drawn from the seed's stream: the default campaign's seeds stay as they were (the leases profile sets it).
    leaseClients: 0,
    entryClock: false,
    counterKeys: ['k0', 'k1'].slice(0, rng.between(1, 2)),
    txn: false,
    clientTimeoutMs,
    requestTimeoutMs: rng.pick([clientTimeoutMs / 2, 2 * clientTimeoutMs]),
    clientThinkMinMs: rng.pick([5, 10, 20]),
    clientThinkMaxMs: rng.pick([30, 60, 100]),
    snapshotEveryEntries: rng.pick([0, 5, 10, 25, 50]),
    snapshotChunkBytes: rng.pick([64, 256, 4096]),
    snapshotCatchUpEntries: 100,
    livenessTicksMax: 300,
    writesAfterHeal: false,
  };
}

/**
 * Named variations of the seed's scenario, for targeted campaigns
 * (`npm run sim -- --profile NAME`). A failure found under a profile replays
 * with the same `--profile`.
 */
export const scenarioProfiles: Readonly<Record<string, (s: Scenario) => Scenario>> = {
  default: (s) => s,
  /** Crashes, torn writes, failing and slow disks. */
  disk: (s) => ({
    ...s,
    faultKinds: [
      FaultKind.CrashRandom,
      FaultKind.CrashLeader,
      FaultKind.CrashAll,
      FaultKind.DiskFailure,
      FaultKind.DiskFailure,
      FaultKind.SlowDisk,
      FaultKind.Restart,
      FaultKind.Restart,
      FaultKind.Heal,
    ],
    crashTearRate: 0.7,
    snapshotEveryEntries: 5,
    snapshotChunkBytes: 64,
    faultIntervalMaxMs: 20 * s.tickMs,
  }),
  /**
   * Exactly-once under stress: many counter clients, lost answers, leaders
   * cut off, and leader clock steps past the session TTL (sessions expire
   * while writes are being retried).
   */
  sessions: (s) => ({
    ...s,
    faultKinds: [
      FaultKind.ClockStep,
      FaultKind.ClockStep,
      FaultKind.GracefulRestart,
      FaultKind.IsolateLeader,
      FaultKind.DeafLeader,
      FaultKind.OneWayCut,
      FaultKind.CrashLeader,
      FaultKind.TransferLeadership,
      FaultKind.Restart,
      FaultKind.Heal,
    ],
    network: { ...s.network, lossRate: Math.max(s.network.lossRate, 0.03) },
    clockStepMaxMs: 150_000,
    counterClients: 4,
    registerClients: 1,
  }),
  /** Transactions in the register and exactly-once workloads, under the sessions profile's faults. */
  txn: (s) => ({ ...scenarioProfiles.sessions!(s), txn: true, registerClients: 3, counterClients: 3 }),
  /**
   * A follower catching up under steady writes while the leader snapshots
   * every few entries with small chunks (snapshot starvation: a transfer
   * restarted by each newer snapshot never finished). Members fall behind
   * (crashes, restarts, cut-off minorities, slow members) and clients keep
   * writing through the heal until every member has applied the probe.
   */
  snapshots: (s) => ({
    ...s,
    faultKinds: [
      FaultKind.CrashRandom,
      FaultKind.CrashLeader,
      FaultKind.SplitMinority,
      FaultKind.Partition,
      FaultKind.SlowNode,
      FaultKind.GracefulRestart,
      FaultKind.Restart,
      FaultKind.Heal,
    ],
    snapshotEveryEntries: s.seed % 2 === 0 ? 3 : 5,
    snapshotChunkBytes: 32,
    // Mostly room for a follower to catch up from the log after its transfer; in one run of three
    // so little that newer snapshots are taken while a transfer is in flight (it finishes with its own).
    snapshotCatchUpEntries: s.seed % 3 === 0 ? 10 : 1000,
    registerClients: Math.max(s.registerClients, 3),
    counterClients: Math.max(s.counterClients, 2),
    clientThinkMinMs: 5,
    clientThinkMaxMs: 30,
    writesAfterHeal: true,
  }),
  /**
   * Every run an election storm: short election timeout, latency close to it,
   * duplicates, stalls; pre-vote on in one run of three.
   */
  /**
   * Leases under faults and leader clock steps: lease clients beside the
   * register and counter clients, so the exactly-once and linearizability
   * checks run with lease traffic and expiries, and the lease checks
   * (workloads.ts LeaseBook) run with partitions, crashes and clock steps.
   */
  leases: (s) => ({
    ...s,
    leaseClients: 3,
    entryClock: true,
    // Long enough for leases to be granted, renewed, revoked and expire during the faults.
    faultPhaseMs: Math.max(s.faultPhaseMs, 2500),
    faultKinds: [...s.faultKinds, FaultKind.ClockStep, FaultKind.IsolateLeader, FaultKind.CrashLeader],
    clockStepMaxMs: 30_000,
    // Lost answers: grants, keep-alives and revokes are retried in their session (exactly-once).
    network: { ...s.network, lossRate: Math.max(s.network.lossRate, 0.05) },
  }),
  storm: (s) => ({
    ...s,
    electionTicks: 4,
    preVote: s.seed % 3 === 0,
    network: { ...s.network, delayMaxMs: 60, stallRate: 0.1, stallMaxMs: 150, duplicateRate: 0.1 },
  }),
};
