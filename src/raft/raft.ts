/**
 * The Raft protocol (etcd's raft.go): one node's state, the term rules every
 * message passes through (`step`), the role transitions (`become*`),
 * elections, proposals, leadership transfer and membership. The role-specific
 * handlers live beside it as functions of this state, as etcd's are:
 * `stepLeader` and the leader's replication in leader.ts, `stepFollower` /
 * `stepCandidate` and the receiving side in follower.ts. The ReadIndex queue is
 * read-only.ts. The Ready bookkeeping (what was handed to the host, what is
 * durable) is raw-node.ts, whose `RaftNode` is the public API: this class is
 * not exported from index.ts, and its fields are open to those sibling files
 * only.
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
import type { ResolvedRaftConfig } from './config.js';
import { allMembers, applyConfChange, decodeConfChange, encodeConfChange, isJoint, isVoter, type ConfChange } from './confchange.js';
import { DropReason, InvalidConfChangeError, ProposalDroppedError } from './errors.js';
import { stepCandidate, stepFollower, type IncomingSnapshot } from './follower.js';
import { broadcastHeartbeat, handleReadIndex, handleTransferLeader, maybeCommit, maybeSendAppends, stepLeader } from './leader.js';
import { MessageType, type Message, type RequestPreVoteMessage, type RequestVoteMessage } from './messages.js';
import { Progress, ProgressState } from './progress.js';
import { jointQuorumActive, jointVote, VoteResult } from './quorum.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly } from './read-only.js';
import { Role, type IncomingSnapshotChunk, type ReadState } from './ready.js';
import { EntryType, type ConfState, type Entry, type HardState, type NodeId } from './types.js';

export interface ProposalResult {
  /** Index the entry was appended at in the leader's log. */
  readonly index: number;
  /** Term of the leader that accepted it: the proposal committed iff the entry applied at `index` has this term. */
  readonly term: number;
}

const EMPTY_BYTES = new Uint8Array(0);

