/**
 * One simulation run: a whole cluster in one process, driven by a seeded PRNG
 * and a simulated clock. See scenario.ts for what a seed decides and
 * sim-node.ts for how each node's host is modelled.
 *
 * Phases:
 * 1. Fault phase: clients run the register workload while faults are
 *    injected at random intervals (partitions, one-way cuts, crashes,
 *    restarts, leadership transfers, membership changes).
 * 2. Heal: the network becomes reliable, partitions heal, crashed nodes
 *    restart. Liveness: within a bounded number of ticks a leader must be
 *    elected, a probe write must commit, and every running member must apply it.
 * 3. Drain: clients stop issuing operations; the outstanding ones finish or
 *    time out. The recorded history must be linearizable.
 *
 * Safety invariants are checked after every event (invariants.ts).
 */
import { ConfChangeType, isJoint, type ConfChange } from '../../src/raft/confchange.js';
import { ProposalDroppedError, InvalidConfChangeError } from '../../src/raft/errors.js';
import { MessageType, type Message } from '../../src/raft/messages.js';
import { Role } from '../../src/raft/ready.js';
import type { NodeId } from '../../src/raft/types.js';
import { History, type ClientState, type RecordedOp } from './client.js';
import { describeMessage } from './describe.js';
import { EventQueue } from './event-queue.js';
import { InvariantChecker, InvariantViolationError } from './invariants.js';
import { CheckResult, checkOperations, describeFailure } from './linearizability.js';
import { SendFate, SimNetwork, reliableNetwork } from './network.js';
import { Prng } from '../../src/common/rng.js';
import { RegisterOpKind, registerModel, type RegisterInput, type RegisterOutput } from './register-model.js';
import { encodeCommand, type RegisterCommand } from './register-state-machine.js';
import { FaultKind, scenarioForSeed, type Scenario } from './scenario.js';
import { SimDisk } from './sim-disk.js';
import { SimNode, requestKey, type NodeEnv, type PendingRequest } from './sim-node.js';
import { Trace } from './trace.js';

export interface SimOptions {
  readonly seed: number;
  /**
   * `off` (fastest: no trace is built; a failing seed is re-run with `tail`
   * for its report), `tail` (the last lines and a digest of all), `full`.
   * Default `tail`.
   */
  readonly trace?: TraceMode;
  readonly traceTailLines?: number;
  /** Run the core with its deliberately unsafe vote counting (bug-injection test). */
  readonly countStaleVotes?: boolean;
  /** Search budget of the linearizability check (default 2,000,000 steps). */
  readonly linearizabilityStepsMax?: number;
  /** Adjust the seed's scenario (tests use this to force a cluster shape). */
  readonly scenario?: (s: Scenario) => Scenario;
}

export const TraceMode = {
  Off: 'off',
  Tail: 'tail',
  Full: 'full',
} as const;
export type TraceMode = (typeof TraceMode)[keyof typeof TraceMode];

export const FailureKind = {
  Invariant: 'invariant',
  Linearizability: 'linearizability',
  Liveness: 'liveness',
  /** The core (or the simulator) threw: an assertion failed or an API contract was broken. */
  Exception: 'exception',
} as const;
export type FailureKind = (typeof FailureKind)[keyof typeof FailureKind];

export interface SimFailure {
  readonly kind: FailureKind;
  readonly message: string;
  readonly timeMs: number;
}

export interface SimStats {
  readonly clusterSize: number;
  readonly simulatedMs: number;
  readonly events: number;
  readonly messagesSent: number;
  readonly messagesDropped: number;
  readonly crashes: number;
  readonly faults: number;
  readonly leaderTerms: number;
  readonly snapshotsInstalled: number;
  readonly operations: { total: number; ok: number; unknown: number; discarded: number };
  readonly linearizabilitySteps: number;
  readonly healToLivenessMs: number | null;
  readonly staleGrantsToCandidates: number;
  readonly confChangesProposed: number;
  readonly leadershipTransfers: number;
  readonly nodes: number;
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure?: SimFailure;
  readonly traceDigest: string;
  readonly traceTail: readonly string[];
  readonly fullTrace: readonly string[] | null;
  readonly stats: SimStats;
}

