/**
 * `RaftNode`, the core's public API, and the Ready bookkeeping behind it (as
 * etcd's rawnode.go wraps raft.go): which soft and hard state the host has
 * already been handed, the one Ready in flight, what `advance()` makes
 * durable, the persist-overlap exit `takeDuringPersist()` and `status()`.
 * The protocol itself is raft.ts; the order in which a host handles a Ready,
 * and the rules of `mustSync` and `takeDuringPersist`, are in ready.ts.
 */
import { assert } from '../common/errors.js';
import { resolveConfig, type RaftConfig } from './config.js';
import type { ConfChange } from './confchange.js';
import type { Message } from './messages.js';
import { ProgressState } from './progress.js';
import { Raft, type ProposalResult } from './raft.js';
import { Role, type DuringPersist, type IncomingSnapshotChunk, type ReadState, type Ready, type SoftState } from './ready.js';
import { EntryType, type ConfState, type Entry, type HardState, type NodeId } from './types.js';

export type { ProposalResult } from './raft.js';

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

/**
 * What a leader's snapshot transfers need from the host (see
 * `RaftNode.snapshotTransfers`).
 */
export interface SnapshotTransfers {
  /** Indexes of the snapshots being streamed to followers: each must stay readable until its transfer ends. */
  readonly sending: readonly number[];
  /**
   * A follower is being caught up (a snapshot in flight, or a live follower
   * being probed from the log): compacting the log now could push it back to
   * a new snapshot, so the host should postpone its next local snapshot (up to
   * its bound).
   */
  readonly followerCatchingUp: boolean;
}

const NO_TRANSFERS: SnapshotTransfers = Object.freeze({ sending: Object.freeze([]) as readonly number[], followerCatchingUp: false });

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

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
const NO_MESSAGES: readonly Message[] = Object.freeze([]);
const NOTHING_DURING_PERSIST: DuringPersist = Object.freeze({ messages: NO_MESSAGES, committedEntries: Object.freeze([]) as readonly Entry[] });
const NO_CHUNKS: readonly IncomingSnapshotChunk[] = Object.freeze([]);
const NO_READ_STATES: readonly ReadState[] = Object.freeze([]);

interface InFlightReady {
  readonly ready: Ready;
  /** The candidate's own vote for this term becomes countable once this Ready is durable. */
  readonly selfVoteTerm: number;
}

