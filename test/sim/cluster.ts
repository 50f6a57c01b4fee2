/**
 * One simulation run: a whole cluster of production members (sim-member.ts:
 * RaftHost + RaftNode + DurableStorage over a SimulatedDisk + KvStateMachine
 * + ClientService) and production clients (KvClient, workloads.ts), in one
 * process, on one simulated clock, driven by one seeded PRNG. See
 * scenario.ts for what a seed decides.
 *
 * Phases:
 * 1. Fault phase: the register and exactly-once workloads run while faults
 *    are injected at random intervals (partitions, one-way cuts, crashes
 *    with torn writes, failing and slow disks, leader clock steps,
 *    leadership transfers).
 * 2. Heal: the network becomes reliable, partitions heal, crashed members
 *    restart (and members stopped by a disk failure are restarted, as an
 *    operator would). Liveness: within a bounded time a probe client's write
 *    must commit and every member must apply it.
 * 3. Drain: from the heal on, clients issue nothing new and finish the
 *    operations they have. The register history must be linearizable; the counters must hold
 *    (workloads.ts).
 *
 * Safety invariants are checked after every event (invariants.ts).
 * Membership changes are not simulated: RaftHost has no path to propose
 * them (the core supports them; the member does not yet).
 */
import { Prng } from '../../src/common/rng.js';
import { CorruptLogError, StorageFailedError } from '../../src/storage/index.js';
import { connect, type KvClient } from '../../src/client/index.js';
import { Role } from '../../src/raft/ready.js';
import type { Entry, NodeId } from '../../src/raft/types.js';
import { InvariantChecker, InvariantViolationError } from './invariants.js';
import { CheckResult, checkOperations, describeFailure } from './linearizability.js';
import { kvRegisterModel } from './kv-register-model.js';
import { SimNetwork, reliableNetwork } from './network.js';
import { FaultKind, scenarioForSeed, type Scenario } from './scenario.js';
import { SimClock, SimScheduler, drainMicrotasks } from './sim-clock.js';
import { SimMember, simTransfer, type MemberEnv } from './sim-member.js';
import { SimTransport } from './sim-transport.js';
import { Trace } from './trace.js';
import { FailureKind, TraceMode, type SimFailure, type SimOptions, type SimResult, type SimStats } from './sim-types.js';

export { FailureKind, TraceMode, type SimFailure, type SimOptions, type SimResult, type SimStats } from './sim-types.js';
import { CounterBook, LeaseBook, RegisterHistory, SIM_LEASE_TTL_MS, runCounterClient, runLeaseClient, runRegisterClient, type WorkloadEnv } from './workloads.js';

/** Bound on queued events (timers included): a run that floods its agenda is a bug, reported as such. */
const eventsQueuedMax = 1_000_000;
const probeKey = '__probe';

export function runSimulation(options: SimOptions): Promise<SimResult> {
  const base = scenarioForSeed(options.seed);
  const scenario = options.scenario ? options.scenario(base) : base;
  return new Simulation(scenario, options).run();
}

class Simulation {
  private readonly root: Prng;
  private readonly faultRng: Prng;
  private readonly clientRng: Prng;
  private readonly scheduler = new SimScheduler(eventsQueuedMax);
  private readonly trace: Trace;
  private readonly network: SimNetwork;
  private readonly transport: SimTransport;
  private readonly invariants = new InvariantChecker();
  private readonly members = new Map<NodeId, SimMember>();
  private readonly history = new RegisterHistory();
  private readonly counters = new CounterBook();
  private readonly leases = new LeaseBook();
  private readonly tracing: boolean;
  private historyClock = 0;
  private faults = 0;
  private transfers = 0;
  private storageFailures = 0;
  private clockSteps = 0;
  private gracefulStops = 0;
  private tornCrashes = 0;
  private issuing = true;
  private healed = false;
  private healTimeMs = 0;
  private livenessMetMs: number | null = null;
  private failure: SimFailure | undefined;
  private linearizabilitySteps = 0;
  private finished = false;
  private readonly clientsRunning = new Set<Promise<void>>();
  /** Bytes of every committed entry (latin1), for settling unknown outcomes. */
  private readonly committedData = new Map<number, string>();