type SimEvent =
  | { readonly k: 'tick'; readonly node: NodeId }
  | { readonly k: 'deliver'; readonly msg: Message }
  | { readonly k: 'fsync'; readonly node: NodeId; readonly incarnation: number }
  | { readonly k: 'client-start'; readonly client: number }
  | { readonly k: 'client-retry'; readonly client: number; readonly generation: number; readonly attempt: number }
  | { readonly k: 'client-timeout'; readonly client: number; readonly generation: number }
  | { readonly k: 'fault' }
  | { readonly k: 'restart'; readonly node: NodeId; readonly incarnation: number }
  | { readonly k: 'heal' }
  | { readonly k: 'end' };

/** Bound on queued events: a run that floods its agenda is a bug, reported as such. */
const eventsQueuedMax = 200_000;
/** Client id of the liveness probe (not part of the checked history). */
const probeClientId = -1;
const probeKey = '__probe';
/** Newly added members per run (they get fresh ids n6, n7, ...). */
const joinersMax = 3;

export function runSimulation(options: SimOptions): SimResult {
  const base = scenarioForSeed(options.seed);
  const scenario = options.scenario ? options.scenario(base) : base;
  return new Simulation(scenario, options).run();
}

class Simulation {
  private readonly root: Prng;
  private readonly netRng: Prng;
  private readonly faultRng: Prng;
  private readonly clientRng: Prng;
  private readonly diskRng: Prng;
  private readonly queue = new EventQueue<SimEvent>(eventsQueuedMax);
  private readonly trace: Trace;
  private readonly network: SimNetwork;
  private readonly invariants = new InvariantChecker();
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly history = new History();
  private readonly clients: ClientState[] = [];
  /** Where each client's current request is waiting. */
  private readonly pendingAt = new Map<number, { node: SimNode; req: PendingRequest }>();
  private readonly env: NodeEnv;
  private now = 0;
  private events = 0;
  private faults = 0;
  private nextNodeNumber: number;
  private joiners = 0;
  private healed = false;
  private healTimeMs = 0;
  private livenessMetMs: number | null = null;
  private stopIssuing = false;
  private probe: { seq: number; req: PendingRequest | null; node: SimNode | null; proposedMs: number; appliedIndex: number | null } = {
    seq: 0,
    req: null,
    node: null,
    proposedMs: 0,
    appliedIndex: null,
  };
  private failure: SimFailure | undefined;
  private linearizabilitySteps = 0;
  private finished = false;
  private confChangesProposed = 0;
  /** Result of every client command some replica applied, by "clientId:seq". */
  private readonly appliedResults = new Map<string, { output: RegisterOutput; time: number; index: number }>();
  private transfers = 0;
  /** Vote grants from an earlier term delivered to a candidate (what the injected bug miscounts). */
  private staleGrantsToCandidates = 0;
  private readonly tracing: boolean;

  constructor(
    private readonly scenario: Scenario,
    private readonly options: SimOptions,
  ) {
    this.root = new Prng(scenario.seed);
    this.netRng = this.root.fork('network');
    this.faultRng = this.root.fork('faults');
    this.clientRng = this.root.fork('clients');
    this.diskRng = this.root.fork('disk');
    const mode = options.trace ?? TraceMode.Tail;
    this.tracing = mode !== TraceMode.Off;
    this.trace = new Trace({ keepFull: mode === TraceMode.Full, tailLines: options.traceTailLines ?? 80 });
    this.network = new SimNetwork(this.netRng, scenario.network);
    this.nextNodeNumber = scenario.clusterSize + 1;
    const self = this;
    this.env = {
      now: () => self.now,
      tracing: this.tracing,
      trace: (line) => self.trace.add(self.now, line),
      send: (_from, msgs) => self.send(msgs),
      scheduleFsync: (node, incarnation) => {
        const delay = self.diskRng.between(scenario.fsyncDelayMinMs, scenario.fsyncDelayMaxMs);
        self.queue.push(self.now + delay, { k: 'fsync', node: node.id, incarnation });
      },
      complete: (node, req, output) => self.requestDone(node, req, output),
      commandApplied: (key, index, output) => {
        if (!self.appliedResults.has(key)) self.appliedResults.set(key, { output, index, time: self.history.now() });
      },
      invariants: this.invariants,
      electionTicks: scenario.electionTicks,
      heartbeatTicks: scenario.heartbeatTicks,
      snapshotEveryEntries: scenario.snapshotEveryEntries,
      snapshotChunkBytes: scenario.snapshotChunkBytes,
      countStaleVotes: options.countStaleVotes ?? false,
      preVote: scenario.preVote,
      checkQuorum: scenario.checkQuorum,
      applyBeforeDurable: scenario.applyBeforeDurable,
      sendDuringPersist: scenario.sendDuringPersist,
    };
  }

