/**
 * What the core hands its host in one batch. The host handles the fields in
 * the order given by the numbers in their doc comments, then calls
 * `advance(ready)`; it must not call `ready()` again before that. Meanwhile it
 * may keep calling `step()`, `tick()` and `propose()`: their effects go into
 * the next Ready.
 */
import type { Message } from './messages.js';
import type { Entry, HardState, NodeId, SnapshotMetadata } from './types.js';

import { Role } from '../common/role.js';
export { Role };

/** Volatile state worth reporting: who leads and what this node is. */
export interface SoftState {
  readonly leader: NodeId | null;
  readonly role: Role;
}

/** A linearizable read is safe once the state machine has applied `index` (thesis §6.4). */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

/** A piece of an incoming snapshot to write to the pending snapshot file. */
export interface IncomingSnapshotChunk {
  /** The snapshot's last included index and term: which pending file this belongs to. */
  readonly index: number;
  readonly term: number;
  /** Byte offset within the snapshot. Offset 0 starts a new pending file (discard any other partial one). */
  readonly offset: number;
  readonly data: Uint8Array;
  /** True when this chunk completes the snapshot. */
  readonly done: boolean;
}

export interface Ready {
  /** (any time) The new leader/role, present only when it changed. Informational. */
  readonly softState?: SoftState;

  /**
   * (1, may start at once) Messages that may be sent immediately, even before
   * this Ready's persistence finishes: a leader's appends, heartbeats and
   * snapshot chunks, vote requests, TimeoutNow, forwarded requests. A leader
   * writing to its own disk in parallel with its followers is safe because
   * it counts its own log only once `advance()` says it is durable.
   */
  readonly messages: readonly Message[];

  /**
   * (2a) Incoming InstallSnapshot chunks: write them, in order, to the pending
   * snapshot file named by (index, term). Offset 0 starts a new file. A
   * completed pending file that `snapshot` does not install (the core found
   * it already had those entries) may be discarded.
   */
  readonly snapshotChunks: readonly IncomingSnapshotChunk[];

  /**
   * (2b) A completed incoming snapshot to install: finalize the pending
   * snapshot file at this index, reset the log to start after it, and restore
   * the state machine from it. Done after the chunks, before the entries.
   */
  readonly snapshot?: SnapshotMetadata;

  /**
   * (2c) Entries to append durably. If the first entry's index is at or below
   * the stored last index, first truncate the stored log from that index on
   * (a conflicting suffix being replaced, paper §5.3).
   */
  readonly entries: readonly Entry[];

  /** (2d) Hard state to persist (term, vote, commit), present only when it changed. Then fsync 2a-2d together. */
  readonly hardState?: HardState;

  /**
   * (2) Whether 2a-2d must be durable before 3 and `advance()` (etcd's
   * MustSync): true when there are chunks, a snapshot or entries, or the term
   * or vote changed. False with a `hardState` means only the commit index
   * moved: commitIndex is volatile (paper Figure 2), so the host may write
   * that hard state later, with the next durable batch, instead of paying an
   * fsync for it now.
   */
  readonly mustSync: boolean;

  /**
   * (3) Messages to send only once 2a-2d are durable: vote grants, append and
   * snapshot acknowledgements, heartbeat responses — each promises state that
   * must survive a crash (paper §5, Figure 2 "respond after persisting").
   */
  readonly messagesAfterPersist: readonly Message[];

  /**
   * (4) Committed entries to apply to the state machine, in order, after 2a-2d
   * are durable. Membership changes (EntryType.ConfChange) take effect inside
   * the core when `advance()` is called for this Ready.
   */
  readonly committedEntries: readonly Entry[];

  /**
   * (5) Linearizable reads that became safe: serve each once the state
   * machine's applied index is at least `index` (possibly after applying
   * entries of a later Ready).
   */
  readonly readStates: readonly ReadState[];
}

/**
 * What the host may handle at once while a Ready is being persisted (between
 * `ready()` and `advance()`, when `hasReady()` is false), taken with
 * `RaftNode.takeDuringPersist()`: the overlap of one batch's fsync with the
 * next batch's work. Rules:
 * - `messages` are of the kind of Ready field 1 (a leader's appends for
 *   proposals made since that Ready, heartbeats, ReadIndex rounds): they may
 *   go at once (thesis §10.2.1: the leader counts itself toward commit only
 *   up to what `advance()` reported durable, so followers alone commit
 *   them). Never votes or acknowledgements: those stay in the next Ready's
 *   `messagesAfterPersist`. The entries are persisted by the next Ready.
 * - `committedEntries` may be applied at once, in order, after the
 *   in-flight Ready's own `committedEntries` (apply those first, without
 *   waiting for its fsync) and before anything the next Ready hands out;
 *   they count as applied. Commitment is a
 *   cluster-wide fact (a majority holds them durably, Raft §5.3-5.4), and
 *   after a crash the state machine is rebuilt from the durable snapshot and
 *   log anyway. Empty while the Ready in flight installs a snapshot (the
 *   state machine must jump to it first); stops before the first membership
 *   change (those take effect in `advance()`, so they travel in a Ready).
 */
export interface DuringPersist {
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
}

/** An empty Ready (nothing to do). */
export function isEmptyReady(r: Ready): boolean {
  return (
    r.softState === undefined &&
    r.hardState === undefined &&
    !r.mustSync &&
    r.snapshot === undefined &&
    r.messages.length === 0 &&
    r.snapshotChunks.length === 0 &&
    r.entries.length === 0 &&
    r.messagesAfterPersist.length === 0 &&
    r.committedEntries.length === 0 &&
    r.readStates.length === 0
  );
}
