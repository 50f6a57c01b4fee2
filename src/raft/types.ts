/**
 * Data types shared by the Raft core and its hosts (the server, the storage
 * layer and the simulator). This file is the contract between layers: the
 * storage layer persists exactly these shapes, the simulator and the server
 * drive the core with them.
 *
 * Pure data only: no Node imports, no classes with behaviour.
 */

/** A member's stable name, e.g. "n1". */
export type NodeId = string;

export const EntryType = {
  /** An application command (opaque bytes for the state machine). */
  Normal: 0,
  /** A membership change; `data` is an encoded `ConfChange` (see confchange codec in the core). */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** One log entry. `index` starts at 1; index 0 / term 0 is the empty log's sentinel. */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** State that must be durable before the node answers any message that depends on it (Raft §5, Figure 2). */
export interface HardState {
  readonly term: number;
  /** The candidate voted for in `term`, or null. */
  readonly vote: NodeId | null;
  /** Highest index known committed. Persisting it is an optimisation (faster restart), not a safety need. */
  readonly commit: number;
}

/**
 * Cluster membership (thesis §4). In a joint configuration (§4.3),
 * `votersOutgoing` is non-empty and decisions need a majority of both
 * `voters` and `votersOutgoing`.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** Old voters while in a joint configuration; empty otherwise. */
  readonly votersOutgoing: readonly NodeId[];
  /** Learners that become voters when the joint configuration is left. */
  readonly learnersNext: readonly NodeId[];
  /** Leave the joint configuration automatically once it is committed. */
  readonly autoLeave: boolean;
}

/** What a snapshot stands for: the state after applying every entry up to `index`. */
export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

export const emptyConfState: ConfState = {
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

export const emptyHardState: HardState = { term: 0, vote: null, commit: 0 };
