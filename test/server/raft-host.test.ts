/**
 * The member's loop against a scripted core, storage and network: the order
 * of side effects (send, persist, send-after-persist, apply, advance), batching
 * of a turn's proposals and reads, matching results to proposals, and what
 * waiting clients see when leadership is lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { encodeCommand, KvStateMachine, CommandKind, ResultKind, type ApplyResult, type Command } from '../../src/kv/index.js';
import { ErrorCode } from '../../src/protocol/index.js';
import { DropReason, EntryType, ProposalDroppedError, Role, type ConfState, type Entry, type Message, type Ready, type DuringPersist, type SnapshotTransfers } from '../../src/raft/index.js';
import type { CoreStatus, HostStorage, PersistBatch, RaftCore } from '../../src/server/ports.js';
import { RaftHost, type PeerDirectory } from '../../src/server/raft-host.js';
import { kvStateMachinePort } from '../../src/server/kv-replica.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { StartingIdentity } from '../../src/server/member-status.js';
import { proposalHeadroomBytes } from '../../src/server/proposal-tracker.js';
import { systemClock, systemRandom } from '../../src/common/system-clock.js';
import type { Clock } from '../../src/common/clock.js';

const silent = pino({ level: 'silent' });
const emptyReady: Ready = { messages: [], snapshotChunks: [], entries: [], messagesAfterPersist: [], committedEntries: [], readStates: [], mustSync: false };

function heartbeat(to: string, term = 1): Message {
  return { type: 'Heartbeat', from: 'n1', to, term, commit: 0, context: new Uint8Array(0) };
}

class Deferred {
  resolve!: () => void;
  readonly promise = new Promise<void>((resolve) => (this.resolve = resolve));
}

/** A core that hands out scripted Readies and records what the host did. */
class ScriptedCore implements RaftCore {
  readonly readies: Ready[] = [];
  readonly events: string[];
  proposals: Uint8Array[] = [];
  readContexts: Uint8Array[] = [];
  role: Role = Role.Leader;
  nextIndex = 10;
  term = 1;
  refuse: DropReason | null = null;
  readonly limits = { uncommittedEntriesBytesMax: 1234, pendingReadIndexRequestsMax: 99 };
  constructor(events: string[]) {
    this.events = events;
  }
  tick(): void {}
  step(): void {}
  propose(data: Uint8Array): { index: number; term: number } {
    if (this.refuse !== null) throw new ProposalDroppedError(this.refuse, 'n2');
    this.events.push('propose');
    this.proposals.push(data);
    return { index: this.nextIndex++, term: this.term };
  }
  readIndex(context: Uint8Array): void {
    this.events.push('readIndex');
    this.readContexts.push(context);
  }
  transferLeadership(): void {}
  proposeConfChange(): { index: number; term: number } {
    return { index: this.nextIndex++, term: this.term };
  }
  /** Entries the core will report committed while a Ready is in flight. */
  committedDuringPersist: Entry[] = [];
  hasReady(): boolean {
    return this.readies.length > 0;
  }
  takeDuringPersist(): DuringPersist {
    const out = this.committedDuringPersist;
    this.committedDuringPersist = [];
    if (out.length > 0) this.events.push('take-committed');
    return { messages: [], committedEntries: out };
  }
  ready(): Ready {
    this.events.push('ready');
    return this.readies.shift()!;
  }
  advance(): void {
    this.events.push('advance');
  }
  status(): CoreStatus {
    return {
      role: this.role,
      term: this.term,
      leader: 'n1',
      commitIndex: 0,
      appliedIndex: 0,
      conf: { voters: ['n1', 'n2', 'n3'], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      matchIndex: {},
      recentActive: {},
      lastLogIndex: 0,
      leadTransferee: null,
    };
  }
  conf(): ConfState {
    return this.status().conf;
  }
  currentTerm(): number {
    return this.term;
  }

  transfers: SnapshotTransfers = { sending: [], followerCatchingUp: false };
  snapshotTransfers(): SnapshotTransfers {
    return this.transfers;
  }
}

class ScriptedStorage implements HostStorage {
  gate: Deferred | null = null;
  readonly batches: PersistBatch[] = [];
  constructor(private readonly events: string[]) {}
  async persist(batch: PersistBatch): Promise<void> {
    this.events.push('persist-start');
    this.batches.push(batch);
    if (this.gate) await this.gate.promise;
    this.events.push('persist-done');
  }
  snapshotWrites = 0;
  /** What a local snapshot write does (default: succeeds). */
  writeSnapshotResult: () => Promise<void> = async () => {};
  lastIndexValue = 0;
  async writeSnapshot(): Promise<void> {
    this.snapshotWrites++;
    return this.writeSnapshotResult();
  }
  readSnapshot(): null {
    return null;
  }
  term(): number {
    return 1;
  }
  firstIndex(): number {
    return 1;
  }
  lastIndex(): number {
    return this.lastIndexValue;
  }
  snapshotIndex(): number {
    return 0;
  }
  /** Every holdSnapshots call. */
  readonly held: number[][] = [];
  holdSnapshots(indexes: readonly number[]): void {
    this.held.push([...indexes]);
  }
  async close(): Promise<void> {}
}

function setup(options: { snapshotEveryEntries?: number; snapshotCatchUpEntries?: number; clock?: Clock; metrics?: ServerMetrics } = {}) {
  const events: string[] = [];
  const core = new ScriptedCore(events);
  const storage = new ScriptedStorage(events);
  const kv = new KvStateMachine();
  const sent: Message[] = [];
  const peers: PeerDirectory = {
    send: (m) => {
      events.push(`send:${m.to}`);
      sent.push(m);
    },
    clientUrlOf: () => null,
    peerUrlOf: () => null,
    members: () => [],
  };
  const host = new RaftHost<ApplyResult>(
    {
      identity: new StartingIdentity('n1', 'tcp://p', 'tcp://c', 'test'),
      tickIntervalMs: 1_000_000,
      snapshotEveryEntries: options.snapshotEveryEntries ?? 1_000_000,
      ...(options.snapshotCatchUpEntries !== undefined ? { snapshotCatchUpEntries: options.snapshotCatchUpEntries } : {}),
      pendingRequestsMax: 100,
      clock: options.clock ?? systemClock,
      random: systemRandom,
    },
    core,
    storage,
    kvStateMachinePort(kv),
    peers,
    silent,
    options.metrics ?? null,
  );
  const propose = (command: Command, deadlineMs = performance.now() + 10_000) =>
    host.propose(encodeCommand(command, Date.now(), proposalHeadroomBytes), deadlineMs);
  return { events, core, storage, kv, host, sent, propose };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await turn();
}

function entry(index: number, data: Uint8Array, term = 1): Entry {
  return { index, term, type: EntryType.Normal, data };
}

test('one Ready: send messages and apply what is committed, persist once, then acknowledgements, then advance', async () => {
  const { events, core, storage, kv, host } = setup();
  const gate = new Deferred();
  storage.gate = gate;
  core.readies.push({
    ...emptyReady,
    softState: { leader: 'n1', role: Role.Leader },
    messages: [heartbeat('n2')],
    entries: [entry(1, new Uint8Array(0))],
    mustSync: true,
    hardState: { term: 1, vote: 'n1', commit: 1 },
    messagesAfterPersist: [heartbeat('n3')],
    committedEntries: [{ index: 1, term: 1, type: EntryType.ConfChange, data: new Uint8Array(0) }],
  });
  host.start();
  await settle();
  // While the fsync is in flight: the early message went out and the committed entry was applied
  // (committed = durable on a majority already), but no acknowledgement left and no advance().
  assert.deepEqual(events, ['ready', 'send:n2', 'persist-start']);
  assert.equal(kv.appliedIndex, 1, 'a committed entry does not wait for our own fsync');
  gate.resolve();
  await settle();
  assert.deepEqual(events, ['ready', 'send:n2', 'persist-start', 'persist-done', 'send:n3', 'advance']);
  assert.equal(storage.batches.length, 1, 'one group commit for the Ready');
  await host.stop();
});

test("a turn's proposals reach the core before the next ready(), and each client gets its own entry's result", async () => {
  const { events, core, kv, host, propose } = setup();
  core.readies.push({ ...emptyReady, softState: { leader: 'n1', role: Role.Leader } });
  host.start();
  await settle();
  assert.ok(host.isLeader());
  kv.apply(1, new Uint8Array(0));
  events.length = 0;
  const results = [1, 2, 3].map((i) =>
    propose({ kind: CommandKind.Put, key: new TextEncoder().encode(`k${i}`), value: new Uint8Array([i]) }),
  );
  await turn();
  await turn();
  assert.deepEqual(events.slice(0, 3), ['propose', 'propose', 'propose'], 'all proposed in one batch');
  // The core commits them at the indexes it gave them (2, 3, 4); each takes the next store revision.
  core.readies.push({ ...emptyReady, committedEntries: core.proposals.map((data, i) => entry(2 + i, data)) });
  core.proposals = [];
  (host as unknown as { schedule(): void }).schedule();
  const settled = await Promise.all(results);
  assert.deepEqual(
    settled.map((r) => (r.kind === ResultKind.Write ? r.modRevision : -1)),
    [1, 2, 3],
  );
  await host.stop();
});

test('leadership lost before apply: waiting writes get LeaderChanged (retryable), an overwritten entry too', async () => {
  const { core, host, propose } = setup();
  core.readies.push({ ...emptyReady, softState: { leader: 'n1', role: Role.Leader } });
  host.start();
  await settle();
  const write = propose({ kind: CommandKind.Put, key: new Uint8Array([1]), value: new Uint8Array([1]) });
  await settle();
  core.readies.push({ ...emptyReady, softState: { leader: 'n2', role: Role.Follower } });
  (host as unknown as { schedule(): void }).schedule();
  await assert.rejects(write, (error: { code?: string; details?: { leaderId?: string } }) => {
    return error.code === ErrorCode.LeaderChanged && error.details?.leaderId === 'n2';
  });
  assert.equal(host.isLeader(), false);
  await assert.rejects(
    propose({ kind: CommandKind.Noop }),
    (error: { code?: string }) => error.code === ErrorCode.NotLeader,
  );
  await host.stop();
});

test('an entry of another term applied at our proposal index means it was overwritten: LeaderChanged', async () => {
  const { core, host, propose } = setup();
  core.readies.push({ ...emptyReady, softState: { leader: 'n1', role: Role.Leader } });
  host.start();
  await settle();
  core.nextIndex = 1;
  const write = propose({ kind: CommandKind.Put, key: new Uint8Array([1]), value: new Uint8Array([1]) });
  await settle();
  core.readies.push({ ...emptyReady, committedEntries: [entry(1, new Uint8Array(0), 7)] });
  (host as unknown as { schedule(): void }).schedule();
  await assert.rejects(write, (error: { code?: string }) => error.code === ErrorCode.LeaderChanged);
  await host.stop();
});

test('linearizable reads arriving in one turn share one ReadIndex request and are served once it is applied', async () => {
  const { events, core, kv, host } = setup();
  core.readies.push({ ...emptyReady, softState: { leader: 'n1', role: Role.Leader } });
  host.start();
  await settle();
  events.length = 0;
  let served = 0;
  const reads = Array.from({ length: 10 }, () => host.readBarrier(performance.now() + 10_000).then(() => served++));
  await settle();
  assert.equal(events.filter((e) => e === 'readIndex').length, 1);
  // The read index is 2: not yet applied.
  core.readies.push({ ...emptyReady, readStates: [{ index: 2, context: core.readContexts[0]! }] });
  (host as unknown as { schedule(): void }).schedule();
  await settle();
  assert.equal(served, 0, 'not before the read index is applied');
  core.readies.push({
    ...emptyReady,
    committedEntries: [entry(1, new Uint8Array(0)), entry(2, new Uint8Array(0))],
  });
  (host as unknown as { schedule(): void }).schedule();
  await Promise.all(reads);
  assert.equal(served, 10);
  assert.equal(kv.appliedIndex, 2);
  await host.stop();
});

test('a follower catches up through the leader (ReadIndex): served once the read index is applied; a leader change fails it; no leader refuses it', async () => {
  const { events, core, kv, host } = setup();
  core.role = Role.Follower;
  core.readies.push({ ...emptyReady, softState: { leader: null, role: Role.Follower } });
  host.start();
  await settle();
  await assert.rejects(host.catchUp(performance.now() + 10_000), (error: { code?: string }) => error.code === ErrorCode.NotLeader);
  core.readies.push({ ...emptyReady, softState: { leader: 'n2', role: Role.Follower } });
  (host as unknown as { schedule(): void }).schedule();
  await settle();
  events.length = 0;
  let caughtUp = false;
  const first = host.catchUp(performance.now() + 10_000).then(() => (caughtUp = true));
  await settle();
  assert.deepEqual(events.filter((e) => e === 'readIndex'), ['readIndex'], 'the core was asked (it forwards to the leader)');
  core.readies.push({ ...emptyReady, readStates: [{ index: 2, context: core.readContexts[0]! }] });
  (host as unknown as { schedule(): void }).schedule();
  await settle();
  assert.equal(caughtUp, false, 'not before the leader commit index is applied here');
  core.readies.push({ ...emptyReady, committedEntries: [entry(1, new Uint8Array(0)), entry(2, new Uint8Array(0))] });
  (host as unknown as { schedule(): void }).schedule();
  await first;
  assert.equal(kv.appliedIndex, 2);
  // A catch-up the old leader never answers fails when the leader changes (not at its deadline).
  const second = host.catchUp(performance.now() + 60_000);
  await settle();
  core.readies.push({ ...emptyReady, softState: { leader: 'n3', role: Role.Follower } });
  (host as unknown as { schedule(): void }).schedule();
  await assert.rejects(second, (error: { code?: string }) => error.code === ErrorCode.LeaderChanged);
  await host.stop();
});

test('a refused proposal is answered at once, not left waiting', async () => {
  const { core, host, propose } = setup();
  core.readies.push({ ...emptyReady, softState: { leader: 'n1', role: Role.Leader } });
  host.start();
  await settle();
  core.refuse = DropReason.NotLeader;
  await assert.rejects(
    propose({ kind: CommandKind.Noop }),
    (error: { code?: string }) => error.code === ErrorCode.NotLeader,
  );
  assert.equal(host.inflight, 0);
  await host.stop();
});

test('proposals and failed proposals are counted where they are answered (refused, or failed at shutdown), successes not', async () => {
  const metrics = new ServerMetrics('n1');
  const { core, host, propose } = setup({ metrics });
  const count = async (counter: { get(): Promise<{ values: { value: number }[] }> }) => (await counter.get()).values[0]?.value ?? 0;
  core.readies.push({ ...emptyReady, softState: { leader: 'n1', role: Role.Leader } });
  host.start();
  await settle();
  core.refuse = DropReason.NotLeader;
  await assert.rejects(propose({ kind: CommandKind.Noop }));
  await assert.rejects(propose({ kind: CommandKind.Noop }));
  assert.equal(await count(metrics.proposalsFailed), 2, 'two refused');
  core.refuse = null;
  const pending = propose({ kind: CommandKind.Noop });
  await settle();
  assert.equal(core.proposals.length, 1, 'handed to the core, waiting for its entry');
  assert.equal(await count(metrics.proposalsFailed), 2, 'a proposal still waiting has not failed');
  await host.stop();
  await assert.rejects(pending);
  assert.equal(await count(metrics.proposalsFailed), 3, 'the one answered at shutdown');
  assert.equal(await count(metrics.proposals), 3);
});

test('a commit-only hard state does not cost an fsync of its own; it rides with the next write', async () => {
  const { core, storage, host } = setup();
  core.readies.push({ ...emptyReady, softState: { leader: 'n1', role: Role.Leader }, hardState: { term: 1, vote: 'n1', commit: 0 }, mustSync: true });
  core.readies.push({ ...emptyReady, hardState: { term: 1, vote: 'n1', commit: 5 } });
  host.start();
  await settle();
  assert.equal(storage.batches.length, 1, 'term/vote persisted; the commit-only change deferred');
  core.readies.push({ ...emptyReady, entries: [entry(6, encodeCommand({ kind: CommandKind.Noop }, 1))], mustSync: true });
  (host as unknown as { schedule(): void }).schedule();
  await settle();
  assert.equal(storage.batches.length, 2);
  assert.deepEqual(storage.batches[1]!.hardState, { term: 1, vote: 'n1', commit: 5 });
  await host.stop();
});

test('committed entries are applied without waiting for the fsync in flight, also those that commit during it', async () => {
  const { events, core, storage, kv, host } = setup();
  for (let i = 1; i <= 3; i++) kv.apply(i, new Uint8Array(0));
  const gate = new Deferred();
  storage.gate = gate;
  core.readies.push({
    ...emptyReady,
    entries: [entry(5, new Uint8Array(0)), entry(6, new Uint8Array(0))],
    mustSync: true,
    committedEntries: [entry(4, new Uint8Array(0)), entry(5, new Uint8Array(0))],
  });
  host.start();
  await settle();
  assert.deepEqual(events, ['ready', 'persist-start']);
  assert.equal(kv.appliedIndex, 5, 'entries 4 and 5 are committed: applied during the fsync');
  // A follower's acknowledgement arrives during the fsync and commits entry 6.
  core.committedDuringPersist = [entry(6, new Uint8Array(0))];
  host.receive(heartbeat('n1'));
  await settle();
  assert.equal(kv.appliedIndex, 6, 'entry 6 committed during the fsync: applied before it ends');
  gate.resolve();
  await settle();
  assert.deepEqual(events, ['ready', 'persist-start', 'take-committed', 'persist-done', 'advance']);
  await host.stop();
});

test('a Ready that installs a snapshot applies nothing before the snapshot is in place', async () => {
  const { core, storage, kv, host } = setup();
  const gate = new Deferred();
  storage.gate = gate;
  core.readies.push({
    ...emptyReady,
    snapshotChunks: [{ index: 9, term: 1, offset: 0, data: new Uint8Array(3), done: false }],
    entries: [entry(1, new Uint8Array(0))],
    mustSync: true,
    committedEntries: [entry(1, new Uint8Array(0))],
  });
  core.committedDuringPersist = [entry(2, new Uint8Array(0))];
  host.start();
  await settle();
  assert.equal(kv.appliedIndex, 0, 'nothing applied while snapshot chunks are being written');
  gate.resolve();
  await settle();
  assert.equal(kv.appliedIndex, 1);
  await host.stop();
});


test('stop(): a proposal already handed to the core may still commit (LeaderChanged); one never handed over is refused (ShuttingDown)', async () => {
  const { core, host, propose } = setup();
  core.readies.push({ ...emptyReady, softState: { leader: 'n1', role: Role.Leader } });
  host.start();
  await settle();
  const handed = propose({ kind: CommandKind.Put, key: new Uint8Array([1]), value: new Uint8Array([1]) });
  await settle();
  assert.equal(core.proposals.length, 1, 'handed to the core');
  const queued = propose({ kind: CommandKind.Put, key: new Uint8Array([2]), value: new Uint8Array([2]) });
  const stopping = host.stop();
  await assert.rejects(handed, (error: { code?: string }) => error.code === ErrorCode.LeaderChanged);
  await assert.rejects(queued, (error: { code?: string }) => error.code === ErrorCode.ShuttingDown);
  await stopping;
  assert.equal(core.proposals.length, 1, 'the queued one never reached the core');
});

test('a proposal the core refuses for its uncommitted-bytes bound is Overloaded with the real limit', async () => {
  const { core, host, propose } = setup();
  core.readies.push({ ...emptyReady, softState: { leader: 'n1', role: Role.Leader } });
  host.start();
  await settle();
  core.refuse = DropReason.UncommittedBytesLimit;
  await assert.rejects(propose({ kind: CommandKind.Noop }), (error: { code?: string; details?: { limit?: number } }) => {
    return error.code === ErrorCode.Overloaded && error.details?.limit === core.limits.uncommittedEntriesBytesMax;
  });
  await host.stop();
});

test('a local snapshot that keeps failing (ENOSPC) is retried with back-off, not after every Ready', async () => {
  const time = { now: 0 };
  const clock: Clock = { ...systemClock, monotonicMs: () => time.now };
  const { core, storage, kv, host } = setup({ snapshotEveryEntries: 2, clock });
  storage.writeSnapshotResult = () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC', errno: -28 }));
  host.start();
  const advances = async (from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      storage.lastIndexValue = i;
      core.readies.push({ ...emptyReady, committedEntries: [entry(i, new Uint8Array(0))] });
      (host as unknown as { schedule(): void }).schedule();
      await settle();
    }
  };
  await advances(1, 10);
  assert.equal(kv.appliedIndex, 10);
  assert.equal(storage.snapshotWrites, 1, 'one attempt, then it waits');
  time.now += 60_000;
  await advances(11, 5);
  assert.equal(storage.snapshotWrites, 2, 'tried again once the back-off passed');
  storage.writeSnapshotResult = async () => {};
  time.now += 120_000;
  await advances(16, 1);
  assert.equal(storage.snapshotWrites, 3);
  await host.stop();
});

