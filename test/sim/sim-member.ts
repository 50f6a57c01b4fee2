/**
 * One simulated member: the production pieces `startServer` wires, wired the
 * same way but without sockets. RaftHost + RaftNode + DurableStorage (over
 * its own SimulatedDisk, through `openHostStorage`) + KvStateMachine +
 * ClientService, with the member's SimClock and seeded RandomSource injected.
 * The network reaches it at two seams: the host's PeerDirectory (Raft
 * messages, sim-transport.ts) and the ClientService handlers (client calls
 * and forwarded requests).
 *
 * What differs from `startServer` (and is therefore not covered here): the
 * listeners and PeerNetwork/PeerLink (the net layer), the member file, the
 * metrics, and `close()`'s graceful shutdown. A crash abandons the running
 * pieces (their clock halts, the disk loses what was not synced); a restart
 * builds new ones from the disk, as a restarted process does.
 *
 * The invariants observe the member through the core (sim-core.ts: every
 * Ready and early hand-out), the host's storage port (hard states once
 * durable) and the state machine (its state at each applied index).
 */
import { pino } from 'pino';
import type { Prng } from '../../src/common/rng.js';
import { KvStateMachine, type ApplyResult } from '../../src/kv/index.js';
import type { RaftNode } from '../../src/raft/node.js';
import type { DuringPersist, Ready } from '../../src/raft/ready.js';
import { MessageType, type Message } from '../../src/raft/messages.js';
import { EntryType, type ConfState, type Entry, type NodeId } from '../../src/raft/types.js';
import { ClientService, type Forwarder } from '../../src/server/kv-service.js';
import { KvReplica, kvStateMachinePort } from '../../src/server/kv-replica.js';
import { LeaseExpirer } from '../../src/server/lease-expirer.js';
import { EntryClock, observingEntryTime } from '../../src/server/entry-clock.js';
import type { HostStorage } from '../../src/server/ports.js';
import { createRaftCore } from '../../src/server/raft-core-adapter.js';
import { RaftHost, type PeerDirectory } from '../../src/server/raft-host.js';
import { transferLeadership } from '../../src/server/leader-transfer.js';
import type { Clock } from '../../src/common/clock.js';

/** Graceful shutdown's leadership transfer as startServer does it (every simulated link counts as reachable). */
export async function simTransfer(host: RaftHost<ApplyResult>, clock: Clock, deadlineMs: number): Promise<boolean> {
  const io = { clock, logger: pino({ level: 'silent' }), reachable: () => true, electionTimeoutMs: Math.max(1, deadlineMs - clock.monotonicMs()) };
  return (await transferLeadership(host, io, { deadlineMs })).ok;
}
import { openHostStorage, type OpenedStorage } from '../../src/server/storage-adapter.js';
import { SimulatedDisk } from '../../src/testing/simulated-disk.js';
import { InvariantViolationError, describeView, type InvariantChecker, type LogView } from './invariants.js';
import { SimClock, type SimScheduler } from './sim-clock.js';
import { fingerprint, observeCore } from './sim-core.js';
import { SimDiskAdapter, type SimDiskFaults } from './sim-disk.js';
import { describeEntries } from './describe.js';

export const MemberState = {
  Down: 'down',
  Starting: 'starting',
  Up: 'up',
  /** Shutting down gracefully (startServer's close()): the host runs, clients are refused. */
  Stopping: 'stopping',
} as const;
export type MemberState = (typeof MemberState)[keyof typeof MemberState];

/** What a member needs from the simulation around it. */
export interface MemberEnv {
  readonly scheduler: SimScheduler;
  readonly invariants: InvariantChecker;
  readonly tracing: boolean;
  trace(line: string): void;
  /** A Raft message leaves `from` (the network decides its fate). */
  sendRaft(from: SimMember, message: Message): void;
  /** The forwarding seam of a follower's ClientService (sim-transport.ts). */
  forwarderFor(member: SimMember): Forwarder;
  /** Every member's name (the initial voters). */
  readonly voters: readonly NodeId[];
  /** An observer threw: the run fails after this event (never thrown into production code). */
  violation(error: unknown): void;
  /** A committed entry's bytes (for settling unknown outcomes). */
  committed(entry: Entry): void;
  readonly config: MemberConfig;
}

