/**
 * The simulated host of one Raft node: it drives the core the way the server
 * will (architecture.md, "the one place that orders side effects"):
 *
 * 1. take a Ready; send `messages` at once (a leader may replicate before its
 *    own fsync);
 * 2. start writing the Ready's chunks/snapshot/entries/hard state; the write
 *    becomes durable only when the simulated fsync completes, a random delay
 *    later (meanwhile the node keeps stepping messages and ticking);
 * 3. at fsync completion: make the batch durable on the SimDisk, send
 *    `messagesAfterPersist`, apply `committedEntries` to the register state
 *    machine and answer waiting clients, serve ReadIndex reads whose index is
 *    applied, call `advance()`; maybe take a snapshot and compact the log.
 *
 * A crash drops the live node (core, state machine, pending write, pending
 * client requests); the SimDisk survives. A restart rebuilds the core from
 * the disk and the state machine from the disk's snapshot.
 */
import { RaftNode } from '../../src/raft/node.js';
import { EntryType, type Entry, type NodeId } from '../../src/raft/types.js';
import type { Message } from '../../src/raft/messages.js';
import { Role, type Ready } from '../../src/raft/ready.js';
import type { RaftStatus } from '../../src/raft/node.js';
import { InvariantChecker, InvariantViolationError, describeView, type LogView } from './invariants.js';
import type { Prng } from '../../src/common/rng.js';
import { RegisterOpKind, type RegisterOutput } from './register-model.js';
import { RegisterStateMachine, decodeCommand, fingerprint } from './register-state-machine.js';
import { SimDisk, isEmptyBatch, type PersistBatch } from './sim-disk.js';
import { describeEntries } from './describe.js';

/** A client request waiting at this node for its outcome. */
export interface PendingRequest {
  readonly clientId: number;
  readonly seq: number;
  readonly kind: RegisterOpKind;
  readonly key: string;
  /** For proposals: where the leader put the entry. */
  proposal?: { readonly index: number; readonly term: number };
  /** For reads: the ReadIndex context. */
  readContext?: string;
}

export interface NodeEnv {
  now(): number;
  /** When false, nothing is traced (and no trace text should be built). */
  readonly tracing: boolean;
  trace(line: string): void;
  send(from: SimNode, messages: readonly Message[]): void;
  scheduleFsync(node: SimNode, incarnation: number): void;
  /** A request's outcome is known: tell the client. `output` undefined = definitely not applied. */
  complete(node: SimNode, req: PendingRequest, output: RegisterOutput | undefined): void;
  /** A client command took effect here with this result (the first replica to apply it reports it). */
  commandApplied(key: string, index: number, output: RegisterOutput): void;
  readonly invariants: InvariantChecker;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly snapshotEveryEntries: number;
  readonly snapshotChunkBytes: number;
  readonly countStaleVotes: boolean;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Apply committed entries without waiting for local durability (see Scenario.applyBeforeDurable). */
  readonly applyBeforeDurable: boolean;
  /** Send the core's messages while a Ready's fsync is in flight (see Scenario.sendDuringPersist). */
  readonly sendDuringPersist: boolean;
}

const textDecoder = new TextDecoder();

export class SimNode {
  readonly disk: SimDisk;
  raft: RaftNode | null = null;
  /** Bumped at every crash, so that events of a previous life are ignored. */
  incarnation = 0;
  private sm = new RegisterStateMachine();
  private applied = 0;
  private inflight: { ready: Ready; batch: PersistBatch; appliedEarly: boolean } | null = null;
  /** Term of the entry at `applied` (of the snapshot when it came from one). */
  private appliedTerm = 0;
  private view: { snapshotIndex: number; snapshotTerm: number; terms: number[] } = { snapshotIndex: 0, snapshotTerm: 0, terms: [] };
  private readonly proposals = new Map<string, PendingRequest>();
  private readonly reads = new Map<string, PendingRequest>();
  /** Reads whose ReadIndex arrived, waiting for the applied index to reach it. */
  private readyReads: { req: PendingRequest; index: number }[] = [];
  /** Set when the node was removed from the configuration (it keeps running, as a real one would until shut down). */
  removed = false;
  private readyRole: Role = Role.Follower;
  private readyTerm = 0;
  crashes = 0;
  snapshotsInstalled = 0;

  constructor(
    readonly id: NodeId,
    disk: SimDisk,
    private readonly rng: Prng,
    private readonly env: NodeEnv,
  ) {
    this.disk = disk;
  }

  get up(): boolean {
    return this.raft !== null;
  }

