/**
 * Raft core throughput: a 3-node cluster in one process, instant message
 * delivery, no disk (MemoryStorage), 100-byte payloads. Reports committed
 * entries per second (as applied by the leader) with 1 and with 256
 * proposals in flight.
 *
 *   npm run bench:raft            # table
 *   npm run bench:raft -- --json  # one JSON object per case
 */
import { RaftNetwork, type MemoryHost } from '../src/testing/raft-network.js';

const PAYLOAD_BYTES = 100;
const IDS = ['n1', 'n2', 'n3'] as const;

/** A cluster on the shared in-memory host (src/testing), recording nothing, compacting as a real host does. */
function newCluster(): RaftNetwork {
  return new RaftNetwork(IDS, {
    seed: 7,
    record: false,
    node: { inflightAppendsMax: 256, uncommittedEntriesBytesMax: 1 << 30 },
    // Like a real host, snapshot now and then and keep a bounded tail of log behind it.
    autoCompact: { everyEntries: 50_000, tailKeptEntries: 10_000 },
  });
}

function electLeader(cluster: RaftNetwork): MemoryHost {
  cluster.campaign('n1');
  return cluster.host(cluster.electLeader(100));
}

function runCase(inflight: number, totalEntries: number): { entriesPerSec: number; entries: number; seconds: number } {
  const cluster = newCluster();
  const leader = electLeader(cluster);
  cluster.settle();
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(0x61);
  const startApplied = leader.appliedIndex;
  let proposed = 0;
  let lastProposedIndex = leader.raft.status().lastIndex;
  const start = process.hrtime.bigint();
  while (leader.appliedIndex - startApplied < totalEntries) {
    // Keep `inflight` proposals outstanding (proposed but not yet applied by the leader).
    while (proposed < totalEntries && lastProposedIndex - leader.appliedIndex < inflight) {
      lastProposedIndex = leader.raft.propose(payload).index;
      proposed++;
    }
    cluster.settle();
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const entries = leader.appliedIndex - startApplied;
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