export interface MemberConfig {
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly snapshotEveryEntries: number;
  readonly snapshotChunkBytes: number;
  readonly snapshotCatchUpEntries: number;
  readonly requestTimeoutMs: number;
  readonly countStaleVotes: boolean;
  readonly restartSnapshotTransfers: boolean;
  readonly disk: SimDiskFaults;
  /**
   * Stamp entries with the production entry clock (src/server/entry-clock.ts: the wall clock bounded by
   * elapsed ticks) instead of the raw wall clock. Off by default, so that leader clock steps reach the log
   * unbounded (the sessions profile relies on that); the leases profile runs the member as production does.
   */
  readonly entryClock?: boolean;
}

const silentLogger = pino({ level: 'silent' });

export class SimMember {
  state: MemberState = MemberState.Down;
  /** Bumped at every crash: events of an earlier life are ignored. */
  incarnation = 0;
  crashes = 0;
  snapshotsInstalled = 0;
  /** Snapshot chunks this member sent of a snapshot that a newer one had replaced (a transfer finishing with its snapshot). */
  heldSnapshotChunks = 0;
  /** The lease expirer of each incarnation (stats: expiry entries proposed and applied). */
  readonly expirers: LeaseExpirer[] = [];
  readonly dataDir: string;
  readonly simDisk: SimulatedDisk;
  readonly disk: SimDiskAdapter;
  clock: SimClock | null = null;
  host: RaftHost<ApplyResult> | null = null;
  service: ClientService | null = null;
  node: RaftNode | null = null;
  kv: KvStateMachine | null = null;
  private storage: OpenedStorage | null = null;
  /** The host's view of its log (everything handed out so far), for the invariants. */
  private view: { snapshotIndex: number; snapshotTerm: number; terms: number[] } = { snapshotIndex: 0, snapshotTerm: 0, terms: [] };
  private readyRole = 'follower';
  private readyTerm = 0;
  private stateCheckedAt = -1;

  constructor(
    readonly id: NodeId,
    private readonly rng: Prng,
    private readonly env: MemberEnv,
  ) {
    this.dataDir = `/data/${id}`;
    this.simDisk = new SimulatedDisk({ seed: rng.nextU32() });
    this.disk = new SimDiskAdapter(this.simDisk, () => this.clock, rng.fork('disk-latency'), env.config.disk);
  }

  get clientUrl(): string {
    return `sim://${this.id}`;
  }

  /** Running: the host takes Raft messages (also while shutting down gracefully). */
  get up(): boolean {
    return this.state === MemberState.Up || this.state === MemberState.Stopping;
  }

  /** The client listener is open (closed midway through a graceful shutdown). */
  clientListenerOpen = false;

  /** True when the host stopped after a storage failure (it refuses writes; an operator restarts it). */
  get storageFailed(): boolean {
    return this.host !== null && (this.diskFailed || this.host.status().member.storageFailed);
  }

  /** Cheap: a write of the host's storage port failed (the host then stops, as the server does). */
  diskFailed = false;
  /**
   * A datasync of this disk was made to fail at some point. SimulatedDisk
   * models fsyncgate: the writes it covered stay visible (a process restart
   * reads them back) but never become durable, so a later power cut can leave
   * a hole in the log unless recovery resyncs them (cluster.ts fails the run
   * of a member that then refuses to start).
   */
  fsyncgateRisk = false;

  /** Start (or restart) from the disk, as startServer does; completes through the agenda. */
  async start(): Promise<void> {
    if (this.state !== MemberState.Down) throw new Error(`${this.id} is already ${this.state}`);
    const incarnation = this.incarnation;
    try {
      await this.startUp(incarnation);
    } catch (error) {
      // startServer failed: the process exits (its handles and lock go with it); it can be started again.
      if (incarnation === this.incarnation) {
        this.clock?.halt();
        this.simDisk.processCrash();
        this.incarnation++;
        this.state = MemberState.Down;
        this.host = null;
        this.service = null;
        this.node = null;
        this.kv = null;
        this.storage = null;
        this.clock = null;
      }
      throw error;
    }
  }

