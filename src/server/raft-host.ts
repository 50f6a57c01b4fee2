/**
 * The one loop that orders this member's side effects (architecture note,
 * "Rules of the house"). It moves opaque bytes: proposals in, committed
 * entries out to a state machine port (ports.ts StateMachine), whose results
 * go back to the waiting proposers. For each Ready of the Raft core:
 *   1. send `messages` at once (a leader's appends go out while it writes its
 *      own disk, Raft thesis §10.2.1);
 *   2. persist snapshot chunks, an incoming snapshot, entries and hard state
 *      with ONE group commit (one fsync), when the Ready says `mustSync`; a
 *      hard state that only moves the commit index rides along with the next
 *      durable write instead (commitIndex is volatile, paper Figure 2);
 *   3. send `messagesAfterPersist` (votes and acknowledgements promise
 *      durable state, paper Figure 2);
 *   4. apply committed entries and answer the clients waiting on them; serve
 *      read states whose index is applied. Committed entries need not wait
 *      for this Ready's fsync: they are applied while it runs (one turn after
 *      the write and fdatasync were issued), the Ready's own first, then
 *      those that commit meanwhile (RaftCore.takeDuringPersist). All of it
 *      happens in `applyCommitted`. A Ready that writes or installs a
 *      snapshot applies nothing before the snapshot is in place;
 *   5. advance().
 * ready() is never called again before advance(). Meanwhile proposals, reads
 * and incoming messages keep arriving; they go into the core at once (a batch
 * of proposals is even replicated to the followers during the fsync: see
 * workDuringPersist), and everything that arrives during one fsync is
 * written by the next one (group commit falls out of the loop's shape).
 *
 * Batching: proposals and linearizable reads are queued and handed to the
 * core once per event-loop turn (Clock.schedule), so a turn's proposals
 * become one entry batch, one append message per follower and one fsync, and
 * a turn's reads share one ReadIndex round.
 */
import type { Clock, Timer } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import { DropReason, EntryType, ProposalDroppedError, Role, type ConfChange, type Entry, type HardState, type Message, type NodeId, type Ready } from '../raft/index.js';
import { StorageFailedError } from '../storage/index.js';
import { isFatalStorageFailure } from './exit-codes.js';
import type { StatusResponse } from '../protocol/index.js';
import {
  leaderChanged,
  notLeader,
  overloaded,
  requestTimedOut,
  shuttingDown,
  storageFailed,
  writesRefusedAfterStorageFailure,
  type LeaderHint,
} from './errors.js';
import type { Logger } from './logger.js';
import { memberStatus, type MemberIdentity } from './member-status.js';
import type { ServerMetrics } from './metrics.js';
import type { CoreStatus, HostStorage, RaftCore, StateMachine } from './ports.js';
import { ProposalTracker } from './proposal-tracker.js';
import { ReadBatcher } from './read-batcher.js';
import { SnapshotPolicy } from './snapshot-policy.js';

const noTransfers = { sending: [], followerCatchingUp: false } as const;

export interface RaftHostOptions {
  readonly identity: MemberIdentity;
  readonly tickIntervalMs: number;
  readonly snapshotEveryEntries: number;
  /** See SnapshotPolicyOptions (default 5000, etcd's). */
  readonly snapshotCatchUpEntries?: number;
  /**
   * Bug injection for the simulator only (test/sim/bug-injection.test.ts):
   * hold no snapshot for transfers and never postpone a snapshot, so that a
   * newer snapshot restarts a transfer at offset 0 (snapshot starvation).
   */
  readonly testingOnlyUnsafe?: { readonly restartSnapshotTransfers?: boolean };
  readonly pendingRequestsMax: number;
  /** Time: the tick, the per-turn schedule, deadlines (on `monotonicMs`). */
  readonly clock: Clock;
  /** Bytes of the data directory on disk, for the status report (default: not reported). */
  readonly dataSizeBytes?: () => number;
  /** Randomness (the proposal instance id). */
  readonly random: RandomSource;
  /** Called once, after pending requests failed, for a storage failure that must end the process (exit-codes.ts). */
  readonly onFatalStorageFailure?: (error: StorageFailedError) => void;
}

/** Where the member's peers are, and how to reach them (implemented by PeerNetwork). */
export interface PeerDirectory {
  send(message: Message): void;
  clientUrlOf(name: NodeId): string | null;
  peerUrlOf(name: NodeId): string | null;
  members(): readonly { name: string; peerUrl: string; clientUrl: string | null }[];
  /** Whether the link to `name` is up now (absent: assume it is). */
  isReachable?(name: NodeId): boolean;
}

