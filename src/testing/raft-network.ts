/**
 * The one in-memory Ready driver for tests and benchmarks of the Raft core.
 *
 * `MemoryHost` is one member: a RaftNode over a MemoryStorage, with a host
 * loop that handles each Ready in the order ready.ts documents (send
 * `messages`; write chunks, install the snapshot, append entries, write the
 * hard state; send `messagesAfterPersist`; apply; advance). A host may do it
 * in one call (`handleReady`) or in two, with the persist "taking time"
 * (`takeReady` then, later, `finishReady`), as the chaos check does.
 *
 * `RaftNetwork` is a synchronous cluster of such hosts: messages are
 * delivered in FIFO order until the cluster is quiet; links can be dropped
 * (`cut`, `isolate`, `dropIf`) and restored (`recover`), members crashed and
 * restarted from what their storage holds.
 *
 * `drainReady` is the bare version for rule tests that drive one node by
 * hand: take one Ready, persist it, advance.
 *
 * Test double: shipped code never imports src/testing (see src/testing/README.md).
 */
import { assert } from '../common/errors.js';
import { Prng } from '../common/rng.js';
import {
  EntryType,
  MemoryStorage,
  RaftNode,
  Role,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type RaftConfig,
  type RandomSource,
  type ReadState,
  type Ready,
} from '../raft/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const bytes = (s: string): Uint8Array => encoder.encode(s);
export const text = (b: Uint8Array): string => decoder.decode(b);

const EMPTY_BYTES = new Uint8Array(0);

/** RaftConfig overrides for the nodes a host starts (the host supplies id, storage and rng). */
export type NodeOptions = Partial<Omit<RaftConfig, 'id' | 'storage' | 'rng'>>;

export interface HostOptions {
  readonly node?: NodeOptions;
  /**
   * Keep a toy state machine (the text of every normal entry applied, in
   * order, snapshotted as JSON) and the history of Readies, applied entries
   * and configurations, for assertions. Default true. Benchmarks turn it off
   * (a million entries must not stay in memory), as do hosts whose snapshots
   * hold bytes of their own.
   */
  readonly record?: boolean;
  /** Called for each committed entry as it is applied, before `appliedIndex` moves to it. */
  readonly onApply?: (host: MemoryHost, entry: Entry) => void;
  /**
   * Like a real host, snapshot once this many entries are applied past the
   * last snapshot, and compact the log to `tailKeptEntries` behind it
   * (benchmarks). Default: never; tests call `compact()`.
   */
  readonly autoCompact?: { readonly everyEntries: number; readonly tailKeptEntries: number };
}

/** Persist a Ready's durable part in the order ready.ts gives (2b snapshot, 2c entries, 2d hard state). */
function persistReady(storage: MemoryStorage, r: Ready, snapshotData: Uint8Array): void {
  if (r.snapshot !== undefined) storage.applySnapshot(r.snapshot, snapshotData);
  storage.append(r.entries);
  if (r.hardState !== undefined) storage.setHardState(r.hardState);
}

/**
 * For a node driven by hand: take one Ready, persist it into `storage`,
 * advance; returns the Ready. No state machine: a snapshot is installed with
 * empty data, and messages are left to the caller (they are in the Ready).
 */
export function drainReady(node: RaftNode, storage: MemoryStorage): Ready {
  const r = node.ready();
  persistReady(storage, r, EMPTY_BYTES);
  node.advance(r);
  return r;
}

export class MemoryHost {
  raft: RaftNode;
  /** Index of the last entry applied (or of the snapshot installed). */
  appliedIndex = 0;
  /** The Ready taken by `takeReady` and not yet finished. */
  pending: Ready | null = null;
  /** The toy state machine (when recording): normal entries applied, as text, in order. */
  appliedData: string[] = [];
  /** (when recording) Every committed entry handed out, in order. */
  applied: Entry[] = [];
  /** (when recording) Every Ready taken. */
  readies: Ready[] = [];
  /** (when recording) Every configuration this node went through (recorded after each advance). */
  confHistory: ConfState[] = [];
  readStates: ReadState[] = [];
  private readonly record: boolean;
  /** Incoming snapshot being assembled from chunks. */
  private pendingChunks: { index: number; parts: Uint8Array[] } | null = null;

  constructor(readonly id: NodeId, public storage: MemoryStorage, readonly options: HostOptions, rng: RandomSource) {
    this.record = options.record ?? true;
    this.raft = this.start(rng);
  }