  run(): SimResult {
    const s = this.scenario;
    if (this.tracing) this.trace.add(0, `scenario ${JSON.stringify(s)}`);
    const voters: NodeId[] = [];
    for (let i = 1; i <= s.clusterSize; i++) voters.push(`n${i}`);
    for (const id of voters) this.addNode(id, SimDisk.bootstrap(voters));
    for (let c = 0; c < s.clientCount; c++) {
      this.clients.push({
        id: c,
        seq: 0,
        target: this.clientRng.pick(voters),
        current: null,
        attempt: 0,
        deadlineMs: 0,
        generation: 0,
        lastSeen: new Map(),
      });
      this.queue.push(this.clientRng.between(0, 20 * s.tickMs), { k: 'client-start', client: c });
    }
    this.scheduleNextFault();
    this.queue.push(s.faultPhaseMs, { k: 'heal' });
    const hardStopMs = s.faultPhaseMs + s.livenessTicksMax * s.tickMs + 2 * s.clientTimeoutMs + 100 * s.tickMs;

    try {
      for (;;) {
        const next = this.queue.pop();
        if (next === undefined) throw new Error('the simulation ran out of events');
        this.now = next.time;
        this.events++;
        this.dispatch(next.event);
        if (this.finished) break;
        if (this.now > hardStopMs) throw new Error(`the run did not finish by ${hardStopMs} ms`);
      }
      if (this.failure === undefined) this.checkHistory();
    } catch (err) {
      if (this.failure === undefined) {
        if (err instanceof InvariantViolationError) {
          this.fail(FailureKind.Invariant, err.message);
        } else {
          const e = err as Error;
          this.fail(FailureKind.Exception, `${e.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 8).join('\n')}`);
        }
      }
    }
    const leaders = this.invariants.leaders();
    let crashes = 0;
    let snapshotsInstalled = 0;
    for (const n of this.nodes.values()) {
      crashes += n.crashes;
      snapshotsInstalled += n.snapshotsInstalled;
    }
    return {
      seed: s.seed,
      ok: this.failure === undefined,
      ...(this.failure ? { failure: this.failure } : {}),
      traceDigest: this.trace.digest(),
      traceTail: this.trace.tailText(),
      fullTrace: this.trace.fullLines(),
      stats: {
        clusterSize: s.clusterSize,
        simulatedMs: this.now,
        events: this.events,
        messagesSent: this.network.sent,
        messagesDropped: this.network.dropped,
        crashes,
        faults: this.faults,
        leaderTerms: leaders.size,
        snapshotsInstalled,
        operations: this.history.stats(),
        linearizabilitySteps: this.linearizabilitySteps,
        staleGrantsToCandidates: this.staleGrantsToCandidates,
        confChangesProposed: this.confChangesProposed,
        leadershipTransfers: this.transfers,
        nodes: this.nodes.size,
        healToLivenessMs: this.livenessMetMs === null ? null : this.livenessMetMs - this.healTimeMs,
      },
    };
  }

  private fail(kind: FailureKind, message: string): void {
    if (this.failure) return;
    this.failure = { kind, message, timeMs: this.now };
    if (this.tracing) this.trace.add(this.now, `FAILURE ${kind}: ${message.split('\n')[0]}`);
    this.finished = true;
  }