  /** Start (or restart) the node from its disk. */
  start(): void {
    if (this.raft) throw new Error(`${this.id} is already running`);
    const snap = this.disk.snapshotMetadata();
    this.sm = snap.index > 0 ? RegisterStateMachine.deserialize(this.disk.snapshotData()) : new RegisterStateMachine();
    this.applied = snap.index;
    this.appliedTerm = snap.term;
    this.env.invariants.resetApplied(this.id, snap.index);
    if (snap.index > 0) this.env.invariants.observeState(this.id, snap.index, fingerprint(this.sm.canonical()), 'restored from its snapshot');
    this.view = { snapshotIndex: snap.index, snapshotTerm: snap.term, terms: this.disk.logEntries().map((e) => e.term) };
    this.raft = new RaftNode({
      id: this.id,
      storage: this.disk,
      electionTimeoutTicks: this.env.electionTicks,
      heartbeatIntervalTicks: this.env.heartbeatTicks,
      rng: this.rng,
      snapshotChunkBytesMax: this.env.snapshotChunkBytes,
      preVote: this.env.preVote,
      checkQuorum: this.env.checkQuorum,
      appendBytesMax: 256,
      inflightAppendsMax: 8,
      ...(this.env.countStaleVotes ? { testingOnlyUnsafe: { countStaleVotes: true } } : {}),
    });
    const st = this.raft.status();
    this.readyRole = st.role;
    this.readyTerm = st.term;
    this.observe();
  }

  /**
   * Crash: everything not durable is lost. `keepInflightWrite`: the write in
   * progress reached the disk anyway (it was only not yet acknowledged).
   */
  crash(keepInflightWrite: boolean): void {
    if (!this.raft) return;
    if (keepInflightWrite && this.inflight) {
      this.disk.writeBatch(this.inflight.batch);
      if (this.inflight.batch.hardState) this.env.invariants.observeDurableHardState(this.id, this.inflight.batch.hardState);
    }
    this.raft = null;
    this.inflight = null;
    this.incarnation++;
    this.crashes++;
    this.proposals.clear();
    this.reads.clear();
    this.readyReads = [];
  }

  status(): RaftStatus | null {
    return this.raft ? this.raft.status() : null;
  }

  /** Record role/term/commit with the invariant checker (after every event at this node). */
  observe(): void {
    const raft = this.raft;
    if (!raft) return;
    const st = raft.status();
    this.env.invariants.observeStatus(this.id, st.role === Role.Leader, st.term, st.commit, st.conf);
  }

  tick(): void {
    this.raft?.tick();
    this.workDuringPersist();
    this.pump();
  }

  deliver(m: Message): void {
    if (!this.raft) return;
    this.raft.step(m);
    this.workDuringPersist();
    this.pump();
  }

  /**
   * While a Ready's fsync is in flight: with sendDuringPersist, the core's
   * messages go out at once (a leader's appends of new proposals); with
   * applyBeforeDurable, entries that commit are applied at once.
   */
  workDuringPersist(): void {
    // Entries taken here follow the in-flight Ready's own committed entries, which only the
    // applyBeforeDurable mode has applied already (as the server does).
    if (!this.env.applyBeforeDurable || !this.raft || this.inflight === null) return;
    const { messages, committedEntries: entries } = this.raft.takeDuringPersist();
    if (messages.length > 0) {
      if (this.env.tracing) this.env.trace(`${this.id} send during fsync: ${messages.length} messages`);
      this.env.send(this, messages);
    }
    if (entries.length === 0) return;
    if (this.env.tracing) this.env.trace(`${this.id} apply during fsync ${describeEntries(entries)}`);
    for (const e of entries) this.applyEntry(e);
    this.serveReads();
  }

  /** Register a client request accepted by the core here (a proposal or a ReadIndex). */
  track(req: PendingRequest): void {
    if (req.readContext !== undefined) this.reads.set(req.readContext, req);
    else this.proposals.set(requestKey(req.clientId, req.seq), req);
  }

  /** The client gave up on this request. */
  forget(req: PendingRequest): void {
    if (req.readContext !== undefined) {
      this.reads.delete(req.readContext);
      this.readyReads = this.readyReads.filter((r) => r.req !== req);
    } else {
      const key = requestKey(req.clientId, req.seq);
      if (this.proposals.get(key) === req) this.proposals.delete(key);
    }
  }

