/** Configuration of one Raft node, with defaults and validation. */
import { assert } from '../common/errors.js';
import type { Storage } from './storage.js';
import type { NodeId } from './types.js';

import type { RandomSource as CommonRandomSource } from '../common/rng.js';

/** The randomness the core draws (election timeouts): integers only. Injected, so runs are reproducible. */
export type RandomSource = Pick<CommonRandomSource, 'nextInt'>;

export interface RaftConfig {
  readonly id: NodeId;
  readonly storage: Storage;
  /** Followers start an election after between this and twice this many ticks without hearing from a leader (paper §5.2). */
  readonly electionTimeoutTicks: number;
  /** A leader sends heartbeats every this many ticks; must be less than the election timeout. */
  readonly heartbeatIntervalTicks: number;
  readonly rng: RandomSource;
  /** Index the state machine has applied when the node starts. Default: the latest snapshot's index. */
  readonly applied?: number;
  /** Run a pre-vote round before a real election (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum for an election timeout (thesis §6.2). Default true. */
  readonly checkQuorum?: boolean;
  /** Bound on append messages in flight to one follower while pipelining. Default 256. */
  readonly inflightAppendsMax?: number;
  /** Bound on the entry bytes of one append message (always at least one entry). Default 1 MiB. */
  readonly appendBytesMax?: number;
  /**
   * A leader whose commit index moved sends it to a follower on its own (an
   * empty append) when no append with entries carries it in the same Ready,
   * as etcd does. Off, the commit index waits for the next append or
   * heartbeat: a message and its answer saved per follower per batch, but
   * followers apply late (a watcher served by a follower waits for it).
   * Default false.
   */
  readonly commitNotify?: boolean;
  /** Size of one InstallSnapshot chunk. Default 1 MiB. */
  readonly snapshotChunkBytesMax?: number;
  /** A leader drops proposals while this many bytes are proposed but uncommitted. Default 64 MiB. */
  readonly uncommittedEntriesBytesMax?: number;
  /** Bound on the bytes of committed entries handed out in one Ready (always at least one entry). Default 64 MiB. */
  readonly committedEntriesBytesPerReadyMax?: number;
  /** Bound on ReadIndex requests waiting for leadership confirmation at a leader. Default 4096. */
  readonly pendingReadIndexRequestsMax?: number;
  /** Deliberately unsafe behaviour, for proving that the simulator catches safety bugs. Never set in production. */
  readonly testingOnlyUnsafe?: {
    /** Count vote grants that answer an election of an earlier term (breaks Election Safety, paper §5.2). */
    readonly countStaleVotes?: boolean;
  };
}

export interface ResolvedRaftConfig {
  readonly id: NodeId;
  readonly storage: Storage;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly rng: RandomSource;
  readonly applied: number | undefined;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly inflightAppendsMax: number;
  readonly appendBytesMax: number;
  readonly commitNotify: boolean;
  readonly snapshotChunkBytesMax: number;
  readonly uncommittedEntriesBytesMax: number;
  readonly committedEntriesBytesPerReadyMax: number;
  readonly pendingReadIndexRequestsMax: number;
  readonly countStaleVotes: boolean;
}

const MiB = 1024 * 1024;

export function resolveConfig(config: RaftConfig): ResolvedRaftConfig {
  const resolved: ResolvedRaftConfig = {
    id: config.id,
    storage: config.storage,
    electionTimeoutTicks: config.electionTimeoutTicks,
    heartbeatIntervalTicks: config.heartbeatIntervalTicks,
    rng: config.rng,
    applied: config.applied,
    preVote: config.preVote ?? true,
    checkQuorum: config.checkQuorum ?? true,
    inflightAppendsMax: config.inflightAppendsMax ?? 256,
    appendBytesMax: config.appendBytesMax ?? MiB,
    commitNotify: config.commitNotify ?? false,
    snapshotChunkBytesMax: config.snapshotChunkBytesMax ?? MiB,
    uncommittedEntriesBytesMax: config.uncommittedEntriesBytesMax ?? 64 * MiB,
    committedEntriesBytesPerReadyMax: config.committedEntriesBytesPerReadyMax ?? 64 * MiB,
    pendingReadIndexRequestsMax: config.pendingReadIndexRequestsMax ?? 4096,
    countStaleVotes: config.testingOnlyUnsafe?.countStaleVotes ?? false,
  };
  assert(typeof resolved.id === 'string' && resolved.id.length > 0, 'config.id must be a non-empty string');
  assert(Number.isInteger(resolved.electionTimeoutTicks) && resolved.electionTimeoutTicks > 0, 'electionTimeoutTicks must be a positive integer');
  assert(Number.isInteger(resolved.heartbeatIntervalTicks) && resolved.heartbeatIntervalTicks > 0, 'heartbeatIntervalTicks must be a positive integer');
  assert(resolved.heartbeatIntervalTicks < resolved.electionTimeoutTicks, 'heartbeatIntervalTicks must be less than electionTimeoutTicks');
  assert(Number.isInteger(resolved.inflightAppendsMax) && resolved.inflightAppendsMax > 0, 'inflightAppendsMax must be a positive integer');
  assert(resolved.appendBytesMax > 0, 'appendBytesMax must be positive');
  assert(resolved.snapshotChunkBytesMax > 0, 'snapshotChunkBytesMax must be positive');
  assert(resolved.uncommittedEntriesBytesMax > 0, 'uncommittedEntriesBytesMax must be positive');
  assert(resolved.committedEntriesBytesPerReadyMax > 0, 'committedEntriesBytesPerReadyMax must be positive');
  assert(resolved.pendingReadIndexRequestsMax > 0, 'pendingReadIndexRequestsMax must be positive');
  return resolved;
}