  private async startUp(incarnation: number): Promise<void> {
    this.state = MemberState.Starting;
    const clock = new SimClock(this.env.scheduler);
    this.clock = clock;
    const random = this.rng.fork(`host-${incarnation}`);
    const config = this.env.config;
    const storage = await openHostStorage(this.dataDir, silentLogger, this.disk);
    if (incarnation !== this.incarnation) return; // crashed while starting
    this.storage = storage;
    await storage.bootstrapIfEmpty(this.env.voters);
    if (incarnation !== this.incarnation) return;
    const kv = new KvStateMachine({ keyBytesMax: 1024, valueBytesMax: 64 * 1024 });
    const latest = storage.hostStorage.readSnapshot();
    if (latest !== null) await kv.restoreAsync(latest.contents);
    if (incarnation !== this.incarnation) return;
    const hs = (storage.raftStorage as unknown as { hardState(): { term: number; vote: NodeId | null; commit: number } }).hardState();
    this.guard(() => this.env.invariants.observeDurableHardState(this.id, hs));

    const snapIndex = latest?.meta.index ?? 0;
    const snapTerm = latest?.meta.term ?? 0;
    const raftStorage = storage.raftStorage;
    const terms: number[] = [];
    for (let i = Math.max(snapIndex, raftStorage.firstIndex() - 1) + 1; i <= raftStorage.lastIndex(); i++) terms.push(raftStorage.term(i));
    this.view = { snapshotIndex: Math.max(snapIndex, raftStorage.firstIndex() - 1), snapshotTerm: raftStorage.term(Math.max(snapIndex, raftStorage.firstIndex() - 1)), terms };
    this.env.invariants.resetApplied(this.id, kv.appliedIndex);
    this.stateCheckedAt = -1;

    const { core: realCore, node } = createRaftCore({
      name: this.id,
      storage: raftStorage,
      applied: kv.appliedIndex,
      electionTimeoutTicks: config.electionTicks,
      heartbeatIntervalTicks: config.heartbeatTicks,
      random: random.fork('election'),
      raftOverrides: {
        preVote: config.preVote,
        checkQuorum: config.checkQuorum,
        snapshotChunkBytesMax: config.snapshotChunkBytes,
        ...(config.countStaleVotes ? { testingOnlyUnsafe: { countStaleVotes: true } } : {}),
      },
    });
    const core = observeCore(realCore, {
      onReady: (ready) => this.guard(() => this.onReady(ready)),
      onDuringPersist: (early) => this.guard(() => this.onDuringPersist(early)),
    });
    const peers: PeerDirectory = {
      send: (message) => this.env.sendRaft(this, message),
      clientUrlOf: (name) => (this.env.voters.includes(name) ? `sim://${name}` : null),
      peerUrlOf: (name) => (this.env.voters.includes(name) ? `simpeer://${name}` : null),
      members: () => this.env.voters.map((name) => ({ name, peerUrl: `simpeer://${name}`, clientUrl: `sim://${name}` })),
    };
    const hostStorage: HostStorage = {
      ...storage.hostStorage,
      persist: async (batch) => {
        try {
          await storage.hostStorage.persist(batch);
        } catch (error) {
          if (incarnation === this.incarnation) this.diskFailed = true;
          throw error;
        }
        // Resolved: the batch is durable (an fsync returned), so a crash from now on keeps it.
        if (batch.hardState !== undefined && incarnation === this.incarnation) {
          const hard = batch.hardState;
          this.guard(() => this.env.invariants.observeDurableHardState(this.id, hard));
        }
      },
    };
    const entryClock = config.entryClock === true ? new EntryClock(clock) : null;
    entryClock?.observeApplied(kv.clockMs);
    const host = new RaftHost(
      {
        identity: { name: this.id, peerUrl: `simpeer://${this.id}`, clientUrl: () => this.clientUrl, version: 'sim' },
        tickIntervalMs: config.tickMs,
        snapshotEveryEntries: config.snapshotEveryEntries > 0 ? config.snapshotEveryEntries : Number.MAX_SAFE_INTEGER,
        snapshotCatchUpEntries: config.snapshotCatchUpEntries,
        ...(config.restartSnapshotTransfers ? { testingOnlyUnsafe: { restartSnapshotTransfers: true } } : {}),
        pendingRequestsMax: 1024,
        clock,
        random,
      },
      core,
      hostStorage,
      entryClock === null ? kvStateMachinePort(kv) : observingEntryTime(kvStateMachinePort(kv), () => kv.clockMs, entryClock),
      peers,
      silentLogger,
    );
    this.kv = kv;
    this.node = node;
    this.host = host;
    const replica = entryClock === null ? new KvReplica(host, kv) : new KvReplica(host, kv, () => entryClock.viewMs());
    const stamping = entryClock === null ? clock : entryClock.stampingClock();
    this.service = new ClientService(replica, this.env.forwarderFor(this), config.requestTimeoutMs, stamping);
    // The production expiry path, stamping entries as the service does.
    const view = entryClock === null ? () => Math.floor(clock.nowMs()) : () => entryClock.viewMs();
    const expirer = new LeaseExpirer(replica, kv, stamping, view, { intervalMs: config.tickMs, requestTimeoutMs: config.requestTimeoutMs });
    const st = node.status();
    this.readyRole = st.role;
    this.readyTerm = st.term;
    this.state = MemberState.Up;
    this.clientListenerOpen = true;
    host.start();
    // Its timer dies with the clock (a crash or stop halts it).
    expirer.start();
    this.expirers.push(expirer);
    if (this.env.tracing) this.env.trace(`${this.id} started (incarnation ${incarnation}, applied ${kv.appliedIndex}, log ${describeView(this.view)})`);
  }

