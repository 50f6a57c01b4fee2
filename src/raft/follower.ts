/**
 * The follower's and the candidate's side of the protocol, as functions of
 * the node's state (etcd's `stepFollower(r, m)` / `stepCandidate(r, m)`): the
 * AppendEntries and heartbeat receiver (paper Figure 2), the InstallSnapshot
 * receiver (thesis Figure 5.3, one chunk at a time), and vote counting.
 * Every answer that promises durable state goes through `r.respond`, so it
 * leaves only after the Ready that holds that state is persisted.
 */
import { MessageType, type AppendEntriesMessage, type HeartbeatMessage, type InstallSnapshotMessage, type Message } from './messages.js';
import type { Raft } from './raft.js';
import { Role } from './ready.js';
import type { NodeId } from './types.js';

/** The snapshot a follower is receiving. A transfer is identified by its sender and term as well as the snapshot. */
export interface IncomingSnapshot {
  readonly index: number;
  readonly term: number;
  readonly from: NodeId;
  readonly leaderTerm: number;
  /** Bytes received (and handed to the host) so far: the offset the next chunk must start at. */
  receivedBytes: number;
}

export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.AppendEntries:
      r.electionElapsedTicks = 0;
      r.leader = m.from;
      handleAppendEntries(r, m);
      return;
    case MessageType.Heartbeat:
      r.electionElapsedTicks = 0;
      r.leader = m.from;
      handleHeartbeat(r, m);
      return;
    case MessageType.InstallSnapshot:
      r.electionElapsedTicks = 0;
      r.leader = m.from;
      handleSnapshotChunk(r, m);
      return;
    case MessageType.TimeoutNow:
      // Leadership transfer (thesis §3.10): start an election at once, skipping pre-vote.
      r.campaign(true);
      return;
    case MessageType.ReadIndexResponse:
      r.readStates.push({ index: m.index, context: m.context });
      return;
    case MessageType.TransferLeader:
      if (r.leader !== null) r.send({ ...m, from: r.id, to: r.leader, term: r.term });
      return;
    default:
      return;
  }
}

export function stepCandidate(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.AppendEntries:
    case MessageType.Heartbeat:
    case MessageType.InstallSnapshot:
      // A leader exists for our term (paper §5.2: "If AppendEntries RPC received from new leader: convert to follower").
      r.becomeFollower(r.term, m.from);
      stepFollower(r, m);
      return;
    case MessageType.RequestVoteResponse:
      if (r.role !== Role.Candidate) return;
      r.recordVote(m.from, m.granted);
      return;
    case MessageType.RequestPreVoteResponse:
      if (r.role !== Role.PreCandidate) return;
      // Grants echo the term we would campaign in; rejections carry the voter's term.
      if (m.granted ? m.term !== r.term + 1 : m.term !== r.term) return;
      r.recordVote(m.from, m.granted);
      return;
    default:
      return;
  }
}

// ------------------------------------------------------------ replication

function handleAppendEntries(r: Raft, m: AppendEntriesMessage): void {
  const log = r.log;
  if (m.prevLogIndex < log.committed) {
    // Everything up to our commit index matches the leader's log already.
    respondAppend(r, m.from, true, log.committed, 0, 0);
    return;
  }
  if (log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
    log.appendFromLeader(m.entries);
    const lastNew = m.prevLogIndex + m.entries.length;
    // Paper Figure 2 receiver step 5: commitIndex = min(leaderCommit, index of last new entry).
    log.commitTo(Math.min(m.leaderCommit, lastNew));
    respondAppend(r, m.from, true, lastNew, 0, 0);
    return;
  }
  // Reject, with the conflicting term and the first index we hold of it (fast backtracking, §5.3).
  const last = log.lastIndex();
  if (m.prevLogIndex > last) {
    respondAppend(r, m.from, false, m.prevLogIndex, 0, last + 1);
    return;
  }
  const conflictTerm = log.term(m.prevLogIndex);
  let conflictIndex = m.prevLogIndex;
  // Entries at or below the commit index match the leader's, so the search stops there.
  const floor = Math.max(log.committed, log.firstIndex() - 1);
  while (conflictIndex - 1 > floor && log.term(conflictIndex - 1) === conflictTerm) conflictIndex--;
  respondAppend(r, m.from, false, m.prevLogIndex, conflictTerm, conflictIndex);
}

function respondAppend(r: Raft, to: NodeId, success: boolean, index: number, conflictTerm: number, conflictIndex: number): void {
  r.respond({ type: MessageType.AppendEntriesResponse, from: r.id, to, term: r.term, success, index, conflictTerm, conflictIndex });
}

function handleHeartbeat(r: Raft, m: HeartbeatMessage): void {
  // The leader sends min(its commit, our match), which our log holds.
  r.log.commitTo(Math.min(m.commit, r.log.lastIndex()));
  r.respond({ type: MessageType.HeartbeatResponse, from: r.id, to: m.from, term: r.term, context: m.context });
}

// -------------------------------------------------------------- snapshots

/** InstallSnapshot receiver (thesis Figure 5.3), one chunk at a time, acknowledged after persisting. */
function handleSnapshotChunk(r: Raft, m: InstallSnapshotMessage): void {
  const s = m.snapshot;
  const answer = (nextOffset: number, done: boolean): void =>
    r.respond({ type: MessageType.InstallSnapshotResponse, from: r.id, to: m.from, term: r.term, snapshotIndex: s.index, nextOffset, done });
  if (s.index <= r.log.committed) {
    // We already hold (committed) everything the snapshot covers.
    if (r.incomingSnapshot?.index === s.index) r.incomingSnapshot = null;
    answer(0, true);
    return;
  }
  // Another leader's encoding of the same snapshot may differ byte for byte: match sender and term too.
  const same = (q: IncomingSnapshot | null): boolean =>
    q !== null && q.index === s.index && q.term === s.term && q.from === m.from && q.leaderTerm === m.term;
  let p = r.incomingSnapshot;
  if (m.offset === 0 && !same(p)) {
    // A new snapshot replaces any partial one.
    p = r.incomingSnapshot = { index: s.index, term: s.term, from: m.from, leaderTerm: m.term, receivedBytes: 0 };
  }
  if (p === null || !same(p)) {
    answer(0, false);
    return;
  }
  if (m.offset !== p.receivedBytes) {
    answer(p.receivedBytes, false);
    return;
  }
  r.incomingChunks.push({ index: s.index, term: s.term, offset: m.offset, data: m.data, done: m.done });
  p.receivedBytes += m.data.length;
  if (!m.done) {
    answer(p.receivedBytes, false);
    return;
  }
  r.incomingSnapshot = null;
  if (r.log.matchTerm(s.index, s.term)) {
    // Our log already has the snapshot's last entry: keep the entries after it (thesis §5.1 step 6).
    r.log.commitTo(s.index);
  } else {
    r.log.restore(s);
    r.conf = s.conf;
    r.confIndex = s.index;
  }
  answer(p.receivedBytes, true);
}