  private addNode(id: NodeId, disk: SimDisk): SimNode {
    const node = new SimNode(id, disk, this.root.fork('node-' + id), this.env);
    this.nodes.set(id, node);
    node.start();
    // Each node's clock runs at its own rate (±10%) and phase: ticks drift apart.
    const period = this.scenario.tickMs + this.root.between(-1, 1) * Math.floor(this.scenario.tickMs / 10);
    this.tickPeriod.set(id, period);
    this.queue.push(this.now + this.root.between(1, period), { k: 'tick', node: id });
    if (this.tracing) this.trace.add(this.now, `${id} started (tick every ${period} ms)`);
    return node;
  }

  private readonly tickPeriod = new Map<NodeId, number>();

  // ------------------------------------------------------------------ events

  private dispatch(ev: SimEvent): void {
    switch (ev.k) {
      case 'tick': {
        const node = this.nodes.get(ev.node) as SimNode;
        this.queue.push(this.now + (this.tickPeriod.get(ev.node) as number), ev);
        if (node.up) node.tick();
        if (this.healed && this.livenessMetMs === null) this.driveLiveness();
        return;
      }
      case 'deliver': {
        const node = this.nodes.get(ev.msg.to);
        if (node === undefined || !node.up) {
          if (this.tracing) this.trace.add(this.now, `drop (down) ${describeMessage(ev.msg)}`);
          return;
        }
        if (this.network.isCut(ev.msg.from, ev.msg.to)) {
          if (this.tracing) this.trace.add(this.now, `drop (cut) ${describeMessage(ev.msg)}`);
          return;
        }
        if (this.tracing) this.trace.add(this.now, `recv ${describeMessage(ev.msg)}`);
        if (ev.msg.type === MessageType.RequestVoteResponse && ev.msg.granted) {
          const st = node.status();
          if (st && st.role === Role.Candidate && st.term > ev.msg.term) this.staleGrantsToCandidates++;
        }
        node.deliver(ev.msg);
        return;
      }
      case 'fsync': {
        const node = this.nodes.get(ev.node) as SimNode;
        if (node.incarnation !== ev.incarnation) return;
        if (this.tracing) this.trace.add(this.now, `${ev.node} fsync done`);
        node.fsyncDone(ev.incarnation);
        return;
      }
      case 'client-start':
        this.clientStart(this.clients[ev.client] as ClientState);
        return;
      case 'client-retry': {
        const c = this.clients[ev.client] as ClientState;
        if (c.current === null || c.generation !== ev.generation || c.attempt !== ev.attempt) return;
        this.clientAttempt(c);
        return;
      }
      case 'client-timeout': {
        const c = this.clients[ev.client] as ClientState;
        if (c.current === null || c.generation !== ev.generation) return;
        this.clientGiveUp(c);
        return;
      }
      case 'fault':
        if (this.healed) return;
        this.injectFault();
        this.scheduleNextFault();
        return;
      case 'heal':
        this.heal();
        return;
      case 'restart': {
        const node = this.nodes.get(ev.node) as SimNode;
        if (node.up || node.incarnation !== ev.incarnation || this.healed) return;
        if (this.tracing) this.trace.add(this.now, `restart ${node.id}`);
        node.start();
        return;
      }
      case 'end':
        this.finished = true;
        return;
    }
  }

  private send(msgs: readonly Message[]): void {
    for (const m of msgs) {
      if (m.type === MessageType.RequestVoteResponse && m.granted) this.invariants.observeGrant(m.from, m.to, m.term);
      const { fate, delaysMs } = this.network.send(m.from, m.to);
      if (fate !== SendFate.Delivered) {
        if (this.tracing) this.trace.add(this.now, `send ${describeMessage(m)} (${fate})`);
        continue;
      }
      if (this.tracing) this.trace.add(this.now, `send ${describeMessage(m)} +${delaysMs.join('/+')}ms`);
      for (const d of delaysMs) this.queue.push(this.now + d, { k: 'deliver', msg: m });
    }
  }

  // ----------------------------------------------------------------- clients

