/**
 * Raft core throughput: a 3-node cluster in one process, instant message
 * delivery, no disk (MemoryStorage), 100-byte payloads. Reports committed
 * entries per second (as applied by the leader) with 1 and with 256
 * proposals in flight.
 *
 *   npm run bench:raft            # table
 *   npm run bench:raft -- --json  # one JSON object per case
 */
import { MemoryStorage, RaftNode, Role, type Message } from '../src/raft/index.js';

const PAYLOAD_BYTES = 100;
const IDS = ['n1', 'n2', 'n3'] as const;
const COMPACT_EVERY_ENTRIES = 50_000;
const LOG_TAIL_KEPT_ENTRIES = 10_000;
const SNAPSHOT_BYTES = new Uint8Array(0);

function rng(seed: number): { nextInt(n: number): number } {
  let s = seed >>> 0;
  return {
    nextInt(n: number): number {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s % n;
    },
  };
}

interface Host {
  node: RaftNode;
  storage: MemoryStorage;
  applied: number;
}

class Cluster {
  readonly hosts = new Map<string, Host>();
  private queue: Message[] = [];

  constructor() {
    let seed = 7;
    for (const id of IDS) {
      const storage = MemoryStorage.bootstrap(IDS);
      const node = new RaftNode({
        id,
        storage,
        electionTimeoutTicks: 10,
        heartbeatIntervalTicks: 1,
        rng: rng(seed++),
        inflightAppendsMax: 256,
        uncommittedEntriesBytesMax: 1 << 30,
      });
      this.hosts.set(id, { node, storage, applied: 0 });
    }
  }

  /** Handle every Ready and deliver every message until quiet. */
  pump(): void {
    for (;;) {
      let work = false;
      for (const h of this.hosts.values()) {
        if (!h.node.hasReady()) continue;
        work = true;
        const r = h.node.ready();
        for (const m of r.messages) this.queue.push(m);
        h.storage.append(r.entries);
        if (r.hardState !== undefined) h.storage.setHardState(r.hardState);
        for (const m of r.messagesAfterPersist) this.queue.push(m);
        const n = r.committedEntries.length;
        if (n > 0) h.applied = r.committedEntries[n - 1]!.index;
        h.node.advance(r);
        // Like a real host, snapshot now and then and keep a bounded tail of log behind it.
        if (h.applied - h.storage.snapshotMetadata().index >= COMPACT_EVERY_ENTRIES) {
          h.storage.createSnapshot(h.applied, h.node.status().conf, SNAPSHOT_BYTES);
          h.storage.compact(h.applied - LOG_TAIL_KEPT_ENTRIES);
        }
      }
      if (this.queue.length > 0) {
        work = true;
        const q = this.queue;
        this.queue = [];
        for (const m of q) this.hosts.get(m.to)!.node.step(m);
      }
      if (!work) return;
    }
  }

  electLeader(): Host {
    this.pump();
    this.hosts.get('n1')!.node.campaign();
    for (let i = 0; i < 100; i++) {
      this.pump();
      for (const h of this.hosts.values()) if (h.node.status().role === Role.Leader) return h;
      for (const h of this.hosts.values()) h.node.tick();
    }
    throw new Error('no leader');
  }
}

function runCase(inflight: number, totalEntries: number): { entriesPerSec: number; entries: number; seconds: number } {
  const cluster = new Cluster();
  const leader = cluster.electLeader();
  cluster.pump();
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(0x61);
  const startApplied = leader.applied;
  let proposed = 0;
  let lastProposedIndex = leader.node.status().lastIndex;
  const start = process.hrtime.bigint();
  while (leader.applied - startApplied < totalEntries) {
    // Keep `inflight` proposals outstanding (proposed but not yet applied by the leader).
    while (proposed < totalEntries && lastProposedIndex - leader.applied < inflight) {
      lastProposedIndex = leader.node.propose(payload).index;
      proposed++;
    }
    cluster.pump();
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const entries = leader.applied - startApplied;
  return { entriesPerSec: entries / seconds, entries, seconds };
}

const json = process.argv.includes('--json');
const cases = [
  { inflight: 1, entries: 50_000 },
  { inflight: 256, entries: 1_000_000 },
];
// Warm up the JIT so that both cases measure steady state.
runCase(256, 100_000);
runCase(1, 5_000);
if (!json) console.log('case                         entries    seconds   entries/s');
for (const c of cases) {
  const r = runCase(c.inflight, c.entries);
  if (json) {
    console.log(JSON.stringify({ bench: 'raft', nodes: 3, payloadBytes: PAYLOAD_BYTES, inflight: c.inflight, entries: r.entries, seconds: Number(r.seconds.toFixed(3)), entriesPerSec: Math.round(r.entriesPerSec) }));
  } else {
    console.log(`3 nodes, ${String(c.inflight).padStart(3)} in flight       ${String(r.entries).padStart(8)}   ${r.seconds.toFixed(3).padStart(7)}   ${Math.round(r.entriesPerSec).toLocaleString('en-US').padStart(10)}`);
  }
}
