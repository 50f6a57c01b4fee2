/** Helpers for driving a single RaftNode by hand in rule tests. */
import {
  EntryType,
  MemoryStorage,
  MessageType,
  RaftNode,
  type AppendEntriesMessage,
  type Entry,
  type Message,
  type NodeId,
  type RaftConfig,
  type Ready,
} from '../../src/raft/index.js';
import { Prng } from '../../src/common/rng.js';
import { drainReady } from '../../src/testing/raft-network.js';

export interface NodeSetup {
  voters?: NodeId[];
  /** Terms of the entries after the bootstrap entry (index 2, 3, ...). */
  terms?: number[];
  term?: number;
  vote?: NodeId | null;
  commit?: number;
  config?: Partial<RaftConfig>;
}

export function entry(index: number, term: number, data = ''): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) };
}

/** A node whose storage holds the bootstrap entry (index 1, term 1) then entries of the given terms. */
export function makeNode(id: NodeId, setup: NodeSetup = {}): { node: RaftNode; storage: MemoryStorage } {
  const voters = setup.voters ?? ['a', 'b', 'c'];
  const storage = MemoryStorage.bootstrap(voters);
  const terms = setup.terms ?? [];
  storage.append(terms.map((t, i) => entry(i + 2, t)));
  const term = Math.max(setup.term ?? 1, ...terms, 1);
  storage.setHardState({ term, vote: setup.vote ?? null, commit: Math.max(1, setup.commit ?? 1) });
  const node = new RaftNode({
    id,
    storage,
    electionTimeoutTicks: 10,
    heartbeatIntervalTicks: 1,
    rng: new Prng(42),
    applied: 1,
    ...setup.config,
  });
  return { node, storage };
}

/** Take a Ready, persist it into `storage`, advance; returns the Ready. */
export const drain = drainReady;

export function appendMsg(from: NodeId, to: NodeId, term: number, prevLogIndex: number, prevLogTerm: number, entryTerms: number[] = [], leaderCommit = 0): AppendEntriesMessage {
  return {
    type: MessageType.AppendEntries,
    from,
    to,
    term,
    prevLogIndex,
    prevLogTerm,
    entries: entryTerms.map((t, i) => entry(prevLogIndex + 1 + i, t)),
    leaderCommit,
  };
}

export function allMessages(r: Ready): Message[] {
  return [...r.messages, ...r.messagesAfterPersist];
}

/** Terms of the node's whole log (index 1..last), read through status and storage after draining. */
export function logTerms(storage: MemoryStorage): number[] {
  const out: number[] = [];
  for (let i = storage.firstIndex(); i <= storage.lastIndex(); i++) out.push(storage.term(i));
  return out;
}