export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedRaftConfig;
  readonly log: RaftLog;
  /** The hard state in storage when the node started (what the host already holds durably). */
  readonly initialHardState: HardState;

  term: number;
  vote: NodeId | null;
  leader: NodeId | null = null;
  role: Role = Role.Follower;

  conf: ConfState;
  /** Log index at which `conf` took effect (snapshot index or ConfChange entry index). */
  confIndex: number;
  /** Per member replication progress (this node included); only on a leader. */
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  electionElapsedTicks = 0;
  heartbeatElapsedTicks = 0;
  randomizedElectionTimeoutTicks = 0;

  leadTransferee: NodeId | null = null;
  /** Index of the last ConfChange entry this leader may have in its log unapplied. */
  pendingConfIndex = 0;
  uncommittedBytes = 0;
  /** Appends should be (re)considered for every follower with the next Ready (maybeSendAppends). */
  pendingBroadcast = false;
  readonly readOnly: ReadOnly;

  /** Output for the next Ready (raw-node.ts hands these lists over and replaces them). */
  msgs: Message[] = [];
  msgsAfterPersist: Message[] = [];
  readStates: ReadState[] = [];
  incomingChunks: IncomingSnapshotChunk[] = [];
  /** The snapshot being received from the leader (in memory only: a restart starts it over). */
  incomingSnapshot: IncomingSnapshot | null = null;

  /** The term whose own vote this candidate has yet to hand to the host for persisting (see takeSelfVoteTerm). */
  selfVotePendingTerm = 0;

  constructor(cfg: ResolvedRaftConfig) {
    this.cfg = cfg;
    this.id = cfg.id;
    this.readOnly = new ReadOnly(cfg.pendingReadIndexRequestsMax);
    const storage = cfg.storage;
    const { hardState, confState } = storage.initialState();
    this.initialHardState = hardState;
    const snapshotIndex = storage.firstIndex() - 1;
    const applied = cfg.applied ?? snapshotIndex;
    this.log = new RaftLog(storage, hardState.commit, applied);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.conf = confState;
    this.confIndex = snapshotIndex;
    // Rebuild the configuration from the ConfChange entries applied before a restart.
    this.log.someEntry(snapshotIndex + 1, applied, (e) => {
      if (e.type === EntryType.ConfChange) this.applyConfChangeEntry(e);
      return false;
    });
    this.becomeFollower(this.term, null);
  }

  // ---------------------------------------------------------------- inputs

  /** Advance the logical clock by one tick (election and heartbeat timers, paper §5.2). */
  tick(): void {
    if (this.role === Role.Leader) this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsedTicks++;
    if (this.promotable() && this.electionElapsedTicks >= this.randomizedElectionTimeoutTicks) {
      this.electionElapsedTicks = 0;
      this.campaign(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsedTicks++;
    this.electionElapsedTicks++;
    if (this.electionElapsedTicks >= this.cfg.electionTimeoutTicks) {
      this.electionElapsedTicks = 0;
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
    if (this.heartbeatElapsedTicks >= this.cfg.heartbeatIntervalTicks) {
      this.heartbeatElapsedTicks = 0;
      broadcastHeartbeat(this);
    }
  }

  /** Feed one message received from a peer. Messages addressed to another node are a host bug. */
  step(m: Message): void {
    assert(m.to === this.id, `message for ${m.to} delivered to ${this.id}`);
    if (m.term > this.term) {
      if (m.type === MessageType.RequestVote || m.type === MessageType.RequestPreVote) {
        // Disruptive servers (thesis §4.2.3): while we hear from a live leader, ignore vote requests
        // unless they come from a leadership transfer.
        const leaseChecked = m.type === MessageType.RequestVote ? this.cfg.checkQuorum && !m.transfer : this.cfg.preVote;
        const inLease = this.role === Role.Leader || (this.leader !== null && this.electionElapsedTicks < this.cfg.electionTimeoutTicks);
        if (leaseChecked && inLease) return;
      }
      if (m.type === MessageType.RequestPreVote) {
        // A pre-vote changes nobody's term (thesis §9.6).
      } else if (m.type === MessageType.RequestPreVoteResponse && m.granted) {
        // A granted pre-vote echoes the term we would campaign in.
      } else {
        // Paper Figure 2 (all servers): a newer term in any RPC makes us a follower of that term.
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
        stepLeader(this, m);
        return;
      case Role.Candidate:
      case Role.PreCandidate:
        stepCandidate(this, m);
        return;
      case Role.Follower:
        stepFollower(this, m);
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
        if (this.cfg.countStaleVotes && this.role === Role.Candidate) stepCandidate(this, m);
        return;
      default:
        return;
    }
  }

  // ------------------------------------------------------------- elections

  private handleVoteRequest(m: RequestVoteMessage | RequestPreVoteMessage): void {
    const pre = m.type === MessageType.RequestPreVote;
    // Paper Figure 2 RequestVote receiver: one vote per term (re-granting to the same candidate is
    // idempotent), and only to a candidate whose log is at least as up-to-date as ours (§5.4.1).
    const canVote = this.vote === m.from || (this.vote === null && this.leader === null) || (pre && m.term > this.term);
    const responseType = pre ? MessageType.RequestPreVoteResponse : MessageType.RequestVoteResponse;
    if (canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) {
      this.respond({ type: responseType, from: this.id, to: m.from, term: m.term, granted: true });
      if (!pre) {
        this.electionElapsedTicks = 0;
        this.vote = m.from;
      }
    } else {
      this.respond({ type: responseType, from: this.id, to: m.from, term: this.term, granted: false });
    }
  }

  /** Count one (pre-)vote; a quorum of grants wins the round (paper §5.2), of rejections loses it. */
  recordVote(from: NodeId, granted: boolean): void {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    const result = jointVote(this.conf, this.votes);
    if (result === VoteResult.Won) {
      if (this.role === Role.PreCandidate) this.campaignElection(false);
      else this.becomeLeader();
    } else if (result === VoteResult.Lost) {
      this.becomeFollower(this.term, null);
    }
  }

  /**
   * Start an election (election timeout, RaftNode.campaign(), or TimeoutNow
   * when `transfer`): with a pre-vote round first when `preVote` is on, except
   * for a transfer (thesis §3.10, §9.6). etcd calls this `hup`.
   */
  campaign(transfer: boolean): void {
    if (this.role === Role.Leader) return;
    if (!this.promotable()) return;
    // With apply-time membership changes, a node must not lead with a configuration that a
    // committed but unapplied change is about to replace.
    if (this.hasUnappliedConfChanges()) return;
    if (this.cfg.preVote && !transfer) this.campaignPreVote();
    else this.campaignElection(transfer);
  }

  private promotable(): boolean {
    return isVoter(this.conf, this.id);
  }

  private hasUnappliedConfChanges(): boolean {
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    return this.log.someEntry(lo, this.log.committed, (e) => e.type === EntryType.ConfChange);
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
    // Our own vote counts once term and vote are durable (see onReadyDurable()).
    this.selfVotePendingTerm = this.term;
    const lastLogIndex = this.log.lastIndex();
    const lastLogTerm = this.log.lastTerm();
    for (const id of this.voters()) {
      if (id === this.id) continue;
      this.send({ type: MessageType.RequestVote, from: this.id, to: id, term: this.term, lastLogIndex, lastLogTerm, transfer });
    }
  }

  // ------------------------------------------------------ role transitions

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.leader = null;
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    // Randomized election timeout in [T, 2T) (paper §5.2).
    this.randomizedElectionTimeoutTicks = this.cfg.electionTimeoutTicks + this.cfg.rng.nextInt(this.cfg.electionTimeoutTicks);
    this.leadTransferee = null;
    this.votes.clear();
    this.progress.clear();
    this.pendingBroadcast = false;
    this.readOnly.reset();
    this.selfVotePendingTerm = 0;
  }

  becomeFollower(term: number, leader: NodeId | null): void {
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
    maybeCommit(this);
  }

  private newProgress(id: NodeId, next: number): Progress {
    const isLearner = !isVoter(this.conf, id);
    return new Progress(id, next, this.cfg.inflightAppendsMax, isLearner);
  }

  // ------------------------------------------------------------ proposals

  /** See RaftNode.propose. */
  propose(data: Uint8Array): ProposalResult {
    this.checkCanPropose();
    const size = data.length;
    // A bound on the leader's uncommitted tail (etcd's MaxUncommittedEntriesSize): without it a leader
    // cut off from its quorum would accept proposals until memory ran out. One is always accepted.
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + size > this.cfg.uncommittedEntriesBytesMax) {
      throw new ProposalDroppedError(DropReason.UncommittedBytesLimit, this.id);
    }
    const index = this.log.lastIndex() + 1;
    this.log.appendOwn({ index, term: this.term, type: EntryType.Normal, data });
    this.uncommittedBytes += size;
    this.pendingBroadcast = true;
    return { index, term: this.term };
  }

  /** See RaftNode.proposeConfChange. */
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

  /** Committed entries no longer count toward the leader's bound on uncommitted bytes. */
  releaseUncommitted(committed: readonly Entry[]): void {
    if (this.role !== Role.Leader || this.uncommittedBytes === 0) return;
    for (const e of committed) this.uncommittedBytes -= e.data.length;
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0;
  }

  // ------------------------------------------- reads and leadership transfer

  /** See RaftNode.readIndex. */
  readIndex(context: Uint8Array): void {
    if (this.role === Role.Leader) {
      handleReadIndex(this, this.id, context);
      return;
    }
    if (this.leader === null) throw new ProposalDroppedError(DropReason.NoLeader, null);
    this.send({ type: MessageType.ReadIndex, from: this.id, to: this.leader, term: this.term, context });
  }

  /** Answer a confirmed read: our own as a ReadState, a follower's as a ReadIndexResponse. */
  releaseRead(from: NodeId, index: number, context: Uint8Array): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send({ type: MessageType.ReadIndexResponse, from: this.id, to: from, term: this.term, index, context });
  }

  /** See RaftNode.transferLeadership. */
  transferLeadership(to: NodeId): void {
    if (this.role === Role.Leader) {
      handleTransferLeader(this, to);
      return;
    }
    if (this.leader === null) throw new ProposalDroppedError(DropReason.NoLeader, null);
    this.send({ type: MessageType.TransferLeader, from: this.id, to: this.leader, term: this.term, transferee: to });
  }

  /** See RaftNode.reportUnreachable. */
  reportUnreachable(id: NodeId): void {
    if (this.role !== Role.Leader) return;
    const pr = this.progress.get(id);
    if (pr !== undefined && pr.state === ProgressState.Replicate) pr.becomeProbe();
  }

  // ------------------------------------------------------------ membership

  /** A committed ConfChange entry takes effect (at apply time, thesis §4.1 as etcd does it). */
  applyConfChangeEntry(e: Entry): void {
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
    maybeCommit(this);
  }

  // ------------------------------------------------------ the Ready's edges

  /** Send what a leader batched since the last Ready: a heartbeat round confirming new reads, then appends. */
  sendBatched(): void {
    if (this.role !== Role.Leader) {
      this.pendingBroadcast = false;
      this.readOnly.heartbeatPending = false;
      return;
    }
    if (this.readOnly.heartbeatPending) {
      broadcastHeartbeat(this);
      this.readOnly.heartbeatPending = false;
    }
    maybeSendAppends(this);
  }

  /**
   * The term of this candidate's own vote if the Ready being built is the one
   * that persists it (then onReadyDurable may count it), else 0.
   */
  takeSelfVoteTerm(): number {
    if (this.role !== Role.Candidate || this.selfVotePendingTerm !== this.term) return 0;
    this.selfVotePendingTerm = 0;
    return this.term;
  }

  /**
   * A Ready is durable and its committed entries applied (raw-node.ts has
   * updated the log). `selfVoteTerm` is what takeSelfVoteTerm returned for it.
   */
  onReadyDurable(selfVoteTerm: number): void {
    if (this.role === Role.Leader) {
      // Our own log now counts towards commit up to what is durable.
      maybeCommit(this);
      if (isJoint(this.conf) && this.conf.autoLeave && this.pendingConfIndex <= this.log.applied && this.leadTransferee === null) {
        // Leave the joint configuration automatically (thesis §4.3: C_new follows C_old,new).
        this.proposeConfChange({ changes: [] });
      }
    } else if (selfVoteTerm !== 0 && this.role === Role.Candidate && this.term === selfVoteTerm) {
      this.recordVote(this.id, true);
    }
  }

  // --------------------------------------------------------------- output

  /** A message that may go out at once (Ready.messages). */
  send(m: Message): void {
    this.msgs.push(m);
  }

  /** A message that promises durable state: it goes out after the Ready is persisted (Ready.messagesAfterPersist). */
  respond(m: Message): void {
    this.msgsAfterPersist.push(m);
  }
}
