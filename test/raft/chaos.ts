/**
 * Randomized safety check of the core under an asynchronous host: each node
 * sends `messages` as soon as it takes a Ready but persists it (and sends
 * `messagesAfterPersist`, applies, advances) only some random time later,
 * while it keeps stepping incoming messages. Messages are reordered, dropped
 * and duplicated; nodes crash (losing the unpersisted Ready) and restart;
 * logs are compacted; membership changes. Checked throughout: one leader per
 * term, and every node applies the same entry at each index. After healing,
 * the cluster must elect a leader and commit a new proposal.
 *
 * (The whole-cluster simulator in test/sim goes further; this is the core's
 * own quick guard.)
 */
import assert from 'node:assert/strict';
import {
  ConfChangeType,
  EntryType,
  InvalidConfChangeError,
  MemoryStorage,
  ProposalDroppedError,
  Role,
  type ConfChange,
  type Message,
} from '../../src/raft/index.js';
import { Prng } from '../../src/common/rng.js';
import { MemoryHost, type HostOptions } from '../../src/testing/raft-network.js';

/** Changes that move `spare` (not initially a member) and `last` (an initial voter) in and out. */
function confChanges(last: string, spare: string): ConfChange[] {
  return [
    { changes: [{ type: ConfChangeType.AddLearner, nodeId: spare }] },
    { changes: [{ type: ConfChangeType.AddVoter, nodeId: spare }] },
    { changes: [{ type: ConfChangeType.RemoveNode, nodeId: spare }] },
    { changes: [{ type: ConfChangeType.AddVoter, nodeId: spare }, { type: ConfChangeType.RemoveNode, nodeId: last }] },
    { changes: [{ type: ConfChangeType.AddVoter, nodeId: last }, { type: ConfChangeType.RemoveNode, nodeId: spare }] },
    { changes: [{ type: ConfChangeType.AddVoter, nodeId: last }] },
  ];
}