test('a leader holds the snapshots being sent, and postpones its own snapshot while a follower catches up, up to snapshotCatchUpEntries', async () => {
  const { core, storage, kv, host } = setup({ snapshotEveryEntries: 2, snapshotCatchUpEntries: 5 });
  host.start();
  const advances = async (from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      storage.lastIndexValue = i;
      core.readies.push({ ...emptyReady, committedEntries: [entry(i, new Uint8Array(0))] });
      (host as unknown as { schedule(): void }).schedule();
      await settle();
    }
  };
  core.transfers = { sending: [7], followerCatchingUp: true };
  await advances(1, 6);
  assert.equal(kv.appliedIndex, 6);
  assert.equal(storage.snapshotWrites, 0, 'postponed while the follower catches up');
  assert.deepEqual(storage.held.at(-1), [7], 'the snapshot being sent is held after every advance');
  await advances(7, 1);
  assert.equal(storage.snapshotWrites, 1, 'taken anyway once 2 + 5 entries wait');
  core.transfers = { sending: [], followerCatchingUp: false };
  await advances(8, 2);
  assert.equal(storage.snapshotWrites, 2, 'on the usual cadence once nobody catches up');
  assert.deepEqual(storage.held.at(-1), [], 'released when the transfer ended');
  await host.stop();
});