export class RaftHost<Result> {
  readonly name: string;
  private readonly clock: Clock;
  private readonly proposals: ProposalTracker<Result>;
  private readonly reads: ReadBatcher;
  private readonly snapshots: SnapshotPolicy;

  /** The latest hard state that moved only the commit index, not yet written (see persist). */
  private commitOnlyHardState: HardState | undefined;
  private role: Role = Role.Follower;
  private leader: NodeId | null = null;
  private driving = false;
  private scheduled = false;
  private ticker: Timer | undefined;
  private stopped = false;
  private accepting = true;
  private storageFailure: Error | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  /** When the clock last ticked us (on monotonicMs): /livez reads how long ago. */
  private lastTickMs: number;

  /** The committed entries of the Ready in flight not yet applied: applied before any the core hands out later. */
  private readyCommitted: readonly Entry[] = NO_ENTRIES;
  /** True while the Ready in flight writes or installs a snapshot: nothing is applied before it is in place. */
  private applyHeld = false;
  private readonly leaderWaiters = new Set<() => void>();
  private readonly drainWaiters = new Set<() => void>();

  constructor(
    private readonly options: RaftHostOptions,
    private readonly core: RaftCore,
    private readonly storage: HostStorage,
    private readonly stateMachine: StateMachine<Result>,
    private readonly peers: PeerDirectory,
    private readonly logger: Logger,
    private readonly metrics: ServerMetrics | null = null,
  ) {
    this.name = options.identity.name;
    this.clock = options.clock;
    this.lastTickMs = this.clock.monotonicMs();
    const settled = () => this.noteSettled();
    // Failures are counted where proposals are answered, not by a rejection handler on each proposal's promise.
    const failed = metrics === null ? undefined : (count: number) => metrics.proposalsFailed.inc(count);
    this.proposals = new ProposalTracker(options.pendingRequestsMax, this.clock, options.random, settled, failed);
    this.reads = new ReadBatcher(options.pendingRequestsMax, this.clock, () => leaderChanged('read', this.hint()), settled);
    const policy = { snapshotEveryEntries: options.snapshotEveryEntries, snapshotCatchUpEntries: options.snapshotCatchUpEntries ?? 5000 };
    this.snapshots = new SnapshotPolicy(policy, storage, stateMachine, this.clock, logger, {
      onStorageFailure: (error) => this.onStorageFailure(error),
      onTaken: () => this.schedule(),
    });
  }

  /** Starts the clock: one core tick per tickIntervalMs. */
  start(): void {
    this.ticker = this.clock.setRepeating(this.options.tickIntervalMs, () => this.onTick());
    this.schedule();
  }

  // ------------------------------------------------------------ what the client service asks

  isLeader(): boolean {
    return this.role === Role.Leader && this.storageFailure === null;
  }

  leaderId(): string | null {
    return this.leader;
  }

  leaderClientUrl(): string | null {
    if (this.leader === null) return null;
    if (this.leader === this.name) return this.options.identity.clientUrl();
    return this.peers.clientUrlOf(this.leader);
  }

  /** The leader to retry at (null fields when unknown, or when it is this member). */
  hint(): LeaderHint {
    if (this.leader === null || this.leader === this.name) return { leaderId: null, leaderClientUrl: null };
    return { leaderId: this.leader, leaderClientUrl: this.leaderClientUrl() };
  }

  checkAccepting(): void {
    if (!this.accepting) throw shuttingDown(this.name, this.hint());
  }

  checkAcceptingWrites(): void {
    this.checkAccepting();
    if (this.storageFailure !== null) throw writesRefusedAfterStorageFailure(this.name, this.storageFailure);
  }

  /**
   * Proposes `payload` (opaque command bytes after proposalHeadroomBytes of
   * free space, see proposal-tracker.ts); resolves with the state machine's
   * result once applied here. Leader only.
   */
  propose(payload: Uint8Array, deadlineMs: number): Promise<Result> {
    if (!this.isLeader()) return Promise.reject(notLeader(this.name, this.hint()));
    const result = this.proposals.add(payload, deadlineMs);
    this.metrics?.proposals.inc();
    this.schedule();
    return result;
  }