export function runSeed(seed: number, steps: number, unsafe = false): { applied: number; terms: number; snapshots: number } {
  const rng = new Prng(seed * 7919 + 1);
  // Every fourth seed runs five initial voters, the others three; one more node can join.
  const IDS = seed % 4 === 0 ? ['a', 'b', 'c', 'd', 'e', 'f'] : ['a', 'b', 'c', 'd'];
  const INITIAL = IDS.slice(0, -1);
  const changes = confChanges(INITIAL.at(-1)!, IDS.at(-1)!);
  const chance = (p: number) => rng.nextInt(1_000_000) < p * 1_000_000;
  const hosts = new Map<string, MemoryHost>();
  const leadersByTerm = new Map<number, string>();
  const appliedAt = new Map<number, string>(); // index -> "term:type:data"
  const pool: Message[] = [];
  let seq = 0;
  let snapshots = 0;
  const trace: string[] = [];

  const options: HostOptions = {
    node: {
      // Short, varied timeouts for frequent, contested elections.
      electionTimeoutTicks: 3 + (seed % 8),
      heartbeatIntervalTicks: 1 + (seed % 2),
      snapshotChunkBytesMax: 8,
      inflightAppendsMax: 4,
      appendBytesMax: 64,
      preVote: seed % 2 === 0,
      checkQuorum: seed % 3 !== 0,
      testingOnlyUnsafe: { countStaleVotes: unsafe },
    },
    // Snapshots here hold random bytes, not the toy state machine's.
    record: false,
    onApply: (h, e) => {
      assert.equal(e.index, h.appliedIndex + 1, `seed ${seed}: ${h.id} applies ${e.index} after ${h.appliedIndex}`);
      const sig = `${e.term}:${e.type}:${new TextDecoder().decode(e.data)}`;
      const prev = appliedAt.get(e.index);
      assert.ok(prev === undefined || prev === sig, `seed ${seed}: ${h.id} applied ${sig} at ${e.index}, another node applied ${prev}\n${trace.slice(-40).join('\n')}`);
      appliedAt.set(e.index, sig);
    },
  };
  /** Crash and restart: the Ready in flight is lost; the node starts over from storage. */
  const start = (h: MemoryHost) => h.start(new Prng(seed * 31 + seq++));
  for (const id of IDS) {
    const storage = INITIAL.includes(id) ? MemoryStorage.bootstrap(INITIAL) : new MemoryStorage();
    hosts.set(id, new MemoryHost(id, storage, options, new Prng(seed * 31 + seq++)));
  }

  const check = () => {
    for (const h of hosts.values()) {
      const s = h.raft.status();
      if (s.role === Role.Leader) {
        const other = leadersByTerm.get(s.term);
        assert.ok(other === undefined || other === h.id, `seed ${seed}: two leaders in term ${s.term}: ${other} and ${h.id}\n${trace.slice(-30).join('\n')}`);
        leadersByTerm.set(s.term, h.id);
      }
    }
  };

  const finishReady = (h: MemoryHost) => {
    if (h.pending!.snapshot !== undefined) snapshots++;
    h.finishReady(pool);
  };

  const hostStep = (h: MemoryHost, heal: boolean) => {
    if (h.pending !== null && (heal || chance(0.5))) finishReady(h);
    if (h.pending === null && h.raft.hasReady()) {
      h.takeReady(pool);
      if (heal) finishReady(h);
    }
  };

  const deliverOne = (heal: boolean) => {
    if (pool.length === 0) return;
    const i = heal ? 0 : rng.nextInt(pool.length);
    const m = pool[i]!;
    pool.splice(i, 1);
    if (!heal && chance(0.1)) return; // lost
    if (!heal && chance(0.05)) pool.push(m); // duplicated
    const to = hosts.get(m.to)!;
    if (!heal && partitioned(m.from, m.to)) return;
    trace.push(`${m.from}->${m.to} ${m.type} t${m.term}`);
    to.raft.step(m);
  };

  let partition: Set<string> | null = null;
  const partitioned = (a: string, b: string) => partition !== null && partition.has(a) !== partition.has(b);

  for (let step = 0; step < steps; step++) {
    const action = rng.nextInt(100);
    if (action < 45) deliverOne(false);
    else if (action < 65) {
      for (const h of hosts.values()) hostStep(h, false);
    } else if (action < 80) {
      for (const h of hosts.values()) h.raft.tick();
    } else if (action < 90) {
      // Clients mostly find the leader.
      const leader = [...hosts.values()].find((x) => x.raft.status().role === Role.Leader);
      const h = leader !== undefined && chance(0.8) ? leader : hosts.get(IDS[rng.nextInt(IDS.length)]!)!;
      try {
        h.raft.propose(new TextEncoder().encode(`${seed}-${step}`));
      } catch (e) {
        if (!(e instanceof ProposalDroppedError)) throw e;
      }
    } else if (action < 92) {
      const h = hosts.get(IDS[rng.nextInt(IDS.length)]!)!;
      const cc = changes[rng.nextInt(changes.length)]!;
      try {
        h.raft.proposeConfChange(cc);
      } catch (e) {
        if (!(e instanceof ProposalDroppedError) && !(e instanceof InvalidConfChangeError)) throw e;
      }
    } else if (action < 94) {
      // Crash: the Ready in flight is lost; restart from storage.
      const h = hosts.get(IDS[rng.nextInt(IDS.length)]!)!;
      trace.push(`crash ${h.id}`);
      start(h);
    } else if (action < 96) {
      const h = hosts.get(IDS[rng.nextInt(IDS.length)]!)!;
      const applied = h.raft.status().applied;
      if (applied > h.storage.firstIndex() + 2 && h.pending === null) {
        h.storage.createSnapshot(applied, h.raft.status().conf, new Uint8Array(rng.nextInt(40)));
        h.storage.compact(applied - rng.nextInt(3));
      }
    } else if (action < 98) {
      partition = chance(0.5) ? new Set([IDS[rng.nextInt(IDS.length)]!]) : null;
    } else {
      const h = hosts.get(IDS[rng.nextInt(IDS.length)]!)!;
      if (chance(0.3)) h.raft.campaign();
    }
    check();
  }

  // Heal: no loss, no partition; the cluster must make progress.
  partition = null;
  let committedAfterHeal = false;
  for (let round = 0; round < 600 && !committedAfterHeal; round++) {
    for (const h of hosts.values()) h.raft.tick();
    for (let k = 0; k < 200; k++) {
      for (const h of hosts.values()) hostStep(h, true);
      if (pool.length === 0) break;
      while (pool.length > 0) deliverOne(true);
    }
    check();
    for (const h of hosts.values()) {
      if (h.raft.status().role !== Role.Leader) continue;
      try {
        const p = h.raft.propose(new TextEncoder().encode(`final-${seed}`));
        for (let k = 0; k < 50; k++) {
          for (const x of hosts.values()) hostStep(x, true);
          while (pool.length > 0) deliverOne(true);
        }
        if (appliedAt.get(p.index) === `${p.term}:${EntryType.Normal}:final-${seed}`) committedAfterHeal = true;
      } catch (e) {
        if (!(e instanceof ProposalDroppedError)) throw e;
      }
    }
  }
  assert.ok(committedAfterHeal, `seed ${seed}: no progress after healing\n${[...hosts.values()].map((h) => JSON.stringify({ ...h.raft.status(), progress: undefined })).join('\n')}`);
  return { applied: appliedAt.size, terms: leadersByTerm.size, snapshots };
}