  private clientStart(c: ClientState): void {
    if (this.stopIssuing || c.current !== null) return;
    const s = this.scenario;
    const key = this.clientRng.pick(s.keys);
    c.seq++;
    const value = `${c.id}.${c.seq}`;
    const roll = this.clientRng.nextInt(100);
    let input: RegisterInput;
    if (roll < 40) input = { kind: RegisterOpKind.Read, key };
    else if (roll < 75) input = { kind: RegisterOpKind.Write, key, value };
    else {
      const expected = this.clientRng.chance(0.8) ? (c.lastSeen.get(key) ?? null) : `${this.clientRng.nextInt(s.clientCount)}.${this.clientRng.between(1, c.seq)}`;
      input = { kind: RegisterOpKind.Cas, key, expected, value };
    }
    c.current = this.history.call(c.id, c.seq, input);
    c.generation++;
    c.attempt = 0;
    c.deadlineMs = this.now + s.clientTimeoutMs;
    this.queue.push(c.deadlineMs, { k: 'client-timeout', client: c.id, generation: c.generation });
    if (this.tracing) this.trace.add(this.now, `client ${c.id} calls ${describeInput(input)} (seq ${c.seq})`);
    this.clientAttempt(c);
  }

  /** Send the current operation to the client's target node. */
  private clientAttempt(c: ClientState): void {
    const op = c.current as RecordedOp;
    c.attempt++;
    const node = this.nodes.get(c.target);
    if (node === undefined || !node.up) {
      // Connection refused: certainly not applied there. Try another node.
      this.retryLater(c, this.randomNodeId(), 'target down');
      return;
    }
    const raft = node.raft as NonNullable<SimNode['raft']>;
    const input = op.input;
    const req: PendingRequest = { clientId: c.id, seq: c.seq, kind: input.kind, key: input.key };
    try {
      if (input.kind === RegisterOpKind.Read) {
        req.readContext = `r${c.id}.${c.seq}.${c.attempt}`;
        raft.readIndex(new TextEncoder().encode(req.readContext));
        // Reads can be lost when leadership changes: retry after a while (reads have no effect).
        const attempt = c.attempt;
        this.queue.push(this.now + 3 * this.scenario.electionTicks * this.scenario.tickMs, {
          k: 'client-retry',
          client: c.id,
          generation: c.generation,
          attempt,
        });
      } else {
        const cmd: RegisterCommand =
          input.kind === RegisterOpKind.Write
            ? { clientId: c.id, seq: c.seq, kind: RegisterOpKind.Write, key: input.key, value: input.value }
            : { clientId: c.id, seq: c.seq, kind: RegisterOpKind.Cas, key: input.key, value: input.value, expected: input.expected };
        req.proposal = raft.propose(encodeCommand(cmd));
        op.accepted = true;
      }
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      if (this.tracing) this.trace.add(this.now, `client ${c.id} at ${node.id}: ${err.reason}`);
      this.retryLater(c, err.leaderHint ?? this.randomNodeId(), err.reason);
      return;
    }
    if (this.tracing) this.trace.add(
      this.now,
      `client ${c.id} at ${node.id}: accepted` + (req.proposal ? ` at ${req.proposal.index}@${req.proposal.term}` : ` read ${req.readContext}`),
    );
    const previous = this.pendingAt.get(c.id);
    if (previous) previous.node.forget(previous.req);
    node.track(req);
    this.pendingAt.set(c.id, { node, req });
    node.workDuringPersist();
    node.pump();
  }

  private retryLater(c: ClientState, target: NodeId, why: string): void {
    c.target = target;
    const delay = this.clientRng.between(1, 3) * this.scenario.tickMs;
    if (this.tracing) this.trace.add(this.now, `client ${c.id} retries at ${target} in ${delay} ms (${why})`);
    this.queue.push(this.now + delay, { k: 'client-retry', client: c.id, generation: c.generation, attempt: c.attempt });
  }

