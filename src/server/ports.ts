/**
 * The narrow views the server's Raft loop has of the layers below it. Each
 * is implemented by a small adapter over the real layer (raft-core-adapter.ts,
 * storage-adapter.ts), so the loop's ordering logic does not depend on the
 * details of their APIs.
 */
import type { PersistBatch } from '../storage/index.js';
import type { ConfChange, DuringPersist, Message, Ready, Role, ConfState, NodeId, SnapshotMetadata, SnapshotTransfers } from '../raft/index.js';

export interface CoreStatus {
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly conf: ConfState;
  /** Leader only: how far each follower's log matches (for picking a transfer target). */
  readonly matchIndex: Readonly<Record<NodeId, number>>;
  /** Leader only: which followers it heard from within the last election timeout (checkQuorum's view). */
  readonly recentActive: Readonly<Record<NodeId, boolean>>;
  readonly lastLogIndex: number;
  /** The voter a leadership transfer is handing over to, or null. */
  readonly leadTransferee: NodeId | null;
}

/** The Raft core (src/raft RaftNode). Synchronous; throws ProposalDroppedError on refusal. */
export interface RaftCore {
  tick(): void;
  step(message: Message): void;
  /**
   * Appends one Normal entry (leader only); many between two Readies go out in
   * one append per follower. Returns where it went: it committed iff the entry
   * applied at `index` has this `term`.
   */
  propose(data: Uint8Array): { index: number; term: number };
  readIndex(context: Uint8Array): void;
  /** Appends a membership change (leader only; raft/confchange.ts). Throws ProposalDroppedError or InvalidConfChangeError. */
  proposeConfChange(change: ConfChange): { index: number; term: number };
  transferLeadership(to: NodeId): void;
  hasReady(): boolean;
  /** While a Ready is being persisted: messages that may go and committed entries that may be applied now (raft/ready.ts DuringPersist). */
  takeDuringPersist(): DuringPersist;
  ready(): Ready;
  advance(ready: Ready): void;
  status(): CoreStatus;
  /** The membership in force: cheap, for every Ready (status() builds a whole report). */
  conf(): ConfState;
  /** The current term: cheap, for every incoming peer message (status() builds a whole report). */
  currentTerm(): number;
  /** Snapshots being sent to followers, and whether one is being caught up (raft/raw-node.ts): asked after every advance(). */
  snapshotTransfers(): SnapshotTransfers;
  /** The bounds behind the core's Overloaded-like refusals (DropReason), as configured. */
  readonly limits: CoreLimits;
}

export interface CoreLimits {
  /** A leader refuses proposals while this many entry bytes are proposed but uncommitted. */
  readonly uncommittedEntriesBytesMax: number;
  /** A leader refuses ReadIndex requests while this many wait for leadership confirmation. */
  readonly pendingReadIndexRequestsMax: number;
}

/**
 * The replicated state machine as the loop sees it: opaque command bytes in,
 * an opaque result out (handed to the proposer's waiting client). The loop
 * never looks inside either; src/server/kv-replica.ts adapts the key-value
 * state machine.
 */
export interface StateMachine<Result> {
  /** Index of the last entry applied (or of the restored snapshot). */
  readonly appliedIndex: number;
  /** Applies the command bytes of the committed entry at `index` (appliedIndex + 1). Empty bytes: the no-op a new leader appends. */
  apply(index: number, command: Uint8Array): Result;
  /** Marks the committed entry at `index` applied without a command (an undecodable entry). */
  skip(index: number): void;
  /** Applies the committed membership change at `index` (its encoded ConfChange): a state machine without a member table skips it. */
  applyConfChange(index: number, term: number, data: Uint8Array): void;
  /** Replaces the whole state with a snapshot's contents. */
  restore(contents: AsyncIterable<Uint8Array>): Promise<void>;
  /** A point-in-time view to stream into the snapshot store; applies may continue while it is read. */
  snapshot(): { readonly appliedIndex: number; readonly contents: Iterable<Uint8Array> | AsyncIterable<Uint8Array> };
  /** A few numbers for log lines (e.g. the key count). */
  describe(): Record<string, number>;
}

/** One Ready's durable part, written with one group commit (one fsync): the storage layer's one shape. */
export type { PersistBatch };

/** The durable log and snapshot store (src/storage). */
export interface HostStorage {
  /** Persists the batch (truncating a conflicting suffix first) and resolves once it is durable. */
  persist(batch: PersistBatch): Promise<void>;
  /**
   * Writes a snapshot taken locally, then compacts the log up to it; resolves
   * once both are durable.
   */
  writeSnapshot(meta: SnapshotMetadata, contents: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<void>;
  /** The contents of the latest snapshot, as a stream of chunks (null when there is none). */
  readSnapshot(): { meta: SnapshotMetadata; contents: AsyncIterable<Uint8Array> } | null;
  /** Term of the entry at `index` (for snapshot metadata). */
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshotIndex(): number;
  /**
   * The snapshots (by index) that transfers to followers still read: each
   * stays readable, even once newer snapshots replaced it, until a later call
   * leaves it out. Called after every advance().
   */
  holdSnapshots(indexes: readonly number[]): void;
  /** Flushes and releases everything, including the data directory lock. */
  close(): Promise<void>;
}