  /**
   * Crash: the process dies (its clock halts, nothing it started continues)
   * and the disk loses what was not synced (with `tear`, a seeded prefix of
   * the unsynced writes survives, the last one possibly torn).
   */
  crash(tear: boolean): void {
    if (this.state === MemberState.Down) return;
    this.clock?.halt();
    this.simDisk.crash({ tear });
    this.simDisk.clearFaults();
    this.incarnation++;
    this.crashes++;
    this.diskFailed = false;
    this.state = MemberState.Down;
    this.clientListenerOpen = false;
    this.host = null;
    this.service = null;
    this.node = null;
    this.kv = null;
    this.storage = null;
    this.clock = null;
  }

  /**
   * A graceful shutdown, as RunningServer.close() does it (server.ts):
   * refuse new requests (ShuttingDown), let those in flight finish, hand
   * leadership over, close the client listener, stop the host, close the
   * storage. Resolves when the member is down (its disk intact), or at once
   * if it crashed meanwhile.
   */
  async stopGracefully(shutdownTimeoutMs: number, electionTimeoutMs: number): Promise<void> {
    const host = this.host;
    const clock = this.clock;
    const storage = this.storage;
    if (this.state !== MemberState.Up || host === null || clock === null || storage === null) return;
    const incarnation = this.incarnation;
    this.state = MemberState.Stopping;
    const deadline = clock.monotonicMs() + shutdownTimeoutMs;
    host.stopAccepting();
    await host.drainInflight(deadline);
    if (incarnation !== this.incarnation) return;
    const transferred = await simTransfer(host, clock, Math.min(deadline, clock.monotonicMs() + 2 * electionTimeoutMs));
    if (incarnation !== this.incarnation) return;
    if (this.env.tracing) this.env.trace(`${this.id} shutting down${transferred ? ` (leadership handed to ${host.leaderId()})` : ''}`);
    this.clientListenerOpen = false;
    await host.stop();
    if (incarnation !== this.incarnation) return;
    await storage.close();
    if (incarnation !== this.incarnation) return;
    clock.halt();
    this.incarnation++;
    this.state = MemberState.Down;
    this.host = null;
    this.service = null;
    this.node = null;
    this.kv = null;
    this.storage = null;
    this.clock = null;
    if (this.env.tracing) this.env.trace(`${this.id} stopped`);
  }

  /** Runs an observer; what it throws fails the run, never the production code that called it. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.env.violation(error);
    }
  }

  /** After every event: role, term, commit to the invariants, and the state at the applied index. */
  observe(): void {
    const node = this.node;
    const kv = this.kv;
    if (this.state !== MemberState.Up || node === null || kv === null) return;
    // The core's protocol state read directly when it can be (status() builds a whole report, with
    // every follower's progress on a leader, and this runs after every event); else through status().
    const raw = (node as unknown as { raft?: { term: number; role: string; log: { committed: number }; conf: ConfState } }).raft;
    if (raw !== undefined) this.env.invariants.observeStatus(this.id, raw.role === 'leader', raw.term, raw.log.committed, raw.conf);
    else {
      const st = node.status();
      this.env.invariants.observeStatus(this.id, st.role === 'leader', st.term, st.commit, st.conf);
    }
    const applied = kv.appliedIndex;
    if (applied !== this.stateCheckedAt) {
      this.stateCheckedAt = applied;
      this.env.invariants.observeState(this.id, applied, stateFingerprint(kv), 'after applying');
    }
  }

