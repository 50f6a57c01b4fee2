/**
 * The messages Raft nodes exchange. Every message is a plain data object (no
 * classes, no methods) so the server can send it as a net message body and the
 * simulator can copy, delay, duplicate and reorder it freely.
 *
 * Requests (appends, heartbeats, vote requests, snapshot chunks, TimeoutNow,
 * forwarded ReadIndex/TransferLeader) appear in `Ready.messages`; responses
 * appear in `Ready.messagesAfterPersist` because they promise durable state.
 */
import type { Entry, NodeId, SnapshotMetadata } from './types.js';

export const MessageType = {
  /** Candidate asks for a vote (paper Figure 2, RequestVote RPC). */
  RequestVote: 'RequestVote',
  RequestVoteResponse: 'RequestVoteResponse',
  /** Pre-candidate asks whether it could win an election at `term` (thesis §9.6); no one changes term for it. */
  RequestPreVote: 'RequestPreVote',
  RequestPreVoteResponse: 'RequestPreVoteResponse',
  /** Leader replicates entries (Figure 2, AppendEntries RPC). */
  AppendEntries: 'AppendEntries',
  AppendEntriesResponse: 'AppendEntriesResponse',
  /** Leader asserts leadership and carries the commit index; also confirms leadership for ReadIndex (thesis §6.4). */
  Heartbeat: 'Heartbeat',
  HeartbeatResponse: 'HeartbeatResponse',
  /** One chunk of a snapshot (thesis Figure 5.3: offset, data, done). */
  InstallSnapshot: 'InstallSnapshot',
  InstallSnapshotResponse: 'InstallSnapshotResponse',
  /** Leadership transfer: the target starts an election at once (thesis §3.10). */
  TimeoutNow: 'TimeoutNow',
  /** A follower forwards a linearizable read request to the leader (thesis §6.4). */
  ReadIndex: 'ReadIndex',
  ReadIndexResponse: 'ReadIndexResponse',
  /** A follower forwards a leadership transfer request to the leader. */
  TransferLeader: 'TransferLeader',
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's current term, except in granted pre-vote responses, which echo the pre-vote's term. */
  readonly term: number;
}

export interface RequestVoteMessage extends MessageBase {
  readonly type: typeof MessageType.RequestVote;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** Set by a leadership transfer: voters ignore their leader lease (thesis §3.10, §4.2.3). */
  readonly transfer: boolean;
}

export interface RequestPreVoteMessage extends MessageBase {
  readonly type: typeof MessageType.RequestPreVote;
  /** The term the sender would campaign in (its current term + 1). */
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

export interface VoteResponseMessage extends MessageBase {
  readonly type: typeof MessageType.RequestVoteResponse | typeof MessageType.RequestPreVoteResponse;
  readonly granted: boolean;
}

export interface AppendEntriesMessage extends MessageBase {
  readonly type: typeof MessageType.AppendEntries;
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly leaderCommit: number;
}

export interface AppendEntriesResponseMessage extends MessageBase {
  readonly type: typeof MessageType.AppendEntriesResponse;
  readonly success: boolean;
  /**
   * On success: the index up to which the follower's log now matches the
   * leader's. On failure: the rejected `prevLogIndex`.
   */
  readonly index: number;
  /**
   * Fast backtracking (paper §5.3, thesis §5.3.1): on failure, the term of the
   * follower's entry at `prevLogIndex` (0 if its log is shorter) ...
   */
  readonly conflictTerm: number;
  /** ... and the first index the follower holds with that term (its last index + 1 if its log is shorter). */
  readonly conflictIndex: number;
}

export interface HeartbeatMessage extends MessageBase {
  readonly type: typeof MessageType.Heartbeat;
  /** min(leader's commit, the follower's match index): safe for the follower to commit. */
  readonly commit: number;
  /** Context of the newest pending ReadIndex request, echoed in the response (empty when none). */
  readonly context: Uint8Array;
}

export interface HeartbeatResponseMessage extends MessageBase {
  readonly type: typeof MessageType.HeartbeatResponse;
  readonly context: Uint8Array;
}

export interface InstallSnapshotMessage extends MessageBase {
  readonly type: typeof MessageType.InstallSnapshot;
  readonly snapshot: SnapshotMetadata;
  /** Byte offset of `data` within the snapshot's contents. */
  readonly offset: number;
  readonly data: Uint8Array;
  /** True when this chunk ends the snapshot. */
  readonly done: boolean;
}

export interface InstallSnapshotResponseMessage extends MessageBase {
  readonly type: typeof MessageType.InstallSnapshotResponse;
  /** The snapshot this answers for. */
  readonly snapshotIndex: number;
  /** The byte offset the follower expects next (all bytes before it are durable on the follower). */
  readonly nextOffset: number;
  /**
   * True once the follower holds everything up to `snapshotIndex` (it
   * installed the snapshot, or its log already covered it).
   */
  readonly done: boolean;
}

export interface TimeoutNowMessage extends MessageBase {
  readonly type: typeof MessageType.TimeoutNow;
}

export interface ReadIndexMessage extends MessageBase {
  readonly type: typeof MessageType.ReadIndex;
  readonly context: Uint8Array;
}

export interface ReadIndexResponseMessage extends MessageBase {
  readonly type: typeof MessageType.ReadIndexResponse;
  readonly index: number;
  readonly context: Uint8Array;
}

export interface TransferLeaderMessage extends MessageBase {
  readonly type: typeof MessageType.TransferLeader;
  readonly transferee: NodeId;
}

export type Message =
  | RequestVoteMessage
  | RequestPreVoteMessage
  | VoteResponseMessage
  | AppendEntriesMessage
  | AppendEntriesResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | InstallSnapshotMessage
  | InstallSnapshotResponseMessage
  | TimeoutNowMessage
  | ReadIndexMessage
  | ReadIndexResponseMessage
  | TransferLeaderMessage;

/** True for messages that are responses: they go in `Ready.messagesAfterPersist`. */
export function isResponse(type: MessageType): boolean {
  return (
    type === MessageType.RequestVoteResponse ||
    type === MessageType.RequestPreVoteResponse ||
    type === MessageType.AppendEntriesResponse ||
    type === MessageType.HeartbeatResponse ||
    type === MessageType.InstallSnapshotResponse
  );
}
