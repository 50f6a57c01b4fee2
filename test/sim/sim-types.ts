/**
 * The shapes of a simulation run: its options, its failure kinds, and the
 * result and statistics it reports (cluster.ts runs it; campaign.ts and the
 * CLI report it).
 */
import type { Scenario } from './scenario.js';

export interface SimOptions {
  readonly seed: number;
  /**
   * `off` (fastest: no trace is built; a failing seed is re-run with `tail`
   * for its report), `tail` (the last lines and a digest of all), `full`.
   * Default `tail`.
   */
  readonly trace?: TraceMode;
  readonly traceTailLines?: number;
  /** Run the core with its deliberately unsafe vote counting (bug-injection test). */
  readonly countStaleVotes?: boolean;
  /** Members' disks acknowledge fdatasync without syncing (bug-injection test). */
  readonly skipDatasync?: boolean;
  /** Members' hosts let a newer snapshot restart a transfer at offset 0 (bug-injection test: snapshot starvation). */
  readonly restartSnapshotTransfers?: boolean;
  /** Search budget of the linearizability check (default 2,000,000 steps). */
  readonly linearizabilityStepsMax?: number;
  /** Adjust the seed's scenario (tests use this to force a cluster shape). */
  readonly scenario?: (s: Scenario) => Scenario;
}

export const TraceMode = {
  Off: 'off',
  Tail: 'tail',
  Full: 'full',
} as const;
export type TraceMode = (typeof TraceMode)[keyof typeof TraceMode];

export const FailureKind = {
  Invariant: 'invariant',
  Linearizability: 'linearizability',
  /** The exactly-once counters do not add up. */
  ExactlyOnce: 'exactly-once',
  Liveness: 'liveness',
  /** Production code (or the simulator) threw: an assertion failed or an API contract was broken. */
  Exception: 'exception',
} as const;
export type FailureKind = (typeof FailureKind)[keyof typeof FailureKind];

export interface SimFailure {
  readonly kind: FailureKind;
  readonly message: string;
  readonly timeMs: number;
}

export interface SimStats {
  readonly clusterSize: number;
  readonly simulatedMs: number;
  readonly events: number;
  readonly messagesSent: number;
  readonly messagesDropped: number;
  readonly crashes: number;
  readonly faults: number;
  readonly leaderTerms: number;
  readonly snapshotsInstalled: number;
  /** Snapshot chunks sent of a snapshot a newer one had replaced: transfers that outlived their snapshot and finished with it. */
  readonly heldSnapshotChunks: number;
  readonly operations: { total: number; ok: number; unknown: number; discarded: number };
  readonly increments: { acked: number; unresolved: number };
  readonly linearizabilitySteps: number;
  readonly healToLivenessMs: number | null;
  readonly leadershipTransfers: number;
  readonly storageFailures: number;
  readonly clockSteps: number;
  readonly tornCrashes: number;
  readonly gracefulStops: number;
  /** Lease clients' grants, renewals and revokes acknowledged; expiry entries leaders proposed and saw applied. */
  readonly leases: { granted: number; renewals: number; revoked: number; expiryEntries: number };
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure?: SimFailure;
  readonly traceDigest: string;
  readonly traceTail: readonly string[];
  readonly fullTrace: readonly string[] | null;
  readonly stats: SimStats;
}
