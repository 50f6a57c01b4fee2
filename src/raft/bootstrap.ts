/**
 * How a brand-new cluster starts: every initial member's storage holds one
 * committed ConfChange entry (index 1, term 1) adding the initial voters, and
 * a hard state with term 1 and commit 1 (etcd bootstraps the same way).
 * Keeping the initial configuration in the log, rather than only in storage
 * metadata, means a node that joins later learns it by replication like any
 * other entry. A joining node starts with empty storage.
 */
import { ConfChangeType, encodeConfChange } from './confchange.js';
import { EntryType, type Entry, type HardState, type NodeId } from './types.js';

export function bootstrapState(voters: readonly NodeId[], learners: readonly NodeId[] = []): { entries: Entry[]; hardState: HardState } {
  const changes = [
    ...voters.map((nodeId) => ({ type: ConfChangeType.AddVoter, nodeId })),
    ...learners.map((nodeId) => ({ type: ConfChangeType.AddLearner, nodeId })),
  ];
  const entry: Entry = { index: 1, term: 1, type: EntryType.ConfChange, data: encodeConfChange({ changes }) };
  return { entries: [entry], hardState: { term: 1, vote: null, commit: 1 } };
}