  /** (Re)start the node from what storage holds, as after a crash: the Ready in flight and all memory are lost. */
  start(rng: RandomSource): RaftNode {
    if (this.record) {
      // The state machine restarts from the snapshot (it is not durable on its own).
      const data = this.storage.snapshotBytes();
      this.appliedData = this.storage.snapshotMetadata().index > 0 && data.length > 0 ? (JSON.parse(text(data)) as string[]) : [];
    }
    this.pendingChunks = null;
    this.pending = null;
    this.raft = new RaftNode({ id: this.id, storage: this.storage, electionTimeoutTicks: 10, heartbeatIntervalTicks: 1, rng, ...this.options.node });
    this.appliedIndex = this.raft.status().applied;
    return this.raft;
  }

  /** Handle one Ready in the documented order; pushes the messages to send onto `out` and returns it. */
  handleReady(out: Message[] = []): Message[] {
    this.takeReady(out);
    this.finishReady(out);
    return out;
  }

  /** Step 1: take a Ready and push the messages that may leave at once onto `out`. */
  takeReady(out: Message[]): Ready {
    assert(this.pending === null, 'takeReady with a Ready already in flight');
    const r = this.raft.ready();
    if (this.record) this.readies.push(r);
    for (const m of r.messages) out.push(m);
    this.pending = r;
    return r;
  }

  /** Steps 2-5 for the Ready taken: persist, push messagesAfterPersist onto `out`, apply, advance. */
  finishReady(out: Message[]): void {
    const r = this.pending;
    assert(r !== null, 'finishReady without a Ready in flight');
    this.pending = null;
    let snapshotData: Uint8Array = EMPTY_BYTES;
    for (const c of r.snapshotChunks) {
      if (c.offset === 0) this.pendingChunks = { index: c.index, parts: [] };
      assert(this.pendingChunks !== null && this.pendingChunks.index === c.index, 'chunk for an unknown pending snapshot');
      this.pendingChunks.parts.push(c.data.slice());
    }
    if (r.snapshot !== undefined) {
      assert(this.pendingChunks !== null && this.pendingChunks.index === r.snapshot.index, 'snapshot without its chunks');
      snapshotData = concat(this.pendingChunks.parts);
      this.pendingChunks = null;
    }
    persistReady(this.storage, r, snapshotData);
    if (r.snapshot !== undefined) {
      if (this.record) this.appliedData = snapshotData.length > 0 ? (JSON.parse(text(snapshotData)) as string[]) : [];
      this.appliedIndex = r.snapshot.index;
    }
    for (const m of r.messagesAfterPersist) out.push(m);
    const onApply = this.options.onApply;
    for (const e of r.committedEntries) {
      if (onApply !== undefined) onApply(this, e);
      // (The message is built only on failure: this runs for every entry of a benchmark.)
      if (e.index !== this.appliedIndex + 1) assert(false, `applying ${e.index} after ${this.appliedIndex}`);
      this.appliedIndex = e.index;
      if (this.record) {
        this.applied.push(e);
        if (e.type === EntryType.Normal && e.data.length > 0) this.appliedData.push(text(e.data));
      }
    }
    for (const s of r.readStates) this.readStates.push(s);
    this.raft.advance(r);
    if (this.record) {
      const conf = this.raft.confState;
      if (this.confHistory.at(-1) !== conf) this.confHistory.push(conf);
    }
    const auto = this.options.autoCompact;
    if (auto !== undefined && this.appliedIndex - this.storage.snapshotMetadata().index >= auto.everyEntries) {
      this.storage.createSnapshot(this.appliedIndex, this.raft.confState, this.snapshotData());
      this.storage.compact(this.appliedIndex - auto.tailKeptEntries);
    }
  }

  /** Snapshot the state machine at its applied index and compact the log. */
  compact(): void {
    this.storage.createSnapshot(this.appliedIndex, this.raft.confState, this.snapshotData());
    this.storage.compact(this.appliedIndex);
  }

  private snapshotData(): Uint8Array {
    return this.record ? bytes(JSON.stringify(this.appliedData)) : EMPTY_BYTES;
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const data = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.length;
  }
  return data;
}

export interface NetworkOptions {
  /** Seed of the first node's RNG; each node and each restart takes the next one. Default 1. */
  seed?: number;
  node?: NodeOptions;
  /** Per-node overrides. */
  perNode?: Record<NodeId, NodeOptions>;
  /** Record histories for assertions (`delivered`, and each host's; see HostOptions.record). Default true. */
  record?: boolean;
  autoCompact?: HostOptions['autoCompact'];
}