/**
 * The Raft consensus core: a pure, deterministic state machine (no I/O, no
 * clock, no randomness but the injected RNG). The host drives it with
 * `tick()`, `step(message)` and the proposal methods, and takes its output
 * with `ready()` / `advance()` (see index.ts for the loop, ready.ts for the
 * order the host must handle a Ready in).
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly raft: Raft;
  private inFlight: InFlightReady | null = null;
  /** The soft state last handed out in a Ready. */
  private prevSoft: SoftState;
  /** The hard state last handed out in a Ready (durable once that Ready is advanced). */
  private prevHard: HardState;

  constructor(config: RaftConfig) {
    this.raft = new Raft(resolveConfig(config));
    this.id = this.raft.id;
    this.prevHard = this.raft.initialHardState;
    this.prevSoft = { leader: null, role: Role.Follower };
  }

  // ---------------------------------------------------------------- inputs

  /** Advance the logical clock by one tick (election and heartbeat timers, paper §5.2). */
  tick(): void {
    this.raft.tick();
  }

  /** Start an election now (with a pre-vote round first when `preVote` is on). */
  campaign(): void {
    this.raft.campaign(false);
  }

  /** Feed one message received from a peer. Messages addressed to another node are a host bug. */
  step(m: Message): void {
    this.raft.step(m);
  }

  /**
   * Propose an application command. Only the leader accepts; throws
   * ProposalDroppedError (NoLeader, NotLeader, TransferInProgress,
   * UncommittedBytesLimit) otherwise. Many proposals between two Readies go
   * out in one append message per follower.
   */
  propose(data: Uint8Array): ProposalResult {
    return this.raft.propose(data);
  }

  /**
   * Propose a membership change (thesis chapter 4). Throws
   * ProposalDroppedError (as `propose`, or ConfChangePending while an earlier
   * change is not yet applied) or InvalidConfChangeError.
   */
  proposeConfChange(change: ConfChange): ProposalResult {
    return this.raft.proposeConfChange(change);
  }

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
    this.raft.readIndex(context);
  }

  /**
   * Hand leadership to `to` (thesis §3.10): the leader stops accepting
   * proposals, brings `to` up to date, then sends it TimeoutNow. On a
   * follower the request is forwarded to the leader; throws
   * ProposalDroppedError(NoLeader) if none is known.
   */
  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
  }

  /** The transport could not reach `id`: stop pipelining to it and probe instead. */
  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  // ---------------------------------------------------------- Ready cycle

  /** True when `ready()` may be called and would hand out something. */
  hasReady(): boolean {
    if (this.inFlight !== null) return false;
    const r = this.raft;
    if (r.pendingBroadcast || r.readOnly.heartbeatPending) return true;
    if (r.msgs.length > 0 || r.msgsAfterPersist.length > 0 || r.readStates.length > 0 || r.incomingChunks.length > 0) return true;
    if (r.log.hasUnpersisted() || r.log.hasCommittedToApply()) return true;
    if (r.leader !== this.prevSoft.leader || r.role !== this.prevSoft.role) return true;
    const h = this.prevHard;
    return h.term !== r.term || h.vote !== r.vote || h.commit !== r.log.committed;
  }

  /** Take the next batch of work. Call `advance(ready)` once it is handled; not again before. */
  ready(): Ready {
    assert(this.inFlight === null, 'ready() called again before advance() of the previous Ready');
    const r = this.raft;
    r.sendBatched();
    const log = r.log;
    let softState: SoftState | undefined;
    if (r.leader !== this.prevSoft.leader || r.role !== this.prevSoft.role) {
      softState = { leader: r.leader, role: r.role };
      this.prevSoft = softState;
    }
    let hardState: HardState | undefined;
    const h = this.prevHard;
    // Term and vote of the last Ready's hard state are durable once it is advanced: any change to
    // them made that Ready mustSync. So comparing with it tells whether this one needs an fsync.
    const termOrVoteChanged = h.term !== r.term || h.vote !== r.vote;
    if (termOrVoteChanged || h.commit !== log.committed) {
      hardState = { term: r.term, vote: r.vote, commit: log.committed };
      this.prevHard = hardState;
    }
    const snapshot = log.takePendingSnapshot();
    if (snapshot !== undefined) log.skipApplyingTo(snapshot.index);
    const entries = log.takeUnpersisted();
    const committedEntries = log.takeCommitted(r.cfg.committedEntriesBytesPerReadyMax);
    r.releaseUncommitted(committedEntries);
    // Empty lists are shared frozen constants; non-empty ones are handed over and replaced.
    const ready: Mutable<Ready> = {
      messages: r.msgs.length > 0 ? r.msgs : NO_MESSAGES,
      snapshotChunks: r.incomingChunks.length > 0 ? r.incomingChunks : NO_CHUNKS,
      entries,
      messagesAfterPersist: r.msgsAfterPersist.length > 0 ? r.msgsAfterPersist : NO_MESSAGES,
      committedEntries,
      readStates: r.readStates.length > 0 ? r.readStates : NO_READ_STATES,
      mustSync: termOrVoteChanged || snapshot !== undefined || entries.length > 0 || r.incomingChunks.length > 0,
    };
    if (softState !== undefined) ready.softState = softState;
    if (hardState !== undefined) ready.hardState = hardState;
    if (snapshot !== undefined) ready.snapshot = snapshot;
    if (r.msgs.length > 0) r.msgs = [];
    if (r.msgsAfterPersist.length > 0) r.msgsAfterPersist = [];
    if (r.incomingChunks.length > 0) r.incomingChunks = [];
    if (r.readStates.length > 0) r.readStates = [];
    this.inFlight = { ready, selfVoteTerm: r.takeSelfVoteTerm() };
    return ready;
  }

  /** The host has made `ready` durable (and sent and applied what it should). */
  advance(ready: Ready): void {
    const inFlight = this.inFlight;
    assert(inFlight !== null && inFlight.ready === ready, 'advance() called with a Ready that is not the one in flight');
    this.inFlight = null;
    const r = this.raft;
    const log = r.log;
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
        if (e.type === EntryType.ConfChange) r.applyConfChangeEntry(e);
      }
      log.appliedTo(ready.committedEntries[c - 1]!.index);
    }
    r.onReadyDurable(inFlight.selfVoteTerm);
  }

  /** While a Ready is being persisted: what may be handled at once (the rules are in ready.ts, DuringPersist). */
  takeDuringPersist(): DuringPersist {
    const messages = this.takeMessages();
    const committedEntries = this.takeCommittedEntries();
    if (messages.length === 0 && committedEntries.length === 0) return NOTHING_DURING_PERSIST;
    return { messages, committedEntries };
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
    const r = this.raft;
    r.sendBatched();
    if (r.msgs.length === 0) return NO_MESSAGES;
    const out = r.msgs;
    r.msgs = [];
    return out;
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
    const r = this.raft;
    const out = r.log.takeCommitted(r.cfg.committedEntriesBytesPerReadyMax, true);
    if (out.length === 0) return out;
    r.releaseUncommitted(out);
    r.log.appliedTo(out[out.length - 1]!.index);
    return out;
  }

  // --------------------------------------------------------------- status

  /** The membership in force (as of the applied index): status().conf without building the rest. */
  get confState(): ConfState {
    return this.raft.conf;
  }

  /** The current term: status().term without building the rest (a host checks each incoming message against it). */
  get term(): number {
    return this.raft.term;
  }

  /**
   * A transfer finishes with the snapshot it started with (as etcd and
   * hashicorp/raft do): when a newer snapshot replaced it meanwhile, the
   * storage must keep serving the old one, or the transfer restarts at offset 0
   * each time and, under steady writes with frequent snapshots, never ends
   * (simulator, profile snapshots). And a follower that installed it then
   * catches up from the log, which must still hold the entries after it. The
   * host asks after every advance(); only a leader sends snapshots.
   */
  snapshotTransfers(): SnapshotTransfers {
    const r = this.raft;
    if (r.role !== Role.Leader) return NO_TRANSFERS;
    let sending: number[] | null = null;
    let followerCatchingUp = false;
    const logStart = r.log.firstIndex() - 1;
    const last = r.log.lastIndex();
    for (const pr of r.progress.values()) {
      if (pr.id === r.id) continue;
      if (pr.state === ProgressState.Snapshot && pr.snapshot !== null) {
        (sending ??= []).push(pr.snapshot.index);
        followerCatchingUp = true;
      } else if (pr.state === ProgressState.Probe && pr.recentActive && pr.match >= logStart && pr.match < last) {
        // Typically right after a transfer: the follower holds the snapshot, the log the rest.
        followerCatchingUp = true;
      }
    }
    return sending === null && !followerCatchingUp ? NO_TRANSFERS : { sending: sending ?? [], followerCatchingUp };
  }

  status(): RaftStatus {
    const r = this.raft;
    const base = {
      id: r.id,
      term: r.term,
      vote: r.vote,
      role: r.role,
      leader: r.leader,
      commit: r.log.committed,
      applied: r.log.applied,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      persistedIndex: r.log.persistedIndex(),
      conf: r.conf,
      leadTransferee: r.leadTransferee,
    };
    if (r.role !== Role.Leader) return base;
    const progress: Record<NodeId, ProgressStatus> = {};
    for (const [id, pr] of r.progress) {
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
