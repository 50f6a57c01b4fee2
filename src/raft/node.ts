/**
 * The Raft consensus core: a pure, deterministic state machine (no I/O, no
 * clock, no randomness but the injected RNG). The host drives it with
 * `tick()`, `step(message)` and the proposal methods, and takes its output
 * with `ready()` / `advance()` (see ready.ts for the order the host must
 * handle a Ready in).
 *
 * Design choices (documented here once):
 * - Proposals are accepted only by the leader and never forwarded: a
 *   follower's `propose` throws ProposalDroppedError(NotLeader, leaderHint)
 *   synchronously. Every drop is synchronous (there is no asynchronous drop
 *   list). An accepted proposal returns its (index, term); it is committed iff
 *   the entry applied at that index has that term.
 * - Membership changes take effect when applied (etcd style): inside
 *   `advance()` for the Ready whose `committedEntries` carried them. Only one
 *   may be pending (proposed but not applied) at a time, and a node does not
 *   campaign while a committed change is unapplied. After a restart the
 *   configuration is rebuilt from `Storage.initialState().confState` (the
 *   latest snapshot's) plus the ConfChange entries up to `config.applied`; the
 *   later ones take effect again as the host re-applies them.
 * - Durability: a leader counts its own log towards commit only up to what
 *   `advance()` reported durable; a node's responses (votes, append and
 *   snapshot acknowledgements) go out in `messagesAfterPersist`; a candidate
 *   counts its own vote only once its term and vote are durable.
 */
import { assert } from '../common/errors.js';
import { resolveConfig, type RaftConfig, type ResolvedRaftConfig } from './config.js';
import {
  allMembers,
  applyConfChange,
  decodeConfChange,
  encodeConfChange,
  isJoint,
  isVoter,
  type ConfChange,
} from './confchange.js';
import { DropReason, InvalidConfChangeError, ProposalDroppedError } from './errors.js';
import {
  MessageType,
  type AppendEntriesMessage,
  type AppendEntriesResponseMessage,
  type HeartbeatMessage,
  type HeartbeatResponseMessage,
  type InstallSnapshotMessage,
  type InstallSnapshotResponseMessage,
  type Message,
  type RequestPreVoteMessage,
  type RequestVoteMessage,
  type VoteResponseMessage,
} from './messages.js';
import { Progress, ProgressState } from './progress.js';
import { jointCommitIndex, jointQuorumActive, jointVote, VoteResult } from './quorum.js';
import { RaftLog } from './raft-log.js';
import { Role, type DuringPersist, type IncomingSnapshotChunk, type ReadState, type Ready, type SoftState } from './ready.js';
import { LogCompactedError, SnapshotUnavailableError } from './storage.js';
import { EntryType, type ConfState, type Entry, type HardState, type NodeId, type SnapshotMetadata } from './types.js';

export interface ProposalResult {
  /** Index the entry was appended at in the leader's log. */
  readonly index: number;
  /** Term of the leader that accepted it: the proposal committed iff the entry applied at `index` has this term. */
  readonly term: number;
}

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly paused: boolean;
  readonly inflightAppends: number;
  readonly recentActive: boolean;
  readonly isLearner: boolean;
  /** Index of the snapshot being sent, when in snapshot state. */
  readonly snapshotIndex: number | null;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly role: Role;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** Last index known durable on this node. */
  readonly persistedIndex: number;
  /** The membership in force (as of the applied index). */
  readonly conf: ConfState;
  readonly leadTransferee: NodeId | null;
  /** Per-peer replication progress; only on a leader. */
  readonly progress?: Readonly<Record<NodeId, ProgressStatus>>;
}

const EMPTY_BYTES = new Uint8Array(0);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
const EMPTY_ENTRIES: readonly Entry[] = Object.freeze([]);
const NO_MESSAGES: readonly Message[] = Object.freeze([]);
const NOTHING_DURING_PERSIST: DuringPersist = Object.freeze({ messages: NO_MESSAGES, committedEntries: Object.freeze([]) as readonly Entry[] });
const NO_CHUNKS: readonly IncomingSnapshotChunk[] = Object.freeze([]);
const NO_READ_STATES: readonly ReadState[] = Object.freeze([]);

interface PendingRead {
  readonly from: NodeId;
  readonly context: Uint8Array;
  readonly index: number;
  /** Position in this leader's sequence of reads; heartbeats carry it so that acknowledgements can be matched. */
  readonly seq: number;
}

interface InFlightReady {
  readonly ready: Ready;
  /** The candidate's own vote for this term becomes countable once this Ready is durable. */
  readonly selfVoteTerm: number;
}

/** Heartbeats carry the read sequence number as their context (8 bytes, big-endian). */
function encodeReadSeq(seq: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(seq / 0x1_0000_0000));
  view.setUint32(4, seq >>> 0);
  return out;
}

function decodeReadSeq(context: Uint8Array): number {
  if (context.length !== 8) return 0;
  const view = new DataView(context.buffer, context.byteOffset, 8);
  return view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4);
}

export class RaftNode {
  readonly id: NodeId;
  private readonly cfg: ResolvedRaftConfig;
  private readonly log: RaftLog;

  private term: number;
  private vote: NodeId | null;
  private leader: NodeId | null = null;
  private role: Role = Role.Follower;

  private conf: ConfState;
  /** Log index at which `conf` took effect (snapshot index or ConfChange entry index). */
  private confIndex: number;
  private readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;

  private leadTransferee: NodeId | null = null;
  /** Index of the last ConfChange entry this leader may have in its log unapplied. */
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  /** Appends should be (re)considered for every follower at the next flush. */
  private pendingBroadcast = false;

  private msgs: Message[] = [];
  private msgsAfterPersist: Message[] = [];
  private readStates: ReadState[] = [];
  private incomingChunks: IncomingSnapshotChunk[] = [];
  /** The snapshot being received from the leader (in memory only: a restart starts it over). */
  private incomingSnapshot: { index: number; term: number; from: NodeId; leaderTerm: number; received: number } | null = null;