export class RaftNetwork {
  readonly hosts = new Map<NodeId, MemoryHost>();
  private readonly cutLinks = new Set<string>();
  private readonly isolated = new Set<NodeId>();
  private readonly down = new Set<NodeId>();
  /** Drop messages matching this predicate (in addition to cut links). */
  dropIf: ((m: Message) => boolean) | null = null;
  /** Every message delivered, for assertions (when recording). */
  delivered: Message[] = [];
  private readonly record: boolean;
  private seed: number;

  constructor(ids: readonly NodeId[], readonly options: NetworkOptions = {}) {
    this.seed = options.seed ?? 1;
    this.record = options.record ?? true;
    for (const id of ids) this.addHost(id, MemoryStorage.bootstrap(ids));
  }

  addHost(id: NodeId, storage: MemoryStorage): MemoryHost {
    const node = { ...this.options.node, ...this.options.perNode?.[id] };
    const options: HostOptions = { node, record: this.record, ...(this.options.autoCompact !== undefined ? { autoCompact: this.options.autoCompact } : {}) };
    const host = new MemoryHost(id, storage, options, new Prng(this.seed++));
    this.hosts.set(id, host);
    return host;
  }

  host(id: NodeId): MemoryHost {
    const h = this.hosts.get(id);
    if (h === undefined) assert(false, `no node ${id}`);
    return h;
  }

  node(id: NodeId): RaftNode {
    return this.host(id).raft;
  }

  private linkKey(from: NodeId, to: NodeId): string {
    return `${from}->${to}`;
  }

  /** Drop messages in both directions between a and b. */
  cut(a: NodeId, b: NodeId): void {
    this.cutLinks.add(this.linkKey(a, b));
    this.cutLinks.add(this.linkKey(b, a));
  }

  /** Drop messages from a to b only. */
  cutOneWay(from: NodeId, to: NodeId): void {
    this.cutLinks.add(this.linkKey(from, to));
  }

  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  recover(): void {
    this.cutLinks.clear();
    this.isolated.clear();
    this.dropIf = null;
  }

  /** Crash a node: it loses everything not in its storage. */
  crash(id: NodeId): void {
    this.down.add(id);
  }

  restart(id: NodeId): void {
    this.down.delete(id);
    this.host(id).start(new Prng(this.seed++));
  }

  private blocked(m: Message): boolean {
    if (this.down.has(m.to) || this.down.has(m.from)) return true;
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return true;
    if (this.cutLinks.size > 0 && this.cutLinks.has(this.linkKey(m.from, m.to))) return true;
    return this.dropIf !== null && this.dropIf(m);
  }

  /** Handle every Ready and deliver every message until the cluster is quiet. */
  settle(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      const queue: Message[] = [];
      for (const [id, h] of this.hosts) {
        if (this.down.has(id)) continue;
        while (h.raft.hasReady()) h.handleReady(queue);
      }
      if (queue.length === 0) return;
      for (const m of queue) this.deliver(m);
    }
    throw new Error(`cluster did not settle within ${maxRounds} rounds`);
  }

  deliver(m: Message): void {
    if (this.blocked(m)) return;
    const h = this.hosts.get(m.to);
    if (h === undefined) return;
    if (this.record) this.delivered.push(m);
    h.raft.step(m);
  }

  /** Tick every live node once, then settle. */
  tick(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const [id, h] of this.hosts) if (!this.down.has(id)) h.raft.tick();
      this.settle();
    }
  }

  /** Make `id` campaign and settle. */
  campaign(id: NodeId): void {
    this.node(id).campaign();
    this.settle();
  }

  /** The leader with the highest term among live nodes, if any. */
  leader(): NodeId | null {
    let best: NodeId | null = null;
    let bestTerm = -1;
    for (const [id, h] of this.hosts) {
      if (this.down.has(id)) continue;
      const s = h.raft.status();
      if (s.role === Role.Leader && s.term > bestTerm) {
        best = id;
        bestTerm = s.term;
      }
    }
    return best;
  }

  /** Tick until some node leads (bounded). */
  electLeader(maxTicks = 200): NodeId {
    for (let i = 0; i < maxTicks; i++) {
      const l = this.leader();
      if (l !== null) return l;
      this.tick();
    }
    throw new Error('no leader elected');
  }

  /**
   * Propose, settle, and tick once: followers learn a new commit index from
   * the next append or heartbeat (leader.ts sendAppends), so after this every
   * live member that is caught up has applied it.
   */
  propose(id: NodeId, data: string): void {
    this.node(id).propose(bytes(data));
    this.settle();
    this.tick();
  }
}