  /** Resolves once a linearizable read may be served from the local state (leader only, ReadIndex). */
  readBarrier(deadlineMs: number): Promise<void> {
    if (!this.isLeader()) return Promise.reject(notLeader(this.name, this.hint()));
    const ready = this.reads.enqueue(deadlineMs);
    this.schedule();
    return ready;
  }

  /**
   * Resolves once this member applied at least the leader's commit index as
   * of the call (a follower's ReadIndex goes to the leader, thesis §6.4; the
   * leader confirms its own). Logins and auth refusals are judged after it.
   */
  catchUp(deadlineMs: number): Promise<void> {
    if (this.isLeader()) return this.readBarrier(deadlineMs);
    if (this.leader === null) return Promise.reject(notLeader(this.name, this.hint()));
    const ready = this.reads.enqueue(deadlineMs);
    this.schedule();
    return ready;
  }

  status(): Omit<StatusResponse, 'header'> {
    return memberStatus({
      identity: this.options.identity,
      core: this.core.status(),
      appliedIndex: this.stateMachine.appliedIndex,
      snapshotIndex: this.storage.snapshotIndex(),
      firstLogIndex: this.storage.firstIndex(),
      storageFailed: this.storageFailure !== null,
      leaderClientUrl: this.leaderClientUrl(),
      members: this.peers.members(),
      ...(this.options.dataSizeBytes !== undefined ? { dataSizeBytes: this.options.dataSizeBytes() } : {}),
    });
  }

  /** Milliseconds since the clock last ticked this host (the loop turns; see /livez). */
  sinceLastTickMs(): number {
    return this.clock.monotonicMs() - this.lastTickMs;
  }

  /** Proposals accepted and not answered yet. */
  get pendingProposals(): number {
    return this.proposals.size;
  }

  /** The core's current term (cheap: the peer network checks every incoming message's term against it). */
  currentTerm(): number {
    return this.core.currentTerm();
  }

  /** Term and last log index (for a starting peer's bootstrap probe). */
  logState(): { term: number; lastLogIndex: number } {
    const core = this.core.status();
    return { term: core.term, lastLogIndex: core.lastLogIndex };
  }

  /** Number of requests waiting for the loop (proposals and reads). */
  get inflight(): number {
    return this.proposals.size + this.reads.pendingReaders;
  }

  // ------------------------------------------------------------ inputs

  /** A Raft message from a peer. */
  receive(message: Message): void {
    if (this.stopped || this.storageFailure !== null) return;
    if (message.to !== this.name) {
      this.logger.warn({ from: message.from, to: message.to }, 'dropping a Raft message addressed to another member');
      return;
    }
    try {
      this.core.step(message);
    } catch (error) {
      this.logger.warn({ err: error, type: message.type, from: message.from }, 'core rejected a message');
      return;
    }
    this.schedule();
  }

  private onTick(): void {
    this.lastTickMs = this.clock.monotonicMs();
    if (this.stopped || this.storageFailure !== null) return;
    this.core.tick();
    this.proposals.expire(() => requestTimedOut('the request timed out on the server before it was applied'));
    this.reads.expire();
    this.schedule();
  }