  /** Hand out and start handling Readies while the core has any and no write is in flight. */
  pump(): void {
    while (this.raft && this.inflight === null && this.raft.hasReady()) {
      const raft = this.raft;
      const rd = raft.ready();
      this.noteReady(rd);
      this.env.send(this, rd.messages);
      const batch: PersistBatch = {
        snapshotChunks: rd.snapshotChunks,
        snapshot: rd.snapshot,
        entries: rd.entries,
        hardState: rd.hardState,
      };
      // Committed means durable on a majority: a host may apply before its own fsync (as the
      // server does), unless a snapshot must be installed first.
      const appliedEarly = this.env.applyBeforeDurable && rd.snapshot === undefined && rd.snapshotChunks.length === 0;
      if (appliedEarly) {
        for (const e of rd.committedEntries) this.applyEntry(e);
        this.serveReads();
      }
      if (isEmptyBatch(batch)) {
        this.finish(rd, batch, appliedEarly);
      } else {
        this.inflight = { ready: rd, batch, appliedEarly };
        this.env.scheduleFsync(this, this.incarnation);
        break;
      }
    }
    this.observe();
  }

  /** The simulated fsync of the in-flight write completed. */
  fsyncDone(incarnation: number): void {
    if (incarnation !== this.incarnation || !this.inflight || !this.raft) return;
    const { ready, batch, appliedEarly } = this.inflight;
    this.inflight = null;
    this.finish(ready, batch, appliedEarly);
    this.pump();
  }

  private noteReady(rd: Ready): void {
    if (this.env.tracing) this.traceReady(rd);
    // Keep the host's view of the core's log (everything handed out so far) for the invariants.
    if (rd.snapshot) {
      this.view = { snapshotIndex: rd.snapshot.index, snapshotTerm: rd.snapshot.term, terms: [] };
    }
    if (rd.entries.length > 0) {
      const view = this.view;
      const first = (rd.entries[0] as Entry).index;
      if (first <= view.snapshotIndex || first > view.snapshotIndex + view.terms.length + 1) {
        throw new InvariantViolationError('ready entries', `${this.id} was handed entries from ${first}, its log is ${describeView(view)}`);
      }
      view.terms.length = first - view.snapshotIndex - 1;
      for (const e of rd.entries) view.terms.push(e.term);
      this.env.invariants.observeLogEntries(this.id, view as LogView, first, rd.entries.map((e) => fingerprint(e.data)));
    }
    // Role and term as of this ready() (softState/hardState are computed then).
    if (rd.softState) this.readyRole = rd.softState.role;
    if (rd.hardState) this.readyTerm = rd.hardState.term;
    if (this.readyRole === Role.Leader) this.env.invariants.observeLeaderLog(this.id, this.readyTerm, this.view as LogView);
  }

  private traceReady(rd: Ready): void {
    const parts: string[] = [];
    if (rd.softState) parts.push(`role=${rd.softState.role} leader=${rd.softState.leader ?? '-'}`);
    if (rd.hardState) parts.push(`hs=t${rd.hardState.term}/v${rd.hardState.vote ?? '-'}/c${rd.hardState.commit}`);
    if (rd.snapshot) parts.push(`snapshot=${rd.snapshot.index}@${rd.snapshot.term}`);
    if (rd.snapshotChunks.length > 0) {
      parts.push(`chunks=${rd.snapshotChunks.map((c) => `${c.index}@${c.term}:${c.offset}+${c.data.length}${c.done ? '!' : ''}`).join(',')}`);
    }
    if (rd.entries.length > 0) parts.push(`entries=${describeEntries(rd.entries)}`);
    if (rd.committedEntries.length > 0) parts.push(`apply=${describeEntries(rd.committedEntries)}`);
    if (rd.readStates.length > 0) parts.push(`reads=${rd.readStates.map((r) => `${textDecoder.decode(r.context)}@${r.index}`).join(',')}`);
    if (parts.length > 0) this.env.trace(`${this.id} ready ${parts.join(' ')}`);
  }

  private finish(rd: Ready, batch: PersistBatch, appliedEarly: boolean): void {
    const raft = this.raft as RaftNode;
    if (!isEmptyBatch(batch)) {
      this.disk.writeBatch(batch);
      if (batch.hardState) this.env.invariants.observeDurableHardState(this.id, batch.hardState);
    }
    if (batch.snapshot) this.installSnapshot(batch.snapshot.index);
    this.env.send(this, rd.messagesAfterPersist);
    if (!appliedEarly) for (const e of rd.committedEntries) this.applyEntry(e);
    for (const rs of rd.readStates) {
      const ctx = textDecoder.decode(rs.context);
      const req = this.reads.get(ctx);
      if (req === undefined) continue; // the client gave up, or the answer is a duplicate
      this.reads.delete(ctx);
      this.readyReads.push({ req, index: rs.index });
    }
    this.serveReads();
    raft.advance(rd);
    this.maybeSnapshot(raft);
  }

