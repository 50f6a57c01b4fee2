/**
 * A small synchronous test network for the Raft core: every node is a
 * RaftNode over a MemoryStorage with a host loop that handles each Ready in
 * the documented order. Messages are delivered in FIFO order until the
 * cluster is quiet; links can be dropped (`cut`, `isolate`, `drop`) and
 * restored (`recover`).
 */
import { assert } from '../../src/common/errors.js';
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
  type ReadState,
  type Ready,
} from '../../src/raft/index.js';

/** A deterministic RNG (mulberry32). */
export function seededRng(seed: number): { nextInt(n: number): number } {
  let a = seed >>> 0;
  return {
    nextInt(n: number): number {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      return Math.floor(r * n);
    },
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const bytes = (s: string): Uint8Array => encoder.encode(s);
export const text = (b: Uint8Array): string => decoder.decode(b);

export type NodeOptions = Partial<Omit<RaftConfig, 'id' | 'storage' | 'rng'>>;

export class TestHost {
  raft: RaftNode;
  /** Normal entries applied, as text, in order (the toy state machine). */
  appliedData: string[] = [];
  appliedIndex = 0;
  /** Every committed entry handed out, in order. */
  applied: Entry[] = [];
  readStates: ReadState[] = [];
  readies: Ready[] = [];
  /** Every configuration this node went through (recorded after each advance). */
  confHistory: ConfState[] = [];
  /** Incoming snapshot being assembled from chunks. */
  private pendingChunks: { index: number; parts: Uint8Array[] } | null = null;

  constructor(readonly id: NodeId, public storage: MemoryStorage, readonly options: NodeOptions, seed: number) {
    this.raft = this.start(seed);
  }

  start(seed: number): RaftNode {
    const snap = this.storage.snapshotMetadata();
    // The state machine restarts from the snapshot (it is not durable on its own).
    const data = this.storage.snapshotBytes();
    this.appliedData = snap.index > 0 && data.length > 0 ? (JSON.parse(text(data)) as string[]) : [];
    this.appliedIndex = snap.index;
    this.pendingChunks = null;
    this.raft = new RaftNode({
      id: this.id,
      storage: this.storage,
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 1,
      rng: seededRng(seed),
      ...this.options,
    });
    return this.raft;
  }

  /** Handle one Ready in the documented order; returns the messages to deliver. */
  handleReady(): Message[] {
    const r = this.raft.ready();
    this.readies.push(r);
    const out: Message[] = [...r.messages];
    for (const c of r.snapshotChunks) {
      if (c.offset === 0) this.pendingChunks = { index: c.index, parts: [] };
      assert(this.pendingChunks !== null && this.pendingChunks.index === c.index, 'chunk for an unknown pending snapshot');
      this.pendingChunks.parts.push(c.data.slice());
    }
    if (r.snapshot !== undefined) {
      assert(this.pendingChunks !== null && this.pendingChunks.index === r.snapshot.index, 'snapshot without its chunks');
      const total = this.pendingChunks.parts.reduce((n, p) => n + p.length, 0);
      const data = new Uint8Array(total);
      let off = 0;
      for (const p of this.pendingChunks.parts) {
        data.set(p, off);
        off += p.length;
      }
      this.pendingChunks = null;
      this.storage.applySnapshot(r.snapshot, data);
      this.appliedData = data.length > 0 ? (JSON.parse(text(data)) as string[]) : [];
      this.appliedIndex = r.snapshot.index;
    }
    this.storage.append(r.entries);
    if (r.hardState !== undefined) this.storage.setHardState(r.hardState);
    out.push(...r.messagesAfterPersist);
    for (const e of r.committedEntries) {
      assert(e.index === this.appliedIndex + 1, `applying ${e.index} after ${this.appliedIndex}`);
      this.appliedIndex = e.index;
      this.applied.push(e);
      if (e.type === EntryType.Normal && e.data.length > 0) this.appliedData.push(text(e.data));
    }
    this.readStates.push(...r.readStates);
    this.raft.advance(r);
    const conf = this.raft.status().conf;
    if (this.confHistory.at(-1) !== conf) this.confHistory.push(conf);
    return out;
  }

  /** Snapshot the toy state machine at its applied index and compact the log. */
  compact(): void {
    this.storage.createSnapshot(this.appliedIndex, this.raft.status().conf, bytes(JSON.stringify(this.appliedData)));
    this.storage.compact(this.appliedIndex);
  }
}

export interface NetworkOptions {
  seed?: number;
  node?: NodeOptions;
  /** Per-node overrides. */
  perNode?: Record<NodeId, NodeOptions>;
}

export class TestNetwork {
  readonly hosts = new Map<NodeId, TestHost>();
  private readonly cutLinks = new Set<string>();
  private readonly isolated = new Set<NodeId>();
  private readonly down = new Set<NodeId>();
  /** Drop messages matching this predicate (in addition to cut links). */
  dropIf: ((m: Message) => boolean) | null = null;
  /** Every message delivered, for assertions. */
  delivered: Message[] = [];
  private seed: number;

  constructor(ids: readonly NodeId[], readonly options: NetworkOptions = {}) {
    this.seed = options.seed ?? 1;
    for (const id of ids) this.addHost(id, MemoryStorage.bootstrap(ids));
  }

  addHost(id: NodeId, storage: MemoryStorage): TestHost {
    const host = new TestHost(id, storage, { ...this.options.node, ...this.options.perNode?.[id] }, this.seed++);
    this.hosts.set(id, host);
    return host;
  }

  host(id: NodeId): TestHost {
    const h = this.hosts.get(id);
    assert(h !== undefined, `no node ${id}`);
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
    this.host(id).start(this.seed++);
  }

  private blocked(m: Message): boolean {
    if (this.down.has(m.to) || this.down.has(m.from)) return true;
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return true;
    if (this.cutLinks.has(this.linkKey(m.from, m.to))) return true;
    return this.dropIf !== null && this.dropIf(m);
  }

  /** Handle every Ready and deliver every message until the cluster is quiet. */
  settle(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      const queue: Message[] = [];
      for (const [id, h] of this.hosts) {
        if (this.down.has(id)) continue;
        while (h.raft.hasReady()) queue.push(...h.handleReady());
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
    this.delivered.push(m);
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
   * the next append or heartbeat (RaftNode.sendAppends), so after this every
   * live member that is caught up has applied it.
   */
  propose(id: NodeId, data: string): void {
    this.node(id).propose(bytes(data));
    this.settle();
    this.tick();
  }
}