  /** Runs the loop once at the end of this event-loop turn (after the turn's proposals and reads queued up). */
  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.clock.schedule(() => {
      this.scheduled = false;
      if (this.stopped) return;
      if (!this.driving) this.loopDone = this.drive();
      else this.workDuringPersist();
    });
  }

  // ------------------------------------------------------------ the loop

  private async drive(): Promise<void> {
    this.driving = true;
    try {
      for (;;) {
        if (this.stopped || this.storageFailure !== null) return;
        this.flushQueued();
        if (!this.core.hasReady()) return;
        const ready = this.core.ready();
        await this.handleReady(ready);
        this.core.advance(ready);
        // A transfer to a follower finishes with the snapshot it started with, and the log keeps
        // what the follower needs after it (docs/storage.md, "Snapshot transfers").
        const transfers = this.options.testingOnlyUnsafe?.restartSnapshotTransfers === true ? noTransfers : this.core.snapshotTransfers();
        this.storage.holdSnapshots(transfers.sending);
        this.snapshots.maybeSnapshot(this.core.conf(), transfers.followerCatchingUp);
      }
    } catch (error) {
      this.onStorageFailure(error);
    } finally {
      this.driving = false;
      this.readyCommitted = NO_ENTRIES;
      this.applyHeld = false;
    }
  }

  private async handleReady(ready: Ready): Promise<void> {
    if (ready.softState !== undefined) this.onSoftState(ready.softState.role, ready.softState.leader);

    // 1. Messages that may go before our own write.
    for (const message of ready.messages) this.peers.send(message);

    // 2. One group commit for everything durable in this Ready. Its committed entries are
    // applied meanwhile, unless a snapshot is being written or installed.
    this.applyHeld = ready.snapshot !== undefined || ready.snapshotChunks.length > 0;
    if (!this.applyHeld) this.readyCommitted = ready.committedEntries;
    const persisting = this.persist(ready);
    if (persisting !== null) {
      if (this.readyCommitted.length > 0) {
        // The WAL issues its write and fdatasync from microtasks, and every microtask runs
        // before the next scheduled turn: after one, the disk is busy and the CPU is ours.
        await this.nextTurn();
        this.applyCommitted(NO_ENTRIES);
      }
      await persisting;
    }
    if (this.applyHeld) {
      if (ready.snapshot !== undefined) await this.snapshots.install(ready.snapshot.index);
      this.applyHeld = false;
      this.readyCommitted = ready.committedEntries;
    }

    // 3. Acknowledgements, now that what they promise is durable.
    for (const message of ready.messagesAfterPersist) this.peers.send(message);

    // 4. Apply and answer what is left (all of it when nothing was written, or after a snapshot).
    this.applyCommitted(NO_ENTRIES);
    for (const readState of ready.readStates) this.reads.onReadState(readState.index, readState.context, this.stateMachine.appliedIndex);
    if (ready.snapshot !== undefined) this.reads.onApplied(this.stateMachine.appliedIndex);
  }

  /**
   * Starts the Ready's durable write when it must be synced (Ready.mustSync)
   * and returns its promise; otherwise keeps a commit-only hard state to ride
   * along with the next durable write (restarts then know how far they may
   * apply at once; it is not needed for safety) and returns null.
   */
  private persist(ready: Ready): Promise<void> | null {
    if (!ready.mustSync) {
      if (ready.hardState !== undefined) this.commitOnlyHardState = ready.hardState;
      return null;
    }
    const hardState = ready.hardState ?? this.commitOnlyHardState;
    this.commitOnlyHardState = undefined;
    if (ready.entries.length > 0) this.metrics?.readyEntries.observe(ready.entries.length);
    const metrics = this.metrics;
    const startMs = metrics === null ? 0 : this.clock.monotonicMs();
    const persisting = this.storage.persist({
      snapshotChunks: ready.snapshotChunks,
      ...(ready.snapshot !== undefined ? { snapshot: ready.snapshot } : {}),
      entries: ready.entries,
      ...(hardState !== undefined ? { hardState } : {}),
    });
    const timed =
      metrics === null
        ? persisting
        : persisting.then(() => {
            const seconds = (this.clock.monotonicMs() - startMs) / 1000;
            metrics.persistSeconds.observe(seconds);
            if (ready.entries.length > 0 || hardState !== undefined) metrics.walFsyncSeconds.observe(seconds);
          });
    // Awaited by the caller; a failure meanwhile must not count as an unhandled rejection.
    timed.catch(() => {});
    return timed;
  }

  /**
   * While a Ready's fsync is in flight:
   * - a batch of proposals (two or more) goes into the core with its appends
   *   sent at once. Under load this replicates the next batch while our own
   *   disk is still busy with the last one (the followers' acknowledgements
   *   commit it; the next Ready makes it durable here), so the leader's fsync
   *   no longer paces replication (README, benchmarks: puts at 64 clients).
   *   A lone proposal waits for the fsync instead: proposed after it, our own
   *   copy is written alongside the followers' and counts toward its quorum,
   *   so the fastest follower suffices (sent early it would need both
   *   followers: slower for a sequential client);
   * - entries that become committed (a follower's acknowledgement arrived)
   *   are applied and answered at once instead of after that fsync: one disk
   *   flush less on a write's latency.
   */
  private workDuringPersist(): void {
    if (this.stopped || this.storageFailure !== null || this.applyHeld) return;
    this.applyCommitted(NO_ENTRIES);
    if (this.proposals.queuedCount >= 2) this.flushQueued();
    const early = this.core.takeDuringPersist();
    for (const message of early.messages) this.peers.send(message);
    this.applyCommitted(early.committedEntries);
  }

  /**
   * The one place committed entries are applied: first what is left of the
   * Ready in flight's own, then `later` (handed out by the core meanwhile,
   * which come after them), in order. Then serves the reads this made safe.
   */
  private applyCommitted(later: readonly Entry[]): void {
    const own = this.readyCommitted;
    if (own.length === 0 && later.length === 0) return;
    this.readyCommitted = NO_ENTRIES;
    for (let i = 0; i < own.length; i++) this.applyEntry(own[i]!);
    for (let i = 0; i < later.length; i++) this.applyEntry(later[i]!);
    this.reads.onApplied(this.stateMachine.appliedIndex);
  }

  /** The answer to a proposal whose entry a new leader overwrote (one function, not one per applied entry). */
  private readonly overwritten = (): Error => leaderChanged('write', this.hint());

  private applyEntry(entry: Entry): void {
    // Raft §5.4: our proposal at this index committed iff the entry here has its term. Otherwise
    // a new leader overwrote it; its client retries (same session and seq: applies at most once).
    this.proposals.checkCommitted(entry.index, entry.term, this.overwritten);
    if (entry.index <= this.stateMachine.appliedIndex) return; // covered by a snapshot we installed
    this.snapshots.noteApplied(entry.term);
    if (entry.type === EntryType.ConfChange) {
      this.stateMachine.applyConfChange(entry.index, entry.term, entry.data);
      return;
    }
    if (entry.data.length === 0) {
      this.stateMachine.apply(entry.index, entry.data); // the no-op entry of a new leader (Raft §8)
      return;
    }
    let proposal;
    try {
      proposal = this.proposals.decode(entry.index, entry.data);
    } catch (error) {
      // Every member sees the same bytes and skips them alike: replicas stay equal.
      this.logger.error({ err: error, index: entry.index }, 'skipping an undecodable log entry');
      this.stateMachine.skip(entry.index);
      return;
    }
    this.proposals.onApplied(proposal, this.stateMachine.apply(entry.index, proposal.command));
  }

  /** Hands the turn's proposals and reads to the core. */
  private flushQueued(): void {
    this.proposals.handTo(this.core, (error) => this.refusal(error));
    if (this.reads.hasOpenBatch) {
      this.reads.flush({
        requestReadIndex: (context) => {
          this.metrics?.readIndexRequests.inc();
          try {
            this.core.readIndex(context);
          } catch (error) {
            throw this.refusal(error);
          }
        },
      });
    }
  }

  private nextTurn(): Promise<void> {
    return new Promise<void>((resolve) => this.clock.schedule(resolve));
  }

  private onSoftState(role: Role, leader: NodeId | null): void {
    const wasLeader = this.role === Role.Leader;
    const previousLeader = this.leader;
    if (role !== this.role || leader !== this.leader) {
      this.logger.info({ role, leader, previousRole: this.role, previousLeader: this.leader }, 'role or leader changed');
    }
    if (leader !== null && leader !== this.leader) this.metrics?.leaderChanges.inc();
    this.role = role;
    this.leader = leader;
    if (wasLeader && role !== Role.Leader) {
      // Entries we proposed may still commit under the next leader, or may not: the outcome is
      // unknown, so the client must retry with the same session and seq (exactly once, thesis §6.3).
      // Proposals still queued here were never handed to the core: plainly refused.
      const n = this.proposals.failAll(
        () => notLeader(this.name, this.hint()),
        () => leaderChanged('write', this.hint()),
      );
      this.reads.failUnconfirmed(() => leaderChanged('read', this.hint()));
      if (n > 0) this.logger.info({ rejected: n }, 'leadership lost: pending proposals answered');
    } else if (role !== Role.Leader && leader !== previousLeader) {
      // A follower's catch-up asked the previous leader, which may never answer now.
      this.reads.failUnconfirmed(() => leaderChanged('read', this.hint()));
    }
    for (const wake of [...this.leaderWaiters]) wake();
  }

  /** The core refused a proposal or read: not leader (any more), transferring leadership, or a bound reached. */
  private refusal(error: unknown): Error {
    if (!(error instanceof ProposalDroppedError)) return error instanceof Error ? error : new Error(String(error));
    if (error.reason === DropReason.UncommittedBytesLimit) return overloaded(error.reason, this.core.limits.uncommittedEntriesBytesMax);
    if (error.reason === DropReason.PendingReadsLimit) return overloaded(error.reason, this.core.limits.pendingReadIndexRequestsMax);
    return notLeader(this.name, this.hint());
  }

  // ------------------------------------------------------------ failures and shutdown

  private onStorageFailure(error: unknown): void {
    if (this.storageFailure !== null) return;
    const failure = error instanceof Error ? error : new Error(String(error));
    this.storageFailure = failure;
    if (error instanceof StorageFailedError || typeof (error as { errno?: unknown }).errno === 'number') {
      this.logger.error({ err: error }, 'storage failure: this member stops accepting writes and leaves the cluster loop');
    } else {
      // Not a disk error: a bug. The loop's state can no longer be trusted either, so the member
      // stops the same way (refusing writes, serving only stale reads and status) and says so.
      this.logger.fatal({ err: error }, 'the replication loop failed unexpectedly (a bug): this member stops accepting writes');
    }
    const failed = () => storageFailed(this.name, failure);
    this.proposals.failAll(failed, failed);
    this.reads.failAll(failed);
    this.role = Role.Follower;
    this.leader = null;
    if (isFatalStorageFailure(error)) this.options.onFatalStorageFailure?.(error);
  }

  /** Stops taking client requests (they get ShuttingDown); the loop keeps running. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Waits until no request is pending or `deadlineMs` (on clock.monotonicMs) passes. */
  async drainInflight(deadlineMs: number): Promise<void> {
    while (this.inflight > 0 && this.clock.monotonicMs() < deadlineMs) await this.waitForChange(this.drainWaiters, deadlineMs);
  }

  /** Asks the core to hand leadership to `target` (thesis §3.10; leader-transfer.ts picks it and waits). Throws the core's refusal. */
  requestTransfer(target: NodeId): void {
    this.core.transferLeadership(target);
    this.schedule();
  }

  /** Resolves when the role or leader changes, or at `deadlineMs`. */
  waitForLeaderChange(deadlineMs: number): Promise<void> {
    return this.waitForChange(this.leaderWaiters, deadlineMs);
  }

  /**
   * Leader only: appends a membership change (member-changes.ts checks it
   * first) and returns where it went. Throws NotLeader, or the core's
   * refusal as it is (ProposalDroppedError, InvalidConfChangeError).
   */
  proposeConfChange(change: ConfChange): { index: number; term: number } {
    if (!this.isLeader()) throw notLeader(this.name, this.hint());
    const at = this.core.proposeConfChange(change);
    this.schedule();
    return at;
  }

  /** The core's view (progress of each follower on a leader). */
  coreStatus(): CoreStatus {
    return this.core.status();
  }

  /** Index of the last entry applied to the state machine. */
  get appliedIndex(): number {
    return this.stateMachine.appliedIndex;
  }

  /** True once the loop stopped for good (stop() or a storage failure). */
  get halted(): boolean {
    return this.stopped || this.storageFailure !== null;
  }

  /**
   * Stops the clock and the loop; answers whatever is still waiting. A
   * proposal already handed to the core may still commit (through another
   * leader): its client learns that the outcome is unknown (LeaderChanged),
   * while one never handed over is refused (ShuttingDown). Storage is closed
   * by the caller.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.ticker?.cancel();
    // A drive that started while we waited replaces loopDone: wait until the latest one is done.
    for (let done = this.loopDone; ; done = this.loopDone) {
      await done;
      if (done === this.loopDone) break;
    }
    if (this.commitOnlyHardState !== undefined && this.storageFailure === null) {
      // Not needed for safety, but a restart then knows how far it may apply at once.
      await this.storage.persist({ snapshotChunks: [], entries: [], hardState: this.commitOnlyHardState }).catch(() => {});
      this.commitOnlyHardState = undefined;
    }
    const hint = this.hint();
    this.proposals.failAll(
      () => shuttingDown(this.name, hint),
      () => leaderChanged('write', hint, `member ${this.name} stopped before the write was applied; its outcome is unknown: retry with the same session and seq`),
    );
    this.reads.failAll(() => shuttingDown(this.name, hint));
  }

  /** Resolves at the next wake-up of `waiters` or at `deadlineMs`, whichever comes first. */
  private waitForChange(waiters: Set<() => void>, deadlineMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        timer.cancel();
        waiters.delete(done);
        resolve();
      };
      const timer = this.clock.setTimer(Math.max(1, deadlineMs - this.clock.monotonicMs()), done);
      waiters.add(done);
    });
  }

  /** Wakes drainInflight once nothing is pending. */
  private noteSettled(): void {
    if (this.drainWaiters.size === 0 || this.inflight > 0) return;
    for (const wake of [...this.drainWaiters]) wake();
  }
}

const NO_ENTRIES: readonly Entry[] = [];