  private installSnapshot(index: number): void {
    this.snapshotsInstalled++;
    this.sm = RegisterStateMachine.deserialize(this.disk.snapshotData());
    this.applied = index;
    this.appliedTerm = this.disk.snapshotMetadata().term;
    this.env.invariants.resetApplied(this.id, index);
    this.env.invariants.observeState(this.id, index, fingerprint(this.sm.canonical()), 'installed from a leader snapshot');
    if (this.env.tracing) this.env.trace(`${this.id} installed snapshot ${index}`);
  }

  private applyEntry(e: Entry): void {
    if (e.index !== this.applied + 1) {
      throw new InvariantViolationError('applied prefixes agree', `${this.id} was handed entry ${e.index} to apply after ${this.applied}`);
    }
    this.env.invariants.observeApply(this.id, e.index, e.term, fingerprint(e.data));
    this.applied = e.index;
    this.appliedTerm = e.term;
    if (e.type === EntryType.Normal && e.data.length > 0) {
      const cmd = decodeCommand(e.data);
      const key = requestKey(cmd.clientId, cmd.seq);
      this.env.invariants.observeCommand(this.id, key, e.index);
      const result = this.sm.apply(cmd);
      if (result.kind !== 'stale') {
        this.env.commandApplied(key, e.index, result.kind === RegisterOpKind.Cas ? { kind: RegisterOpKind.Cas, swapped: result.swapped } : { kind: RegisterOpKind.Write });
      }
      const req = this.proposals.get(key);
      if (req !== undefined) {
        this.proposals.delete(key);
        const p = req.proposal;
        if (p === undefined || p.index !== e.index || p.term !== e.term) {
          throw new InvariantViolationError(
            'proposal result',
            `${this.id} accepted client ${cmd.clientId}'s command ${cmd.seq} at ${p?.index}@${p?.term}, but it was applied at ${e.index}@${e.term}`,
          );
        }
        if (result.kind === 'stale') {
          throw new InvariantViolationError('exactly once', `${this.id} applied client ${cmd.clientId}'s pending command ${cmd.seq} after a later one`);
        }
        this.env.complete(this, req, result.kind === RegisterOpKind.Cas ? { kind: RegisterOpKind.Cas, swapped: result.swapped } : { kind: RegisterOpKind.Write });
      }
    }
    // A proposal accepted at this index in another term can no longer commit (its only copy was replaced).
    for (const req of [...this.proposals.values()]) {
      const p = req.proposal;
      if (p !== undefined && p.index === e.index && p.term !== e.term) {
        this.proposals.delete(requestKey(req.clientId, req.seq));
        this.env.complete(this, req, undefined);
      }
    }
    // Replicas applying the same entries from the same state agree; record the state once per
    // index so that snapshots installed or restored later can be compared against it.
    if (!this.env.invariants.hasStateAt(e.index)) {
      this.env.invariants.observeState(this.id, e.index, fingerprint(this.sm.canonical()), 'after applying');
    }
  }

  private serveReads(): void {
    if (this.readyReads.length === 0) return;
    const waiting: { req: PendingRequest; index: number }[] = [];
    for (const r of this.readyReads) {
      if (r.index <= this.applied) {
        this.env.complete(this, r.req, { kind: RegisterOpKind.Read, value: this.sm.read(r.req.key) });
      } else waiting.push(r);
    }
    this.readyReads = waiting;
  }

  private maybeSnapshot(raft: RaftNode): void {
    const every = this.env.snapshotEveryEntries;
    if (every <= 0) return;
    const snapIndex = this.disk.snapshotMetadata().index;
    if (this.applied - snapIndex < every) return;
    // Only durable entries can be compacted. Applied entries may not be durable here yet (with
    // applyBeforeDurable), or the durable log may still hold an older term's entry at that
    // index: the snapshot's term must be the applied entry's, so wait until the disk agrees.
    if (this.applied > this.disk.lastIndex() || this.disk.term(this.applied) !== this.appliedTerm) return;
    const conf = raft.status().conf;
    this.disk.createSnapshot(this.applied, conf, this.sm.serialize());
    if (this.env.tracing) this.env.trace(`${this.id} snapshot+compact at ${this.applied}`);
  }

  appliedIndex(): number {
    return this.applied;
  }

  readRegister(key: string): string | null {
    return this.sm.read(key);
  }

  hasPendingWork(): boolean {
    return this.inflight !== null;
  }
}

export function requestKey(clientId: number, seq: number): string {
  return clientId + ':' + seq;
}