  private requestDone(node: SimNode, req: PendingRequest, output: RegisterOutput | undefined): void {
    if (req.clientId === probeClientId) {
      this.probeDone(node, req, output);
      return;
    }
    const c = this.clients[req.clientId];
    const pending = this.pendingAt.get(req.clientId);
    if (c === undefined || c.current === null || pending === undefined || pending.req !== req) return;
    const op = c.current;
    this.pendingAt.delete(c.id);
    if (output === undefined) {
      // Its entry was overwritten: certainly not applied. Retry (same command, same sequence number).
      op.accepted = false;
      if (this.tracing) this.trace.add(this.now, `client ${c.id}: entry ${req.proposal?.index}@${req.proposal?.term} was overwritten`);
      this.retryLater(c, this.randomNodeId(), 'overwritten');
      return;
    }
    // Where the system ordered it: its log index, or for a read the applied index it was served at.
    const hint = output.kind === RegisterOpKind.Read ? node.appliedIndex() + 0.5 : req.proposal?.index;
    this.history.complete(op, output, hint);
    if (output.kind === RegisterOpKind.Read) c.lastSeen.set(op.input.key, output.value);
    else if (op.input.kind !== RegisterOpKind.Read && (output.kind === RegisterOpKind.Write || (output.kind === RegisterOpKind.Cas && output.swapped))) {
      c.lastSeen.set(op.input.key, op.input.value);
    }
    if (this.tracing) this.trace.add(this.now, `client ${c.id} returns ${describeOutput(output)} from ${node.id}`);
    c.current = null;
    this.queue.push(this.now + this.clientRng.between(this.scenario.clientThinkMinMs, this.scenario.clientThinkMaxMs), { k: 'client-start', client: c.id });
    this.maybeFinish();
  }

  private clientGiveUp(c: ClientState): void {
    const op = c.current as RecordedOp;
    const pending = this.pendingAt.get(c.id);
    if (pending) {
      pending.node.forget(pending.req);
      this.pendingAt.delete(c.id);
    }
    this.history.giveUp(op);
    if (this.tracing) this.trace.add(this.now, `client ${c.id} gives up on seq ${c.seq} (${op.discarded ? 'no effect' : 'outcome unknown'})`);
    c.current = null;
    c.target = this.randomNodeId();
    this.queue.push(this.now + this.clientRng.between(this.scenario.clientThinkMinMs, this.scenario.clientThinkMaxMs), { k: 'client-start', client: c.id });
    this.maybeFinish();
  }

  private randomNodeId(): NodeId {
    return this.clientRng.pick([...this.nodes.keys()]);
  }

  // ------------------------------------------------------------------ faults

  private scheduleNextFault(): void {
    if (this.scenario.faultKinds.length === 0) return;
    const s = this.scenario;
    this.queue.push(this.now + this.faultRng.between(s.faultIntervalMinMs, s.faultIntervalMaxMs), { k: 'fault' });
  }