  private onReady(rd: Ready): void {
    if (this.env.tracing) this.traceReady(rd);
    this.countHeldSnapshotChunks(rd.messages);
    if (rd.snapshot) {
      this.view = { snapshotIndex: rd.snapshot.index, snapshotTerm: rd.snapshot.term, terms: [] };
      this.snapshotsInstalled++;
      this.env.invariants.resetApplied(this.id, rd.snapshot.index);
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
    if (rd.softState) this.readyRole = rd.softState.role;
    if (rd.hardState) this.readyTerm = rd.hardState.term;
    if (this.readyRole === 'leader') this.env.invariants.observeLeaderLog(this.id, this.readyTerm, this.view as LogView);
    this.observeCommitted(rd.committedEntries);
  }

  private countHeldSnapshotChunks(messages: readonly Message[]): void {
    const latest = this.storage?.hostStorage.snapshotIndex() ?? 0;
    for (const m of messages) if (m.type === MessageType.InstallSnapshot && m.snapshot.index < latest) this.heldSnapshotChunks++;
  }

  private onDuringPersist(early: DuringPersist): void {
    this.countHeldSnapshotChunks(early.messages);
    if (this.env.tracing && early.committedEntries.length > 0) this.env.trace(`${this.id} apply during fsync ${describeEntries(early.committedEntries)}`);
    this.observeCommitted(early.committedEntries);
  }

  /** Entries the host is told to apply, in the order it applies them. */
  private observeCommitted(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index <= this.env.invariants.appliedIndex(this.id)) continue; // covered by an installed snapshot
      this.env.invariants.observeApply(this.id, e.index, e.term, fingerprint(e.data));
      if (e.type === EntryType.Normal && e.data.length > 0) this.env.committed(e);
    }
  }

  private traceReady(rd: Ready): void {
    const parts: string[] = [];
    if (rd.softState) parts.push(`role=${rd.softState.role} leader=${rd.softState.leader ?? '-'}`);
    if (rd.hardState) parts.push(`hs=t${rd.hardState.term}/v${rd.hardState.vote ?? '-'}/c${rd.hardState.commit}`);
    if (rd.snapshot) parts.push(`snapshot=${rd.snapshot.index}@${rd.snapshot.term}`);
    if (rd.snapshotChunks.length > 0) parts.push(`chunks=${rd.snapshotChunks.length}`);
    if (rd.entries.length > 0) parts.push(`entries=${describeEntries(rd.entries)}`);
    if (rd.committedEntries.length > 0) parts.push(`apply=${describeEntries(rd.committedEntries)}`);
    if (rd.readStates.length > 0) parts.push(`reads=${rd.readStates.map((r) => r.index).join(',')}`);
    if (parts.length > 0) this.env.trace(`${this.id} ready ${parts.join(' ')}`);
  }

  /** Vote grants leaving this member (what the quorum check of election safety counts). */
  noteSent(message: Message): void {
    if (message.type === MessageType.RequestVoteResponse && message.granted) {
      this.env.invariants.observeGrant(this.id, message.to, message.term);
    }
  }

  appliedIndex(): number {
    return this.kv?.appliedIndex ?? 0;
  }

  /** The store revision of the applied state (what write responses report). */
  revision(): number {
    return this.kv?.revision ?? 0;
  }
}



/** The replicated state at the applied index: every key with its bookkeeping, sessions, the state machine's clock. */
function stateFingerprint(kv: KvStateMachine): number {
  let h = fingerprint(`${kv.appliedIndex}|${kv.revision}|${kv.sessionCount}|${kv.clockMs}|`);
  let after: Uint8Array | undefined;
  for (;;) {
    const page = kv.scan({ limit: 1000, ...(after !== undefined ? { after } : {}) });
    for (const e of page.entries) {
      h = fingerprint(e.key, h);
      h = fingerprint(`=${e.version}/${e.createRevision}/${e.modRevision}=`, h);
      h = fingerprint(e.value, h);
    }
    if (page.next === null || page.entries.length === 0) return h;
    after = page.entries[page.entries.length - 1]!.key;
  }
}