  constructor(
    private readonly scenario: Scenario,
    private readonly options: SimOptions,
  ) {
    this.root = new Prng(scenario.seed);
    const netRng = this.root.fork('network');
    this.faultRng = this.root.fork('faults');
    this.clientRng = this.root.fork('clients');
    const mode = options.trace ?? TraceMode.Tail;
    this.tracing = mode !== TraceMode.Off;
    this.trace = new Trace({ keepFull: mode === TraceMode.Full, tailLines: options.traceTailLines ?? 80 });
    this.network = new SimNetwork(netRng, scenario.network);
    this.transport = new SimTransport({
      scheduler: this.scheduler,
      network: this.network,
      member: (id) => this.members.get(id),
      tracing: this.tracing,
      trace: (line) => this.note(line),
    });
  }

  private note(line: string): void {
    this.trace.add(this.scheduler.nowMs, line);
  }

  private fail(kind: FailureKind, message: string): void {
    if (this.failure === undefined) this.failure = { kind, message, timeMs: this.scheduler.nowMs };
    if (this.tracing) this.note(`FAILURE ${kind}: ${message}`);
  }

  async run(): Promise<SimResult> {
    const s = this.scenario;
    if (this.tracing) this.note(`scenario ${JSON.stringify(s)}`);
    const voters: NodeId[] = [];
    for (let i = 1; i <= s.clusterSize; i++) voters.push(`n${i}`);
    const env: MemberEnv = {
      scheduler: this.scheduler,
      invariants: this.invariants,
      tracing: this.tracing,
      trace: (line) => this.note(line),
      sendRaft: (from, message) => this.transport.sendRaft(from, message),
      forwarderFor: (member) => this.transport.forwarderFor(member),
      voters,
      violation: (error) => this.onViolation(error),
      committed: (entry) => this.onCommitted(entry),
      config: {
        tickMs: s.tickMs,
        electionTicks: s.electionTicks,
        heartbeatTicks: s.heartbeatTicks,
        preVote: s.preVote,
        checkQuorum: s.checkQuorum,
        snapshotEveryEntries: s.snapshotEveryEntries,
        snapshotChunkBytes: s.snapshotChunkBytes,
        snapshotCatchUpEntries: s.snapshotCatchUpEntries,
        requestTimeoutMs: s.requestTimeoutMs,
        countStaleVotes: this.options.countStaleVotes ?? false,
        restartSnapshotTransfers: this.options.restartSnapshotTransfers ?? false,
        entryClock: s.entryClock,
        disk: { ...s.disk, ...(this.options.skipDatasync ? { testingOnlyUnsafe: { skipDatasync: true } } : {}) },
      },
    };
    for (const id of voters) this.members.set(id, new SimMember(id, this.root.fork(`member-${id}`), env));
    for (const m of this.members.values()) this.startMember(m);

    const workloadEnv: WorkloadEnv = {
      transport: this.transport,
      endpoints: voters.map((id) => `sim://${id}`),
      issuing: () => this.issuing,
      tracing: this.tracing,
      trace: (line) => this.note(line),
      tick: () => this.historyClock++,
    };
    const params = { timeoutMs: s.clientTimeoutMs, thinkMinMs: s.clientThinkMinMs, thinkMaxMs: s.clientThinkMaxMs };
    for (let c = 0; c < s.registerClients; c++) {
      const rng = this.clientRng.fork(`register-${c}`);
      const clock = new SimClock(this.scheduler);
      this.scheduler.at(rng.between(0, 20 * s.tickMs), () => this.track(runRegisterClient(workloadEnv, c, clock, rng, params, s.keys, this.history, s.txn)));
    }
    for (let c = 0; c < s.counterClients; c++) {
      const rng = this.clientRng.fork(`counter-${c}`);
      const clock = new SimClock(this.scheduler);
      this.scheduler.at(rng.between(0, 20 * s.tickMs), () => this.track(runCounterClient(workloadEnv, c, clock, rng, params, s.counterKeys, this.counters, s.txn)));
    }
    for (let c = 0; c < s.leaseClients; c++) {
      const rng = this.clientRng.fork(`lease-${c}`);
      const clock = new SimClock(this.scheduler);
      this.scheduler.at(rng.between(0, 20 * s.tickMs), () => this.track(runLeaseClient(workloadEnv, c, clock, rng, params, this.leases)));
    }
    this.scheduleNextFault();
    this.scheduler.at(s.faultPhaseMs, () => this.heal());
    const hardStopMs =
      s.faultPhaseMs + s.livenessTicksMax * s.tickMs + 4 * s.clientTimeoutMs + 200 * s.tickMs + (s.leaseClients > 0 ? 3 * SIM_LEASE_TTL_MS : 0);

    try {
      for (;;) {
        if (!this.scheduler.runNext()) throw new Error('the simulation ran out of events');
        await drainMicrotasks();
        if (this.failure !== undefined) break;
        this.observeAll();
        if (this.finished || this.failure !== undefined) break;
        if (this.scheduler.nowMs > hardStopMs) throw new Error(`the run did not finish by ${hardStopMs} ms`);
      }
      if (this.failure === undefined) this.checkHistory();
      if (this.failure === undefined) this.checkCounters();
      if (this.failure === undefined) this.checkLeases();
    } catch (err) {
      if (err instanceof InvariantViolationError) this.fail(FailureKind.Invariant, err.message);
      else this.fail(FailureKind.Exception, err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err));
    }
    // Whatever is still pending belongs to a finished run: silence it.
    for (const m of this.members.values()) m.clock?.halt();
    return this.result();
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((error: unknown) => this.fail(FailureKind.Exception, `a workload client threw: ${(error as Error).stack ?? String(error)}`));
    this.clientsRunning.add(tracked);
    void tracked.finally(() => {
      this.clientsRunning.delete(tracked);
      this.maybeFinish();
    });
  }

  private startMember(m: SimMember): void {
    m.start().catch((error: unknown) => {
      // A disk error while starting (a fault injected before the restart): the process exits, as
      // `concord server` does, and is started again later (a Restart fault, or the heal).
      if (error instanceof CorruptLogError && m.fsyncgateRisk) {
        // fsyncgate: a datasync of this member failed, its process was restarted and read the unsynced
        // writes back from the page cache. Recovery must make them durable before appending after them
        // (wal-recovery.ts resyncReadBack); a member that then finds a hole after a power cut is a bug.
        this.fail(FailureKind.Exception, `${m.id} refuses to start after a failed fdatasync (fsyncgate): ${(error as Error).message}`);
        return;
      }
      if (isDiskError(error)) {
        if (this.tracing) this.note(`${m.id} failed to start: ${(error as Error).message}`);
        if (this.healed) this.startMember(m);
        return;
      }
      this.fail(FailureKind.Exception, `${m.id} failed to start: ${(error as Error).stack ?? String(error)}`);
    });
  }

  private onViolation(error: unknown): void {
    if (error instanceof InvariantViolationError) this.fail(FailureKind.Invariant, error.message);
    else this.fail(FailureKind.Exception, `an observer threw: ${(error as Error).stack ?? String(error)}`);
  }

  private onCommitted(entry: Entry): void {
    if (!this.committedData.has(entry.index)) this.committedData.set(entry.index, latin1.decode(entry.data));
  }

  private observeAll(): void {
    try {
      for (const m of this.members.values()) {
        m.observe();
        if (m.diskFailed && !this.failedMembers.has(m)) {
          this.failedMembers.add(m);
          if (this.tracing) this.note(`${m.id} stopped after a storage failure`);
        }
      }
    } catch (error) {
      this.onViolation(error);
    }
  }

  private readonly failedMembers = new Set<SimMember>();

  private result(): SimResult {
    const s = this.scenario;
    let crashes = 0;
    let snapshots = 0;
    let heldChunks = 0;
    for (const m of this.members.values()) {
      crashes += m.crashes;
      snapshots += m.snapshotsInstalled;
      heldChunks += m.heldSnapshotChunks;
    }
    let acked = 0;
    let unresolved = 0;
    for (const t of this.counters.tallies.values()) {
      acked += t.acked;
      unresolved += t.unresolved;
    }
    const stats: SimStats = {
      clusterSize: s.clusterSize,
      simulatedMs: this.scheduler.nowMs,
      events: this.scheduler.events,
      messagesSent: this.transport.messagesSent,
      messagesDropped: this.network.dropped,
      crashes,
      faults: this.faults,
      leaderTerms: this.invariants.leaders().size,
      snapshotsInstalled: snapshots,
      heldSnapshotChunks: heldChunks,
      operations: this.history.stats(),
      increments: { acked, unresolved },
      linearizabilitySteps: this.linearizabilitySteps,
      healToLivenessMs: this.livenessMetMs === null ? null : this.livenessMetMs - this.healTimeMs,
      leadershipTransfers: this.transfers,
      storageFailures: this.storageFailures,
      clockSteps: this.clockSteps,
      tornCrashes: this.tornCrashes,
      gracefulStops: this.gracefulStops,
      leases: {
        granted: this.leases.granted,
        renewals: this.leases.renewals,
        revoked: this.leases.revoked,
        expiryEntries: [...this.members.values()].reduce((n, m) => n + m.expirers.reduce((k, e) => k + e.proposed, 0), 0),
      },
    };
    return {
      seed: s.seed,
      ok: this.failure === undefined,
      ...(this.failure !== undefined ? { failure: this.failure } : {}),
      traceDigest: this.trace.digest(),
      traceTail: this.trace.tailText(),
      fullTrace: this.trace.fullLines(),
      stats,
    };
  }

  // ------------------------------------------------------------------ faults

  private scheduleNextFault(): void {
    if (this.scenario.faultKinds.length === 0) return;
    const s = this.scenario;
    this.scheduler.at(this.scheduler.nowMs + this.faultRng.between(s.faultIntervalMinMs, s.faultIntervalMaxMs), () => {
      if (!this.healed) {
        this.injectFault();
        this.scheduleNextFault();
      }
    });
  }

  private currentLeader(): SimMember | null {
    let best: SimMember | null = null;
    let bestTerm = -1;
    for (const m of this.members.values()) {
      const st = m.up ? m.node?.status() : undefined;
      if (st && st.role === Role.Leader && st.term > bestTerm && !m.storageFailed) {
        best = m;
        bestTerm = st.term;
      }
    }
    return best;
  }

  private injectFault(): void {
    const rng = this.faultRng;
    const kind = rng.pick(this.scenario.faultKinds);
    const all = [...this.members.keys()];
    const up = [...this.members.values()].filter((m) => m.up);
    const leader = this.currentLeader();
    this.faults++;
    const note = (what: string) => {
      if (this.tracing) this.note(`FAULT ${what}`);
    };
    switch (kind) {
      case FaultKind.Partition: {
        const shuffled = rng.shuffled(all);
        const cut = rng.between(1, shuffled.length - 1);
        const groups = [shuffled.slice(0, cut), shuffled.slice(cut)];
        this.network.partition(groups);
        note(`partition ${groups.map((g) => g.join(',')).join(' | ')}`);
        return;
      }
      case FaultKind.IsolateLeader: {
        const victim = leader?.id ?? rng.pick(all);
        this.network.isolate(victim, all);
        note(`isolate ${victim}${leader ? ' (leader)' : ''}`);
        return;
      }
      case FaultKind.DeafLeader: {
        const victim = leader?.id ?? rng.pick(all);
        for (const other of all) if (other !== victim) this.network.cutLink(other, victim);
        note(`deafen ${victim}${leader ? ' (leader)' : ''}: it can send, not receive`);
        return;
      }
      case FaultKind.OneWayCut: {
        const [a, b] = rng.shuffled(all);
        this.network.cutLink(a as NodeId, b as NodeId);
        note(`cut ${a} -> ${b}`);
        return;
      }
      case FaultKind.SplitMinority: {
        const followers = rng.shuffled(all.filter((id) => id !== leader?.id));
        const minority = followers.slice(0, Math.max(1, Math.floor((this.scenario.clusterSize - 1) / 2)));
        this.network.partition([minority, all.filter((id) => !minority.includes(id))]);
        note(`split minority ${minority.join(',')} away`);
        return;
      }
      case FaultKind.SlowNode: {
        const victim = rng.chance(0.5) && leader ? leader.id : rng.pick(all);
        const extraMs = rng.between(1, 4) * this.scenario.electionTicks * this.scenario.tickMs;
        this.network.slowDown(victim, extraMs);
        note(`slow ${victim}: +${extraMs / 2}..${extraMs} ms on everything it sends`);
        return;
      }
      case FaultKind.Heal:
        this.network.healAll();
        for (const m of this.members.values()) m.disk.slowExtraMs = 0;
        note('heal network and disks');
        return;
      case FaultKind.CrashRandom:
        if (up.length > 0) this.crash(rng.pick(up));
        return;
      case FaultKind.CrashLeader:
        this.crash(leader ?? (up.length > 0 ? rng.pick(up) : null));
        return;
      case FaultKind.CrashAll:
        for (const m of up) this.crash(m);
        return;
      case FaultKind.Restart: {
        const down = [...this.members.values()].filter((m) => m.state === 'down');
        if (down.length === 0) return;
        const m = rng.pick(down);
        note(`restart ${m.id}`);
        this.startMember(m);
        return;
      }
      case FaultKind.TransferLeadership: {
        if (!leader || !leader.host) return;
        note(`transfer leadership away from ${leader.id}`);
        this.transfers++;
        const clock = leader.clock as SimClock;
        void simTransfer(leader.host, clock, clock.monotonicMs() + 2 * this.scenario.electionTicks * this.scenario.tickMs);
        return;
      }
      case FaultKind.DiskFailure: {
        const victim = rng.chance(0.5) && leader ? leader : up.length > 0 ? rng.pick(up) : null;
        if (victim === null) return;
        const code = rng.chance(0.5) ? 'EIO' : 'ENOSPC';
        victim.simDisk.injectFault({ op: 'datasync', code, count: 1 });
        victim.fsyncgateRisk = true;
        this.storageFailures++;
        note(`disk of ${victim.id}${victim === leader ? ' (leader)' : ''}: next fdatasync fails with ${code}`);
        return;
      }
      case FaultKind.SlowDisk: {
        const victim = rng.chance(0.5) && leader ? leader : rng.pick([...this.members.values()]);
        victim.disk.slowExtraMs = rng.between(1, 4) * this.scenario.electionTicks * this.scenario.tickMs;
        note(`slow disk at ${victim.id}: fdatasync +0..${victim.disk.slowExtraMs} ms`);
        return;
      }
      case FaultKind.GracefulRestart: {
        const victim = rng.chance(0.5) && leader ? leader : up.length > 0 ? rng.pick(up) : null;
        if (victim === null || victim.state !== 'up') return;
        this.gracefulStops++;
        note(`graceful shutdown of ${victim.id}${victim === leader ? ' (leader)' : ''}`);
        const electionMs = this.scenario.electionTicks * this.scenario.tickMs;
        victim
          .stopGracefully(this.scenario.clientTimeoutMs, electionMs)
          .then(() => {
            this.transport.memberCrashed(victim.id);
            // Healed meanwhile: the heal restarts every member, this one too.
            if (this.healed && victim.state === 'down') this.startMember(victim);
          })
          .catch((error: unknown) => this.fail(FailureKind.Exception, `${victim.id} failed to shut down: ${(error as Error).stack ?? String(error)}`));
        return;
      }
      case FaultKind.ClockStep: {
        const victim = leader ?? (up.length > 0 ? rng.pick(up) : null);
        if (victim === null || victim.clock === null) return;
        const max = this.scenario.clockStepMaxMs;
        const delta = rng.chance(0.5) ? rng.between(1, max) : -rng.between(1, max);
        victim.clock.stepWallMs(delta);
        this.clockSteps++;
        note(`clock of ${victim.id}${victim === leader ? ' (leader)' : ''} steps ${delta > 0 ? '+' : ''}${delta} ms`);
        return;
      }
    }
  }

  private crash(m: SimMember | null): void {
    if (m === null || m.state === 'down') return;
    const tear = this.faultRng.chance(this.scenario.crashTearRate);
    if (tear) this.tornCrashes++;
    m.crash(tear);
    this.failedMembers.delete(m);
    this.transport.memberCrashed(m.id);
    if (this.tracing) this.note(`FAULT crash ${m.id}${tear ? ' (torn: a prefix of its unsynced writes survives)' : ' (unsynced writes lost)'}`);
  }

  // ----------------------------------------------------------- heal/liveness

  private heal(): void {
    this.healed = true;
    // Clients finish what they started but issue nothing new, so the probe runs on a quiet
    // cluster; unless the scenario keeps them writing until liveness is met (a lagging member
    // must then catch up under steady writes: see the snapshots profile).
    if (!this.scenario.writesAfterHeal) this.issuing = false;
    this.healTimeMs = this.scheduler.nowMs;
    this.network.healAll();
    this.network.setFaults(reliableNetwork);
    for (const m of this.members.values()) {
      m.disk.slowExtraMs = 0;
      m.simDisk.clearFaults();
    }
    if (this.tracing) this.note('HEAL: network reliable, partitions healed, crashed and failed members restart');
    for (const m of this.members.values()) {
      if (m.up && m.storageFailed) {
        // An operator restarts a member that stopped on a disk error.
        m.crash(false);
        this.transport.memberCrashed(m.id);
        if (this.tracing) this.note(`restart ${m.id} (stopped after a storage failure)`);
      }
      if (m.state === 'down') this.startMember(m);
    }
    this.track(this.probe());
  }

  /** After healing: a probe client's write commits, and every member applies it. */
  private async probe(): Promise<void> {
    const s = this.scenario;
    const clock = new SimClock(this.scheduler);
    const rng = this.clientRng.fork('probe');
    const deadlineMs = this.healTimeMs + s.livenessTicksMax * s.tickMs;
    const livenessFailed = (what: string): void => {
      this.issuing = false;
      this.fail(FailureKind.Liveness, `${s.livenessTicksMax} ticks after healing: ${what} (${this.roleSummary()})`);
    };
    let client: KvClient | null = null;
    while (client === null) {
      if (this.scheduler.nowMs > deadlineMs) return livenessFailed('the probe client could not connect (no leader?)');
      try {
        client = await connect({
          endpoints: [...this.members.keys()].map((id) => `sim://${id}`),
          timeoutMs: 50 * s.tickMs,
          channelFactory: this.transport.channelFactory('probe', clock),
          clock,
          random: rng,
        });
      } catch {
        // retry
      }
    }
    let revision = 0;
    for (let n = 1; revision === 0; n++) {
      if (this.scheduler.nowMs > deadlineMs) return livenessFailed('the probe write did not commit');
      try {
        revision = (await client.put(probeKey, `probe-${n}`, { timeoutMs: 50 * s.tickMs })).revision;
      } catch {
        // retry
      }
    }
    if (this.tracing) this.note(`probe write committed at ${revision}`);
    for (;;) {
      // The probe's revision is a store revision (not a log index): compare it with each member's own.
      const lagging = [...this.members.values()].filter((m) => !(m.up && m.revision() >= revision));
      if (lagging.length === 0) break;
      if (this.scheduler.nowMs > deadlineMs) return livenessFailed(`probe write committed at ${revision} but not applied on ${lagging.map((m) => m.id).join(',')}`);
      await new Promise<void>((resolve) => clock.setTimer(s.tickMs, resolve));
    }
    this.livenessMetMs = this.scheduler.nowMs;
    this.issuing = false;
    if (this.tracing) this.note(`LIVENESS ok: probe applied on every member ${this.livenessMetMs - this.healTimeMs} ms after healing`);
  }

  private maybeFinish(): void {
    if (this.livenessMetMs !== null && this.clientsRunning.size === 0) this.finished = true;
  }

  private roleSummary(): string {
    return [...this.members.values()]
      .map((m) => {
        const st = m.up ? m.node?.status() : undefined;
        return st ? `${m.id}:${st.role}/t${st.term}/c${st.commit}/a${m.appliedIndex()}${m.storageFailed ? '/failed' : ''}` : `${m.id}:${m.state}`;
      })
      .join(' ');
  }

  // ----------------------------------------------------------------- history

  private checkHistory(): void {
    const committed = [...this.committedData.values()];
    const committedValue = (value: string) => committed.some((data) => data.includes(value));
    const ops = this.history.operations(committedValue);
    const outcome = checkOperations(kvRegisterModel, ops, { searchStepsMax: this.options.linearizabilityStepsMax ?? 2_000_000 });
    this.linearizabilitySteps = outcome.steps;
    if (outcome.result === CheckResult.Ok) return;
    this.fail(
      FailureKind.Linearizability,
      outcome.result === CheckResult.Illegal
        ? `the client history is not linearizable\n${describeFailure(kvRegisterModel, outcome)}`
        : `the linearizability check did not finish within its search budget (${outcome.steps} steps, ${ops.length} operations)`,
    );
  }

  /** The lease clients' own findings, then: every lease expired after the heal, and no leased key is left. */
  private checkLeases(): void {
    if (this.leases.problem !== null) {
      this.fail(FailureKind.ExactlyOnce, this.leases.problem);
      return;
    }
    if (this.scenario.leaseClients === 0) return;
    const leader = this.currentLeader();
    const kv = leader?.kv;
    if (!kv) return;
    const left = kv.leaseList();
    if (left.length > 0) {
      this.fail(FailureKind.Liveness, `${left.length} leases never expired after the heal (first: ${JSON.stringify(left[0])}, state clock ${kv.clockMs})`);
      return;
    }
    const keys = kv.scan({ prefix: new TextEncoder().encode('lease/'), limit: 10 });
    if (keys.entries.length > 0) this.fail(FailureKind.Liveness, `leased keys left after every lease expired: ${keys.entries.map((e) => latin1.decode(e.key)).join(', ')}`);
  }

  private checkCounters(): void {
    // The most advanced running member: applied states are prefixes of one sequence, and every
    // acknowledged increment was applied by the member that answered it (with writes going on
    // after the probe, a member that applied the probe may lack the latest ones).
    const leader = [...this.members.values()].filter((m) => m.up).sort((a, b) => b.appliedIndex() - a.appliedIndex())[0] ?? null;
    const kv = leader?.kv;
    if (!kv) return;
    const problem = this.counters.check((key) => kv.get(new TextEncoder().encode(key))?.version ?? 0);
    if (problem !== null) this.fail(FailureKind.ExactlyOnce, problem);
  }
}

const latin1 = new TextDecoder('latin1');

function isDiskError(error: unknown): boolean {
  if (error instanceof StorageFailedError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'EIO' || code === 'ENOSPC';
}