  /** ReadIndex requests waiting for a heartbeat quorum, in arrival order (thesis §6.4). */
  private readQueue: PendingRead[] = [];
  /** Sequence number of the newest read registered in this term. */
  private readSeq = 0;
  /** Per peer, the highest read sequence number it acknowledged in a heartbeat response. */
  private readonly readAcked = new Map<NodeId, number>();
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  private readsAwaitingCommit: { from: NodeId; context: Uint8Array }[] = [];
  /** A heartbeat round must go out at the next flush to confirm newly registered reads. */
  private readHeartbeatPending = false;

  private selfVotePendingTerm = 0;
  private inFlight: InFlightReady | null = null;
  private prevSoft: SoftState;
  private prevHard: HardState;

  constructor(config: RaftConfig) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    const storage = this.cfg.storage;
    const { hardState, confState } = storage.initialState();
    const snapshotIndex = storage.firstIndex() - 1;
    const applied = this.cfg.applied ?? snapshotIndex;
    this.log = new RaftLog(storage, hardState.commit, applied);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.conf = confState;
    this.confIndex = snapshotIndex;
    this.replayConfChanges(snapshotIndex + 1, applied);
    this.prevHard = hardState;
    this.prevSoft = { leader: null, role: Role.Follower };
    this.becomeFollower(this.term, null);
  }

  /** Rebuild the configuration from ConfChange entries in [lo, hi] (already applied before a restart). */
  private replayConfChanges(lo: number, hi: number): void {
    const pageBytes = 1024 * 1024;
    while (lo <= hi) {
      const page = this.log.slice(lo, hi + 1, pageBytes);
      for (const e of page) if (e.type === EntryType.ConfChange) this.applyConfChangeEntry(e);
      lo += page.length;
    }
  }

  // ---------------------------------------------------------------- inputs

  /** Advance the logical clock by one tick (election and heartbeat timers, paper §5.2). */
  tick(): void {
    if (this.role === Role.Leader) this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        // Check quorum (thesis §6.2): step down unless a quorum was heard from during the last election timeout.
        const active = jointQuorumActive(this.conf, (id) => id === this.id || this.progress.get(id)?.recentActive === true);
        for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
        if (!active) {
          this.becomeFollower(this.term, null);
          return;
        }
      }
      // A transfer that did not finish within an election timeout is abandoned (thesis §3.10).
      if (this.leadTransferee !== null) this.leadTransferee = null;
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatIntervalTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /** Start an election now (with a pre-vote round first when `preVote` is on). */
  campaign(): void {
    this.hup(false);
  }

  /** Feed one message received from a peer. Messages addressed to another node are a host bug. */
  step(m: Message): void {
    assert(m.to === this.id, `message for ${m.to} delivered to ${this.id}`);
    if (m.term > this.term) {
      if (m.type === MessageType.RequestVote || m.type === MessageType.RequestPreVote) {
        // Disruptive servers (thesis §4.2.3): while we hear from a live leader, ignore vote requests
        // unless they come from a leadership transfer.
        const leaseChecked = m.type === MessageType.RequestVote ? this.cfg.checkQuorum && !m.transfer : this.cfg.preVote;
        const inLease = this.role === Role.Leader || (this.leader !== null && this.electionElapsed < this.cfg.electionTimeoutTicks);
        if (leaseChecked && inLease) return;
      }
      if (m.type === MessageType.RequestPreVote) {
        // A pre-vote changes nobody's term (thesis §9.6).
      } else if (m.type === MessageType.RequestPreVoteResponse && m.granted) {
        // A granted pre-vote echoes the term we would campaign in.
      } else {
        const fromLeader = m.type === MessageType.AppendEntries || m.type === MessageType.Heartbeat || m.type === MessageType.InstallSnapshot;
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      this.stepStale(m);
      return;
    }

    switch (m.type) {
      case MessageType.RequestVote:
      case MessageType.RequestPreVote:
        this.handleVoteRequest(m);
        return;
    }
    switch (this.role) {
      case Role.Leader:
        this.stepLeader(m);
        return;
      case Role.Candidate:
      case Role.PreCandidate:
        this.stepCandidate(m);
        return;
      case Role.Follower:
        this.stepFollower(m);
        return;
    }
  }

  /** A message from an older term (paper Figure 2: "if term < currentTerm ... reply false"). */
  private stepStale(m: Message): void {
    switch (m.type) {
      case MessageType.AppendEntries:
      case MessageType.Heartbeat:
      case MessageType.InstallSnapshot:
        // Tell the stale leader about the newer term so it steps down.
        this.respond({ type: MessageType.AppendEntriesResponse, from: this.id, to: m.from, term: this.term, success: false, index: 0, conflictTerm: 0, conflictIndex: 0 });
        return;
      case MessageType.RequestPreVote:
        this.respond({ type: MessageType.RequestPreVoteResponse, from: this.id, to: m.from, term: this.term, granted: false });
        return;
      case MessageType.RequestVoteResponse:
        // The deliberate bug behind `testingOnlyUnsafe.countStaleVotes`: count a grant from an
        // earlier term's election towards the current one (violates Election Safety).
        if (this.cfg.countStaleVotes && this.role === Role.Candidate) this.stepCandidate(m);
        return;
      default:
        return;
    }
  }

  private handleVoteRequest(m: RequestVoteMessage | RequestPreVoteMessage): void {
    const pre = m.type === MessageType.RequestPreVote;
    // Paper Figure 2 RequestVote receiver: one vote per term (re-granting to the same candidate is
    // idempotent), and only to a candidate whose log is at least as up-to-date as ours (§5.4.1).
    const canVote = this.vote === m.from || (this.vote === null && this.leader === null) || (pre && m.term > this.term);
    const responseType = pre ? MessageType.RequestPreVoteResponse : MessageType.RequestVoteResponse;
    if (canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) {
      this.respond({ type: responseType, from: this.id, to: m.from, term: m.term, granted: true });
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.respond({ type: responseType, from: this.id, to: m.from, term: this.term, granted: false });
    }
  }

  // ---------------------------------------------------------------- roles

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.AppendEntries:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.InstallSnapshot:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleSnapshotChunk(m);
        return;
      case MessageType.TimeoutNow:
        // Leadership transfer (thesis §3.10): start an election at once, skipping pre-vote.
        this.hup(true);
        return;
      case MessageType.ReadIndexResponse:
        this.readStates.push({ index: m.index, context: m.context });
        return;
      case MessageType.TransferLeader:
        if (this.leader !== null) this.send({ ...m, from: this.id, to: this.leader, term: this.term });
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.AppendEntries:
      case MessageType.Heartbeat:
      case MessageType.InstallSnapshot:
        // A leader exists for our term (paper §5.2: "If AppendEntries RPC received from new leader: convert to follower").
        this.becomeFollower(this.term, m.from);
        this.stepFollower(m);
        return;
      case MessageType.RequestVoteResponse:
        if (this.role !== Role.Candidate) return;
        this.recordVote(m.from, m.granted);
        return;
      case MessageType.RequestPreVoteResponse:
        if (this.role !== Role.PreCandidate) return;
        // Grants echo the term we would campaign in; rejections carry the voter's term.
        if (m.granted ? m.term !== this.term + 1 : m.term !== this.term) return;
        this.recordVote(m.from, m.granted);
        return;
      default:
        return;
    }
  }

  private recordVote(from: NodeId, granted: boolean): void {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    const result = jointVote(this.conf, this.votes);
    if (result === VoteResult.Won) {
      if (this.role === Role.PreCandidate) this.campaignElection(false);
      else this.becomeLeader();
    } else if (result === VoteResult.Lost) {
      this.becomeFollower(this.term, null);
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.AppendEntriesResponse: {
        const pr = this.progress.get(m.from);
        if (pr === undefined) return;
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        return;
      }
      case MessageType.HeartbeatResponse: {
        const pr = this.progress.get(m.from);
        if (pr === undefined) return;
        pr.recentActive = true;
        this.handleHeartbeatResponse(m, pr);
        return;
      }
      case MessageType.InstallSnapshotResponse: {
        const pr = this.progress.get(m.from);
        if (pr === undefined) return;
        pr.recentActive = true;
        this.handleSnapshotResponse(m, pr);
        return;
      }
      case MessageType.ReadIndex:
        if (this.progress.has(m.from)) this.handleReadIndex(m.from, m.context);
        return;
      case MessageType.TransferLeader:
        this.handleTransferLeader(m.transferee);
        return;
      default:
        // Another leader in our term cannot exist (Election Safety); vote responses are late.
        return;
    }
  }

  // ------------------------------------------------------ role transitions

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.leader = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    // Randomized election timeout in [T, 2T) (paper §5.2).
    this.randomizedElectionTimeout = this.cfg.electionTimeoutTicks + this.cfg.rng.nextInt(this.cfg.electionTimeoutTicks);
    this.leadTransferee = null;
    this.votes.clear();
    this.progress.clear();
    this.pendingBroadcast = false;
    this.readQueue = [];
    this.readSeq = 0;
    this.readAcked.clear();
    this.readsAwaitingCommit = [];
    this.readHeartbeatPending = false;
    this.selfVotePendingTerm = 0;
  }

  private becomeFollower(term: number, leader: NodeId | null): void {
    this.reset(term);
    this.role = Role.Follower;
    this.leader = leader;
  }

  private becomePreCandidate(): void {
    // Pre-vote (thesis §9.6) changes neither term nor vote.
    this.reset(this.term);
    this.role = Role.PreCandidate;
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = Role.Leader;
    this.leader = this.id;
    const last = this.log.lastIndex();
    for (const id of allMembers(this.conf)) this.progress.set(id, this.newProgress(id, last + 1));
    const self = this.progress.get(this.id);
    if (self !== undefined) {
      self.match = this.log.persistedIndex();
      self.becomeReplicate();
    }
    // Any ConfChange in the log may be unapplied: allow no new one until all of the log is applied.
    this.pendingConfIndex = last;
    this.uncommittedBytes = 0;
    // Append a no-op entry of the new term (paper §8, thesis §6.4): committing it commits all
    // earlier entries and tells the leader what is committed.
    this.log.appendOwn({ index: last + 1, term: this.term, type: EntryType.Normal, data: EMPTY_BYTES });
    this.pendingBroadcast = true;
    this.maybeCommit();
  }

  private newProgress(id: NodeId, next: number): Progress {
    const isLearner = !isVoter(this.conf, id);
    return new Progress(id, next, this.cfg.maxInflightAppends, isLearner);
  }

  private promotable(): boolean {
    return isVoter(this.conf, this.id);
  }

  /** Time to elect (election timeout, campaign(), or TimeoutNow when `transfer`). */
  private hup(transfer: boolean): void {
    if (this.role === Role.Leader) return;
    if (!this.promotable()) return;
    // With apply-time membership changes, a node must not lead with a configuration that a
    // committed but unapplied change is about to replace.
    if (this.hasUnappliedConfChanges()) return;
    if (this.cfg.preVote && !transfer) this.campaignPreVote();
    else this.campaignElection(transfer);
  }

  private hasUnappliedConfChanges(): boolean {
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    const hi = this.log.committed;
    if (lo > hi) return false;
    let i = lo;
    while (i <= hi) {
      const page = this.log.slice(i, hi + 1, 1024 * 1024);
      for (const e of page) if (e.type === EntryType.ConfChange) return true;
      i += page.length;
    }
    return false;
  }

  private voters(): NodeId[] {
    if (this.conf.votersOutgoing.length === 0) return this.conf.voters as NodeId[];
    return [...new Set([...this.conf.voters, ...this.conf.votersOutgoing])];
  }

  private campaignPreVote(): void {
    this.becomePreCandidate();
    this.votes.set(this.id, true);
    if (jointVote(this.conf, this.votes) === VoteResult.Won) {
      this.campaignElection(false);
      return;
    }
    const lastLogIndex = this.log.lastIndex();
    const lastLogTerm = this.log.lastTerm();
    for (const id of this.voters()) {
      if (id === this.id) continue;
      this.send({ type: MessageType.RequestPreVote, from: this.id, to: id, term: this.term + 1, lastLogIndex, lastLogTerm });
    }
  }

  private campaignElection(transfer: boolean): void {
    this.becomeCandidate();
    // Our own vote counts once term and vote are durable (see advance()).
    this.selfVotePendingTerm = this.term;
    const lastLogIndex = this.log.lastIndex();
    const lastLogTerm = this.log.lastTerm();
    for (const id of this.voters()) {
      if (id === this.id) continue;
      this.send({ type: MessageType.RequestVote, from: this.id, to: id, term: this.term, lastLogIndex, lastLogTerm, transfer });
    }
  }

  // ----------------------------------------------------------- replication

  private handleAppendEntries(m: AppendEntriesMessage): void {
    const log = this.log;
    if (m.prevLogIndex < log.committed) {
      // Everything up to our commit index matches the leader's log already.
      this.respondAppend(m.from, true, log.committed, 0, 0);
      return;
    }
    if (log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
      log.appendFromLeader(m.entries);
      const lastNew = m.prevLogIndex + m.entries.length;
      // Paper Figure 2 receiver step 5: commitIndex = min(leaderCommit, index of last new entry).
      log.commitTo(Math.min(m.leaderCommit, lastNew));
      this.respondAppend(m.from, true, lastNew, 0, 0);
      return;
    }
    // Reject, with the conflicting term and the first index we hold of it (fast backtracking, §5.3).
    const last = log.lastIndex();
    if (m.prevLogIndex > last) {
      this.respondAppend(m.from, false, m.prevLogIndex, 0, last + 1);
      return;
    }
    const conflictTerm = log.term(m.prevLogIndex);
    let conflictIndex = m.prevLogIndex;
    // Entries at or below the commit index match the leader's, so the search stops there.
    const floor = Math.max(log.committed, log.firstIndex() - 1);
    while (conflictIndex - 1 > floor && log.term(conflictIndex - 1) === conflictTerm) conflictIndex--;
    this.respondAppend(m.from, false, m.prevLogIndex, conflictTerm, conflictIndex);
  }

  private respondAppend(to: NodeId, success: boolean, index: number, conflictTerm: number, conflictIndex: number): void {
    this.respond({ type: MessageType.AppendEntriesResponse, from: this.id, to, term: this.term, success, index, conflictTerm, conflictIndex });
  }

  private handleHeartbeat(m: HeartbeatMessage): void {
    // The leader sends min(its commit, our match), which our log holds.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.respond({ type: MessageType.HeartbeatResponse, from: this.id, to: m.from, term: this.term, context: m.context });
  }

  private handleAppendResponse(m: AppendEntriesResponseMessage, pr: Progress): void {
    if (!m.success) {
      const hint = this.backtrackHint(m, pr);
      const wasReplicate = pr.state === ProgressState.Replicate;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (wasReplicate) {
          const next = pr.next;
          pr.becomeProbe();
          pr.next = Math.max(pr.match + 1, next);
        }
        this.pendingBroadcast = true;
      }
      return;
    }
    const updated = pr.maybeUpdate(m.index);
    if (!updated && !(pr.state === ProgressState.Probe && pr.match === m.index)) return;
    switch (pr.state) {
      case ProgressState.Probe:
        pr.becomeReplicate();
        break;
      case ProgressState.Snapshot:
        if (pr.snapshot !== null && pr.match >= pr.snapshot.index) pr.becomeProbe();
        break;
      case ProgressState.Replicate:
        pr.inflights.freeLE(m.index);
        break;
    }
    this.pendingBroadcast = true;
    if (updated) this.maybeCommit();
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  /**
   * Where to probe next after a rejection (thesis §5.3.1): if we hold entries
   * of the conflicting term, right after our last one of it; otherwise at the
   * follower's first index of that term (or its log end).
   */
  private backtrackHint(m: AppendEntriesResponseMessage, pr: Progress): number {
    if (m.conflictTerm === 0) return m.conflictIndex;
    let j = Math.min(m.index, this.log.lastIndex());
    while (j > pr.match) {
      const t = this.log.termOrMissing(j);
      if (t === -1 || t <= m.conflictTerm) {
        if (t === m.conflictTerm) return j + 1;
        break;
      }
      j--;
    }
    return m.conflictIndex;
  }

  private handleHeartbeatResponse(m: HeartbeatResponseMessage, pr: Progress): void {
    pr.probeSent = false;
    const stallLimit = Math.max(2, Math.ceil(this.cfg.electionTimeoutTicks / this.cfg.heartbeatIntervalTicks / 2));
    if (pr.state === ProgressState.Replicate && pr.match < this.log.lastIndex()) {
      // Nothing acknowledged for several heartbeat rounds although the follower is behind: an
      // append or its answer was lost; probe again from what is known to match.
      if (++pr.stalledHeartbeats >= stallLimit) pr.becomeProbe();
    } else if (pr.state === ProgressState.Snapshot && pr.snapshot !== null && pr.snapshot.inflightEnd >= 0) {
      // A snapshot chunk (or its acknowledgement) was lost: send it again.
      if (++pr.stalledHeartbeats >= stallLimit) {
        pr.stalledHeartbeats = 0;
        this.sendSnapshotChunk(pr);
      }
    }
    if (pr.match < this.log.lastIndex()) this.pendingBroadcast = true;
    if (m.context.length > 0) this.receiveReadAck(m.from, decodeReadSeq(m.context));
  }

  /** §5.4.2: a leader commits by counting replicas only entries of its own term. */
  private maybeCommit(): boolean {
    const persisted = this.log.persistedIndex();
    const self = this.progress.get(this.id);
    if (self !== undefined) self.match = persisted;
    const index = jointCommitIndex(this.conf, (id) => (id === this.id ? persisted : (this.progress.get(id)?.match ?? 0)));
    if (!Number.isFinite(index) || index <= this.log.committed) return false;
    if (this.log.termOrMissing(index) !== this.term) return false;
    this.log.commitTo(index);
    this.pendingBroadcast = true;
    if (this.readsAwaitingCommit.length > 0) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const r of waiting) this.registerRead(r.from, r.context);
    }
    return true;
  }

  /** Send appends to every follower that can take them (batching: one pass per Ready). */
  private flush(): void {
    if (this.role !== Role.Leader) {
      this.pendingBroadcast = false;
      this.readHeartbeatPending = false;
      return;
    }
    if (this.readHeartbeatPending) {
      this.broadcastHeartbeat();
      this.readHeartbeatPending = false;
    }
    if (!this.pendingBroadcast) return;
    this.pendingBroadcast = false;
    for (const pr of this.progress.values()) {
      if (pr.id === this.id) continue;
      this.sendAppends(pr);
    }
  }

  private sendAppends(pr: Progress): void {
    if (pr.state === ProgressState.Snapshot) return;
    const last = this.log.lastIndex();
    let sent = false;
    while (!pr.isPaused() && pr.next <= last) {
      if (!this.sendAppend(pr, false)) return;
      sent = true;
      if (pr.state !== ProgressState.Replicate) break;
    }
    if (sent || pr.isPaused()) return;
    // Nothing new to send. In probe state an empty append asks whether the follower's log
    // holds our entry at next - 1. A newer commit index alone, though, costs no message: it
    // rides on the next append with entries, or on the next heartbeat (which carries
    // min(match, commit)). Under load that saves a message and its answer per follower per
    // batch, sent just when the leader is answering its clients; idle, followers learn the
    // commit index within a heartbeat interval (hashicorp/raft's CommitTimeout does the same).
    // Nothing waits on it: followers need it only to apply, and serve no linearizable request
    // on their own (they forward to the leader).
    if (pr.state === ProgressState.Probe && pr.next - 1 > pr.match) this.sendAppend(pr, true);
  }

  /** One AppendEntries from pr.next; falls back to a snapshot when those entries are compacted. */
  private sendAppend(pr: Progress, allowEmpty: boolean): boolean {
    const log = this.log;
    const prevLogIndex = pr.next - 1;
    let prevLogTerm: number;
    let entries: readonly Entry[];
    try {
      prevLogTerm = log.term(prevLogIndex);
      entries = pr.next <= log.lastIndex() ? log.slice(pr.next, log.lastIndex() + 1, this.cfg.maxAppendBytes) : EMPTY_ENTRIES;
    } catch (e) {
      if (e instanceof LogCompactedError) {
        this.sendSnapshot(pr);
        return false;
      }
      throw e;
    }
    if (entries.length === 0 && !allowEmpty) return false;
    const leaderCommit = log.committed;
    this.send({ type: MessageType.AppendEntries, from: this.id, to: pr.id, term: this.term, prevLogIndex, prevLogTerm, entries, leaderCommit });
    const lastSent = prevLogIndex + entries.length;
    if (entries.length > 0 && pr.state === ProgressState.Replicate) {
      pr.next = lastSent + 1;
      pr.inflights.add(lastSent);
    } else if (pr.state === ProgressState.Probe) {
      pr.probeSent = true;
    }
    return true;
  }

  private broadcastHeartbeat(): void {
    // Carry the newest read's sequence number while reads wait for confirmation (thesis §6.4 step 3).
    const context = this.readQueue.length > 0 ? encodeReadSeq(this.readSeq) : EMPTY_BYTES;
    for (const pr of this.progress.values()) {
      if (pr.id === this.id) continue;
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: MessageType.Heartbeat, from: this.id, to: pr.id, term: this.term, commit, context });
    }
  }

  // -------------------------------------------------------------- snapshots

  private sendSnapshot(pr: Progress): void {
    const meta = this.cfg.storage.snapshotMetadata();
    assert(meta.index > 0, `entries for ${pr.id} are compacted but storage has no snapshot`);
    pr.becomeSnapshot(meta);
    this.sendSnapshotChunk(pr);
  }

  /** Send the chunk at the snapshot's acknowledged offset (thesis Figure 5.3; one chunk in flight). */
  private sendSnapshotChunk(pr: Progress): void {
    let s = pr.snapshot;
    assert(s !== null, 'sendSnapshotChunk outside snapshot state');
    const storage = this.cfg.storage;
    let chunk;
    try {
      chunk = storage.snapshotChunk(s.index, s.offset, this.cfg.maxSnapshotChunkBytes);
    } catch (e) {
      if (!(e instanceof SnapshotUnavailableError)) throw e;
      // A newer snapshot replaced the one being sent: start over with it.
      pr.becomeSnapshot(storage.snapshotMetadata());
      s = pr.snapshot!;
      chunk = storage.snapshotChunk(s.index, 0, this.cfg.maxSnapshotChunkBytes);
    }
    const snapshot: SnapshotMetadata = { index: s.index, term: s.term, conf: s.conf };
    this.send({ type: MessageType.InstallSnapshot, from: this.id, to: pr.id, term: this.term, snapshot, offset: s.offset, data: chunk.data, done: chunk.done });
    s.inflightEnd = s.offset + chunk.data.length;
  }

  private handleSnapshotResponse(m: InstallSnapshotResponseMessage, pr: Progress): void {
    if (m.done) {
      // The follower holds everything up to the snapshot index it answers for.
      const updated = pr.maybeUpdate(m.snapshotIndex);
      // Leave snapshot state only if that covers the snapshot being sent: a late or duplicated
      // answer about an older snapshot must not abort the transfer in flight.
      if (pr.state === ProgressState.Snapshot && (pr.snapshot === null || pr.match >= pr.snapshot.index)) pr.becomeProbe();
      this.pendingBroadcast = true;
      if (updated) this.maybeCommit();
      return;
    }
    const s = pr.snapshot;
    if (pr.state !== ProgressState.Snapshot || s === null || m.snapshotIndex !== s.index) return;
    pr.stalledHeartbeats = 0;
    if (s.inflightEnd >= 0 && m.nextOffset === s.offset && s.inflightEnd !== s.offset) return; // the chunk in flight is not answered yet
    s.offset = m.nextOffset;
    s.inflightEnd = -1;
    this.sendSnapshotChunk(pr);
  }

  /** InstallSnapshot receiver (thesis Figure 5.3), one chunk at a time, acknowledged after persisting. */
  private handleSnapshotChunk(m: InstallSnapshotMessage): void {
    const s = m.snapshot;
    const answer = (nextOffset: number, done: boolean): void =>
      this.respond({ type: MessageType.InstallSnapshotResponse, from: this.id, to: m.from, term: this.term, snapshotIndex: s.index, nextOffset, done });
    if (s.index <= this.log.committed) {
      // We already hold (committed) everything the snapshot covers.
      if (this.incomingSnapshot?.index === s.index) this.incomingSnapshot = null;
      answer(0, true);
      return;
    }
    // A transfer is identified by its sender and term as well as the snapshot: another leader's
    // encoding of the same snapshot may differ byte for byte.
    const same = (q: typeof this.incomingSnapshot): boolean =>
      q !== null && q.index === s.index && q.term === s.term && q.from === m.from && q.leaderTerm === m.term;
    let p = this.incomingSnapshot;
    if (m.offset === 0 && !same(p)) {
      // A new snapshot replaces any partial one.
      p = this.incomingSnapshot = { index: s.index, term: s.term, from: m.from, leaderTerm: m.term, received: 0 };
    }
    if (p === null || !same(p)) {
      answer(0, false);
      return;
    }
    if (m.offset !== p.received) {
      answer(p.received, false);
      return;
    }
    this.incomingChunks.push({ index: s.index, term: s.term, offset: m.offset, data: m.data, done: m.done });
    p.received += m.data.length;
    if (!m.done) {
      answer(p.received, false);
      return;
    }
    this.incomingSnapshot = null;
    if (this.log.matchTerm(s.index, s.term)) {
      // Our log already has the snapshot's last entry: keep the entries after it (thesis §5.1 step 6).
      this.log.commitTo(s.index);
    } else {
      this.log.restore(s);
      this.conf = s.conf;
      this.confIndex = s.index;
    }
    answer(p.received, true);
  }

  // ------------------------------------------------------------ proposals

  /**
   * Propose an application command. Only the leader accepts; throws
   * ProposalDroppedError (NoLeader, NotLeader, TransferInProgress,
   * UncommittedBytesLimit) otherwise. Many proposals between two Readies go
   * out in one append message per follower.
   */
  propose(data: Uint8Array): ProposalResult {
    this.checkCanPropose();
    const size = data.length;
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + size > this.cfg.maxUncommittedEntriesBytes) {
      throw new ProposalDroppedError(DropReason.UncommittedBytesLimit, this.id);
    }
    const index = this.log.lastIndex() + 1;
    this.log.appendOwn({ index, term: this.term, type: EntryType.Normal, data });
    this.uncommittedBytes += size;
    this.pendingBroadcast = true;
    return { index, term: this.term };
  }

  /**
   * Propose a membership change (thesis chapter 4). Throws
   * ProposalDroppedError (as `propose`, or ConfChangePending while an earlier
   * change is not yet applied) or InvalidConfChangeError.
   */
  proposeConfChange(change: ConfChange): ProposalResult {
    this.checkCanPropose();
    if (this.pendingConfIndex > this.log.applied) throw new ProposalDroppedError(DropReason.ConfChangePending, this.id);
    applyConfChange(this.conf, change); // validates; throws InvalidConfChangeError
    const index = this.log.lastIndex() + 1;
    const data = encodeConfChange(change);
    this.log.appendOwn({ index, term: this.term, type: EntryType.ConfChange, data });
    this.uncommittedBytes += data.length;
    this.pendingConfIndex = index;
    this.pendingBroadcast = true;
    return { index, term: this.term };
  }

  private checkCanPropose(): void {
    if (this.role !== Role.Leader) {
      throw new ProposalDroppedError(this.leader === null ? DropReason.NoLeader : DropReason.NotLeader, this.leader);
    }
    if (this.leadTransferee !== null) throw new ProposalDroppedError(DropReason.TransferInProgress, this.id);
  }

  // ------------------------------------------------------------ ReadIndex

  /**
   * Request a linearizable read (thesis §6.4). The answer arrives as a
   * ReadState with the same `context` in a later Ready; serve the read once
   * the applied index reaches its `index`. On a follower the request is
   * forwarded to the leader. The core does not interpret `context` (the host
   * matches answers with it, so it should be unique among the host's reads).
   * Throws ProposalDroppedError(NoLeader) when no leader is known. A request
   * can be lost when leadership changes: the host needs a timeout.
   */
  readIndex(context: Uint8Array): void {
    if (this.role === Role.Leader) {
      this.handleReadIndex(this.id, context);
      return;
    }
    if (this.leader === null) throw new ProposalDroppedError(DropReason.NoLeader, null);
    this.send({ type: MessageType.ReadIndex, from: this.id, to: this.leader, term: this.term, context });
  }

  private handleReadIndex(from: NodeId, context: Uint8Array): void {
    if (this.readQueue.length + this.readsAwaitingCommit.length >= this.cfg.maxPendingReadIndexRequests) {
      if (from === this.id) throw new ProposalDroppedError(DropReason.PendingReadsLimit, this.id);
      return;
    }
    // The commit index is only known to be current once an entry of this term committed (§6.4 step 1).
    if (this.log.termOrMissing(this.log.committed) !== this.term) {
      this.readsAwaitingCommit.push({ from, context });
      return;
    }
    this.registerRead(from, context);
  }

  private registerRead(from: NodeId, context: Uint8Array): void {
    if (jointQuorumActive(this.conf, (id) => id === this.id)) {
      // A single-voter cluster confirms its own leadership.
      this.releaseRead(from, this.log.committed, context);
      return;
    }
    this.readQueue.push({ from, context, index: this.log.committed, seq: ++this.readSeq });
    // One heartbeat round, sent at the next flush, confirms every read registered before it.
    this.readHeartbeatPending = true;
  }

  /**
   * A follower answered a heartbeat that carried read sequence number `seq`:
   * it still recognised us as leader after every read up to `seq` was
   * registered. Reads acknowledged by a quorum are released, in order.
   */
  private receiveReadAck(from: NodeId, seq: number): void {
    if (seq <= (this.readAcked.get(from) ?? 0)) return;
    this.readAcked.set(from, seq);
    const confirmed = jointCommitIndex(this.conf, (id) => (id === this.id ? this.readSeq : (this.readAcked.get(id) ?? 0)));
    let released = 0;
    while (released < this.readQueue.length && this.readQueue[released]!.seq <= confirmed) {
      const r = this.readQueue[released++]!;
      this.releaseRead(r.from, r.index, r.context);
    }
    if (released > 0) this.readQueue.splice(0, released);
  }

  private releaseRead(from: NodeId, index: number, context: Uint8Array): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send({ type: MessageType.ReadIndexResponse, from: this.id, to: from, term: this.term, index, context });
  }

  // ------------------------------------------------------ leadership transfer

  /**
   * Hand leadership to `to` (thesis §3.10): the leader stops accepting
   * proposals, brings `to` up to date, then sends it TimeoutNow. On a
   * follower the request is forwarded to the leader; throws
   * ProposalDroppedError(NoLeader) if none is known.
   */
  transferLeadership(to: NodeId): void {
    if (this.role === Role.Leader) {
      this.handleTransferLeader(to);
      return;
    }
    if (this.leader === null) throw new ProposalDroppedError(DropReason.NoLeader, null);
    this.send({ type: MessageType.TransferLeader, from: this.id, to: this.leader, term: this.term, transferee: to });
  }

  private handleTransferLeader(to: NodeId): void {
    if (to === this.id) {
      this.leadTransferee = null;
      return;
    }
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isLearner) return; // only a voter can lead
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    // The transfer must finish within an election timeout, else it is abandoned (see tickLeader).
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.pendingBroadcast = true;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: MessageType.TimeoutNow, from: this.id, to, term: this.term });
  }

  /** The transport could not reach `id`: stop pipelining to it and probe instead. */
  reportUnreachable(id: NodeId): void {
    if (this.role !== Role.Leader) return;
    const pr = this.progress.get(id);
    if (pr !== undefined && pr.state === ProgressState.Replicate) pr.becomeProbe();
  }

  // ------------------------------------------------------------ membership

  private applyConfChangeEntry(e: Entry): void {
    if (e.index <= this.confIndex) return; // already covered by a newer snapshot's configuration
    let next: ConfState;
    try {
      next = applyConfChange(this.conf, decodeConfChange(e.data));
    } catch (err) {
      // Validated when proposed; should it still not apply, it is a no-op on every node alike.
      if (err instanceof InvalidConfChangeError || err instanceof SyntaxError) return;
      throw err;
    }
    this.conf = next;
    this.confIndex = e.index;
    if (this.role !== Role.Leader) return;
    const members = new Set(allMembers(next));
    for (const id of members) {
      const pr = this.progress.get(id);
      if (pr === undefined) this.progress.set(id, this.newProgress(id, this.log.lastIndex() + 1));
      else pr.isLearner = !isVoter(next, id);
    }
    for (const id of [...this.progress.keys()]) {
      if (!members.has(id)) {
        this.progress.delete(id);
        if (this.leadTransferee === id) this.leadTransferee = null;
      }
    }
    if (!isVoter(next, this.id)) {
      // A leader removed from the configuration steps down once the change is committed (thesis §4.2.2).
      this.becomeFollower(this.term, null);
      return;
    }
    this.pendingBroadcast = true;
    this.maybeCommit();
  }

  // ---------------------------------------------------------- Ready cycle

  /** True when `ready()` may be called and would hand out something. */
  hasReady(): boolean {
    if (this.inFlight !== null) return false;
    if (this.pendingBroadcast || this.readHeartbeatPending) return true;
    if (this.msgs.length > 0 || this.msgsAfterPersist.length > 0 || this.readStates.length > 0 || this.incomingChunks.length > 0) return true;
    if (this.log.hasUnpersisted() || this.log.hasCommittedToApply()) return true;
    if (this.leader !== this.prevSoft.leader || this.role !== this.prevSoft.role) return true;
    const h = this.prevHard;
    return h.term !== this.term || h.vote !== this.vote || h.commit !== this.log.committed;
  }

  /**
   * Committed entries the host may apply right now, even while a Ready is
   * still being persisted (when hasReady() is false). Without this, an entry
   * committed during an fsync would wait for that fsync to end before the
   * host could apply it and answer its client: one more disk flush on every
   * write's latency.
   *
   * Applying before this node's own copy is durable is safe: commitment is a
   * cluster-wide fact (a majority holds the entry durably, and a leader
   * counts itself only up to what advance() reported durable; Raft §5.3,
   * §5.4), and the state machine is rebuilt from the durable snapshot and log
   * after a crash anyway. Returns nothing while the Ready in flight installs
   * a snapshot (the state machine must jump to it first), and stops before
   * the first membership change (those take effect in advance(), so they
   * travel in a Ready). The host applies the returned entries, in order,
   * before anything else it applies; they count as applied at once.
   */
  private takeCommittedEntries(): Entry[] {
    const inFlight = this.inFlight?.ready;
    if (inFlight !== undefined && (inFlight.snapshot !== undefined || inFlight.snapshotChunks.length > 0)) return [];
    const out = this.log.takeCommitted(this.cfg.maxCommittedEntriesBytesPerReady, true);
    if (out.length === 0) return out;
    this.releaseUncommitted(out);
    this.log.appliedTo(out[out.length - 1]!.index);
    return out;
  }

  /**
   * Messages that may be sent right now, even while a Ready is still being
   * persisted (when hasReady() is false): a leader's appends carrying
   * proposals made since that Ready (thesis §10.2.1: a leader may send
   * entries before its own copy is durable; it counts itself toward commit
   * only up to what advance() reported durable, so followers alone can commit
   * them), heartbeats and ReadIndex rounds. Never the messages that promise
   * durable state (votes, acknowledgements): those stay in the next Ready's
   * messagesAfterPersist. The entries themselves are persisted by the next
   * Ready as usual.
   */
  private takeMessages(): readonly Message[] {
    this.flush();
    if (this.msgs.length === 0) return NO_MESSAGES;
    const out = this.msgs;
    this.msgs = [];
    return out;
  }

  /** While a Ready is being persisted: what may be handled at once (the rules are in ready.ts, DuringPersist). */
  takeDuringPersist(): DuringPersist {
    const messages = this.takeMessages();
    const committedEntries = this.takeCommittedEntries();
    if (messages.length === 0 && committedEntries.length === 0) return NOTHING_DURING_PERSIST;
    return { messages, committedEntries };
  }

  /** Committed entries no longer count toward the leader's bound on uncommitted bytes. */
  private releaseUncommitted(committed: readonly Entry[]): void {
    if (this.role !== Role.Leader || this.uncommittedBytes === 0) return;
    for (const e of committed) this.uncommittedBytes -= e.data.length;
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0;
  }

  /** Take the next batch of work. Call `advance(ready)` once it is handled; not again before. */
  ready(): Ready {
    assert(this.inFlight === null, 'ready() called again before advance() of the previous Ready');
    this.flush();
    const log = this.log;
    let softState: SoftState | undefined;
    if (this.leader !== this.prevSoft.leader || this.role !== this.prevSoft.role) {
      softState = { leader: this.leader, role: this.role };
      this.prevSoft = softState;
    }
    let hardState: HardState | undefined;
    const h = this.prevHard;
    // Term and vote of the last Ready's hard state are durable once it is advanced: any change to
    // them made that Ready mustSync. So comparing with it tells whether this one needs an fsync.
    const termOrVoteChanged = h.term !== this.term || h.vote !== this.vote;
    if (termOrVoteChanged || h.commit !== log.committed) {
      hardState = { term: this.term, vote: this.vote, commit: log.committed };
      this.prevHard = hardState;
    }
    const snapshot = log.takePendingSnapshot();
    if (snapshot !== undefined) log.skipApplyingTo(snapshot.index);
    const entries = log.takeUnpersisted();
    const committedEntries = log.takeCommitted(this.cfg.maxCommittedEntriesBytesPerReady);
    this.releaseUncommitted(committedEntries);
    // Empty lists are shared frozen constants; non-empty ones are handed over and replaced.
    const ready: Mutable<Ready> = {
      messages: this.msgs.length > 0 ? this.msgs : NO_MESSAGES,
      snapshotChunks: this.incomingChunks.length > 0 ? this.incomingChunks : NO_CHUNKS,
      entries,
      messagesAfterPersist: this.msgsAfterPersist.length > 0 ? this.msgsAfterPersist : NO_MESSAGES,
      committedEntries,
      readStates: this.readStates.length > 0 ? this.readStates : NO_READ_STATES,
      mustSync: termOrVoteChanged || snapshot !== undefined || entries.length > 0 || this.incomingChunks.length > 0,
    };
    if (softState !== undefined) ready.softState = softState;
    if (hardState !== undefined) ready.hardState = hardState;
    if (snapshot !== undefined) ready.snapshot = snapshot;
    if (this.msgs.length > 0) this.msgs = [];
    if (this.msgsAfterPersist.length > 0) this.msgsAfterPersist = [];
    if (this.incomingChunks.length > 0) this.incomingChunks = [];
    if (this.readStates.length > 0) this.readStates = [];
    let selfVoteTerm = 0;
    if (this.role === Role.Candidate && this.selfVotePendingTerm === this.term) {
      selfVoteTerm = this.term;
      this.selfVotePendingTerm = 0;
    }
    this.inFlight = { ready, selfVoteTerm };
    return ready;
  }

  /** The host has made `ready` durable (and sent and applied what it should). */
  advance(ready: Ready): void {
    const inFlight = this.inFlight;
    assert(inFlight !== null && inFlight.ready === ready, 'advance() called with a Ready that is not the one in flight');
    this.inFlight = null;
    const log = this.log;
    if (ready.snapshot !== undefined) {
      log.stableSnapshotTo(ready.snapshot.index);
      log.appliedTo(ready.snapshot.index);
    }
    const n = ready.entries.length;
    if (n > 0) {
      const last = ready.entries[n - 1]!;
      log.stableTo(last.index, last.term);
    }
    const c = ready.committedEntries.length;
    if (c > 0) {
      for (let i = 0; i < c; i++) {
        const e = ready.committedEntries[i]!;
        if (e.type === EntryType.ConfChange) this.applyConfChangeEntry(e);
      }
      log.appliedTo(ready.committedEntries[c - 1]!.index);
    }
    if (this.role === Role.Leader) {
      // Our own log now counts towards commit up to what is durable.
      this.maybeCommit();
      if (isJoint(this.conf) && this.conf.autoLeave && this.pendingConfIndex <= log.applied && this.leadTransferee === null) {
        // Leave the joint configuration automatically (thesis §4.3: C_new follows C_old,new).
        this.proposeConfChange({ changes: [] });
      }
    } else if (inFlight.selfVoteTerm !== 0 && this.role === Role.Candidate && this.term === inFlight.selfVoteTerm) {
      this.recordVote(this.id, true);
    }
  }

  // --------------------------------------------------------------- output

  private send(m: Message): void {
    this.msgs.push(m);
  }

  private respond(m: Message): void {
    this.msgsAfterPersist.push(m);
  }

  /** The membership in force (as of the applied index): status().conf without building the rest. */
  get confState(): ConfState {
    return this.conf;
  }

  status(): RaftStatus {
    const base = {
      id: this.id,
      term: this.term,
      vote: this.vote,
      role: this.role,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      persistedIndex: this.log.persistedIndex(),
      conf: this.conf,
      leadTransferee: this.leadTransferee,
    };
    if (this.role !== Role.Leader) return base;
    const progress: Record<NodeId, ProgressStatus> = {};
    for (const [id, pr] of this.progress) {
      progress[id] = {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        paused: pr.isPaused(),
        inflightAppends: pr.inflights.count,
        recentActive: pr.recentActive,
        isLearner: pr.isLearner,
        snapshotIndex: pr.snapshot?.index ?? null,
      };
    }
    return { ...base, progress };
  }
}