  private upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up);
  }

  private currentLeader(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const n of this.nodes.values()) {
      const st = n.status();
      if (st && st.role === Role.Leader && st.term > bestTerm) {
        best = n;
        bestTerm = st.term;
      }
    }
    return best;
  }

  private injectFault(): void {
    const rng = this.faultRng;
    const kind = rng.pick(this.scenario.faultKinds);
    const all = [...this.nodes.keys()];
    const up = this.upNodes();
    const leader = this.currentLeader();
    this.faults++;
    const note = (what: string) => this.trace.add(this.now, `FAULT ${what}`);
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
        note('heal network');
        return;
      case FaultKind.CrashRandom: {
        if (up.length === 0) return;
        this.crash(rng.pick(up));
        return;
      }
      case FaultKind.CrashLeader: {
        this.crash(leader ?? (up.length > 0 ? rng.pick(up) : null));
        return;
      }
      case FaultKind.CrashAll:
        for (const n of up) this.crash(n);
        return;
      case FaultKind.Restart: {
        const down = [...this.nodes.values()].filter((n) => !n.up);
        if (down.length === 0) return;
        const n = rng.pick(down);
        note(`restart ${n.id}`);
        n.start();
        return;
      }
      case FaultKind.TransferLeadership: {
        if (!leader) return;
        const voters = (leader.status()?.conf.voters ?? []).filter((id) => id !== leader.id);
        if (voters.length === 0) return;
        const to = rng.pick(voters);
        note(`transfer leadership ${leader.id} -> ${to}`);
        this.transfers++;
        try {
          leader.raft?.transferLeadership(to);
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err;
        }
        leader.pump();
        return;
      }
      case FaultKind.Membership:
        this.changeMembership(leader);
        return;
    }
  }

  private crash(node: SimNode | null): void {
    if (node === null || !node.up) return;
    const keep = this.diskRng.chance(this.scenario.crashKeepsInflightWriteRate);
    node.crash(keep);
    if (this.tracing) this.trace.add(this.now, `FAULT crash ${node.id}${keep ? ' (in-flight write survives)' : ' (in-flight write lost)'}`);
  }

  private changeMembership(leader: SimNode | null): void {
    if (!leader || !leader.raft) return;
    const st = leader.status();
    if (!st) return;
    const conf = st.conf;
    if (isJoint(conf)) return;
    const rng = this.faultRng;
    let change: ConfChange;
    let joiner: NodeId | null = null;
    if (conf.learners.length > 0) {
      const learner = rng.pick(conf.learners);
      if (conf.voters.length >= this.scenario.clusterSize && rng.chance(0.5)) {
        // Swap a voter for the learner in one step: two voter changes, so joint consensus (thesis §4.3).
        const out = rng.pick(conf.voters);
        change = { changes: [{ type: ConfChangeType.AddVoter, nodeId: learner }, { type: ConfChangeType.RemoveNode, nodeId: out }] };
      } else {
        change = { changes: [{ type: ConfChangeType.AddVoter, nodeId: learner }] };
      }
    } else if (conf.voters.length > this.scenario.clusterSize) {
      change = { changes: [{ type: ConfChangeType.RemoveNode, nodeId: rng.pick(conf.voters) }] };
    } else if (this.joiners < joinersMax) {
      joiner = `n${this.nextNodeNumber}`;
      change = { changes: [{ type: ConfChangeType.AddLearner, nodeId: joiner }] };
    } else {
      return;
    }
    const what = change.changes.map((c) => `${c.type} ${c.nodeId}`).join(' + ');
    try {
      const at = leader.raft.proposeConfChange(change);
      if (this.tracing) this.trace.add(this.now, `FAULT membership: ${what} proposed at ${leader.id} as ${at.index}@${at.term}`);
      this.confChangesProposed++;
    } catch (err) {
      if (!(err instanceof ProposalDroppedError || err instanceof InvalidConfChangeError)) throw err;
      if (this.tracing) this.trace.add(this.now, `FAULT membership: ${what} refused: ${err.message}`);
      return;
    }
    if (joiner !== null) {
      this.nextNodeNumber++;
      this.joiners++;
      // A joining node starts with an empty disk and learns everything from the leader.
      this.addNode(joiner, new SimDisk());
    }
    leader.pump();
  }

  // ----------------------------------------------------------- heal/liveness

  private heal(): void {
    this.healed = true;
    this.healTimeMs = this.now;
    this.network.healAll();
    this.network.setFaults(reliableNetwork);
    // Clients finish what they started but issue nothing new: the probe runs on a quiet cluster.
    this.stopIssuing = true;
    if (this.tracing) this.trace.add(this.now, 'HEAL: network reliable, partitions healed, crashed nodes restart');
    for (const n of this.nodes.values()) if (!n.up) n.start();
  }

  /** After healing: elect, commit a probe write, and get it applied on every running member. */
  private driveLiveness(): void {
    const s = this.scenario;
    if (this.now - this.healTimeMs > s.livenessTicksMax * s.tickMs) {
      const leader = this.currentLeader();
      this.fail(
        FailureKind.Liveness,
        `${s.livenessTicksMax} ticks after healing: ` +
          (this.probe.appliedIndex !== null
            ? `probe write committed at ${this.probe.appliedIndex} but not applied on every member (${this.appliedSummary()})`
            : leader
              ? `leader ${leader.id} (term ${leader.status()?.term}) did not commit a probe write (${this.appliedSummary()})`
              : `no leader elected (${this.roleSummary()})`),
      );
      return;
    }
    if (this.probe.appliedIndex === null) {
      if (this.probe.req !== null) {
        // A proposal can be lost without a trace at its node (its leader stepped down and the
        // new leader's log is shorter): give up on it after a while and propose again.
        if (this.now - this.probe.proposedMs < 3 * s.electionTicks * s.tickMs) return;
        this.probe.node?.forget(this.probe.req);
        this.probe.req = null;
      }
      const leader = this.currentLeader();
      if (!leader || !leader.raft) return;
      this.probe.seq++;
      const req: PendingRequest = { clientId: probeClientId, seq: this.probe.seq, kind: RegisterOpKind.Write, key: probeKey };
      try {
        req.proposal = leader.raft.propose(
          encodeCommand({ clientId: probeClientId, seq: this.probe.seq, kind: RegisterOpKind.Write, key: probeKey, value: String(this.probe.seq) }),
        );
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw err;
        return;
      }
      this.probe.req = req;
      this.probe.node = leader;
      this.probe.proposedMs = this.now;
      leader.track(req);
      if (this.tracing) this.trace.add(this.now, `probe write proposed at ${leader.id} as ${req.proposal.index}@${req.proposal.term}`);
      leader.pump();
      return;
    }
    // Every running member must apply the probe.
    const leader = this.currentLeader();
    const conf = leader?.status()?.conf;
    if (!conf) return;
    const members = [...conf.voters, ...conf.votersOutgoing, ...conf.learners, ...conf.learnersNext];
    for (const id of members) {
      const n = this.nodes.get(id);
      if (n && n.up && n.appliedIndex() < this.probe.appliedIndex) return;
    }
    this.livenessMetMs = this.now;
    if (this.tracing) this.trace.add(this.now, `LIVENESS ok: probe applied on every member ${this.now - this.healTimeMs} ms after healing`);
    this.queue.push(this.now + 2 * s.clientTimeoutMs, { k: 'end' });
    this.maybeFinish();
  }

  private probeDone(node: SimNode, req: PendingRequest, output: RegisterOutput | undefined): void {
    if (this.probe.req !== req) return;
    this.probe.req = null;
    if (output === undefined) {
      if (this.tracing) this.trace.add(this.now, `probe entry ${req.proposal?.index} overwritten; retrying`);
      return;
    }
    this.probe.appliedIndex = (req.proposal as { index: number }).index;
    if (this.tracing) this.trace.add(this.now, `probe write committed at ${this.probe.appliedIndex} (applied at ${node.id})`);
  }

  private maybeFinish(): void {
    if (this.livenessMetMs === null) return;
    if (this.clients.every((c) => c.current === null)) this.finished = true;
  }

  private appliedSummary(): string {
    return [...this.nodes.values()].map((n) => `${n.id}:${n.up ? n.appliedIndex() : 'down'}`).join(' ');
  }

  private roleSummary(): string {
    return [...this.nodes.values()]
      .map((n) => {
        const st = n.status();
        return st ? `${n.id}:${st.role}/t${st.term}` : `${n.id}:down`;
      })
      .join(' ');
  }

  // ----------------------------------------------------------------- history

  private checkHistory(): void {
    const settled = this.history.settleUnknownOutcomes((clientId, seq) => this.appliedResults.get(requestKey(clientId, seq)));
    if (this.tracing) {
      this.trace.add(
        this.now,
        `history: of the operations with unknown outcomes, ${settled.applied} were applied (must be linearized) and ${settled.unapplied} never took effect`,
      );
    }
    const ops = this.history.operations();
    const outcome = checkOperations(registerModel, ops, { searchStepsMax: this.options.linearizabilityStepsMax ?? 2_000_000 });
    this.linearizabilitySteps = outcome.steps;
    if (outcome.result === CheckResult.Ok) return;
    this.fail(
      FailureKind.Linearizability,
      outcome.result === CheckResult.Illegal
        ? `the client history is not linearizable\n${describeFailure(registerModel, outcome)}`
        : `the linearizability check did not finish within its search budget (${outcome.steps} steps, ${ops.length} operations)`,
    );
  }
}

function describeInput(input: RegisterInput): string {
  switch (input.kind) {
    case RegisterOpKind.Write:
      return `write(${input.key}=${input.value})`;
    case RegisterOpKind.Cas:
      return `cas(${input.key}: ${input.expected ?? 'null'} -> ${input.value})`;
    case RegisterOpKind.Read:
      return `read(${input.key})`;
  }
}

function describeOutput(output: RegisterOutput): string {
  switch (output.kind) {
    case RegisterOpKind.Write:
      return 'ok';
    case RegisterOpKind.Cas:
      return output.swapped ? 'swapped' : 'not swapped';
    case RegisterOpKind.Read:
      return `value ${output.value ?? 'null'}`;
  }
}
